// Pusher connection actor: one per WebSocket at /app/{key} (Pusher Channels protocol 7).
// Each subscription is a member of the Socket.IO room named by the channel in the app's
// namespace (a socket that takes room broadcasts only); what the room broadcasts, encoded
// for Socket.IO, is re-encoded here as a Pusher event on that channel. Client events
// (`client-*`) go to the room as a Socket.IO event too, so both kinds of members get them.
//
// Takes: ws_in, ws_gone (from the front end); deliver (a channel's broadcast, from
//        namespace and room actors); close_request (terminate_connections, shutdown);
//        its own activity_atom timer.
#pragma once

#include "actors/core.hpp"
#include "actors/messages.hpp"
#include "actors/pusher_server.hpp"

#include <map>
#include <unordered_map>

namespace sio {

using activity_atom = caf::atom_constant<caf::atom("pactivity")>;

/// What every Pusher connection of a server shares.
struct pusher_shared {
  std::shared_ptr<server_core> core;
  pusher::app_registry apps;
  std::string default_nsp;
  pusher_hooks hooks;
  std::unordered_map<std::string, caf::actor> nsp_actors; // namespace name -> actor, set at start

  const std::string& nsp_of(const pusher::app& a) const { return a.nsp.empty() ? default_nsp : a.nsp; }

  // -- signed-in users, for terminate_connections --
  std::mutex users_mutex;
  std::unordered_multimap<std::string, caf::actor> users; // app id + '\n' + user id
  static std::string user_key(const std::string& app_id, const std::string& user_id) {
    return app_id + '\n' + user_id;
  }
};

/// Why an accepted WebSocket is refused at once: pusher:error, then a close with `code`.
struct pusher_refusal {
  int code;
  std::string message;
};

struct pusher_connection_state {
  static inline const char* name = "pusher_connection";

  struct subscription {
    std::uint64_t key;
    std::optional<pusher_member> member; // presence channels
  };

  std::shared_ptr<pusher_shared> shared;
  const pusher::app* app = nullptr;
  bool admitted = false; // counted in the app's connections
  std::string socket_id;
  std::string nsp_name;
  caf::actor nsp;
  std::uint64_t channel = 0;
  http::ws_channel_ptr ws;
  std::map<std::string, subscription> subs;
  std::unordered_map<std::uint64_t, std::string> channel_of; // subscription key -> channel
  std::optional<std::string> user_id;                       // from pusher:signin
  std::map<std::string, int> present_users;                 // user -> presence subscriptions
  std::chrono::steady_clock::time_point last_activity;
  std::optional<std::chrono::steady_clock::time_point> ping_sent;
  std::chrono::steady_clock::time_point window_start; // client-event rate
  int window_events = 0;
  bool ended = false;
};

/// Spawned once the WebSocket is open; `refusal` set when the app or origin was refused.
caf::behavior pusher_connection(caf::stateful_actor<pusher_connection_state>* self,
                                std::shared_ptr<pusher_shared> shared, const pusher::app* app, std::uint64_t channel,
                                http::ws_channel_ptr ws, std::optional<pusher_refusal> refusal);

} // namespace sio
