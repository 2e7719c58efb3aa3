// The chat application (docs/chat-protocol.md): the application protocols of our users,
// as modules mounted on namespaces chosen in configuration, on top of the persistence
// actor. Each module keeps the little shared state it needs behind its own small lock;
// messages go to the store first and are broadcast once it answered.
#pragma once

#include "actors/server.hpp"
#include "transport/pusher/app.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace chat {

struct chat_options {
  std::string platform_namespace = "/";
  std::string conversations_namespace = "/";
  std::string room_chat_namespace = "/chat";
  std::string admin_namespace = "/admin";
  std::string basic_chat_namespace = "/";                 ///< seed 003's `io()` chat; empty: not mounted
  std::string realtime_namespace = "/";                   ///< seed 001's relays; empty: not mounted
  std::string notifications_namespace = "/notifications"; ///< seed 001's; empty: not mounted
  int rate_limit_per_minute = 10;                         ///< messages a minute per user (or per anonymous connection)
  std::int64_t rate_limit_per_address = 200;              ///< anonymous messages a minute per client address; 0: none
  std::string jwt_secret;                                 ///< empty: anonymous clients accepted
  bool jwt_require_exp = true;                            ///< refuse tokens without exp
  bool open_conversations = true; ///< joining a conversation the backend did not close makes a participant
  std::string admin_token;        ///< empty: only a JWT with role "admin" opens /admin
  std::string api_key;            ///< empty: the backend API answers 503
  std::string pusher_status_channel = "presence-users"; ///< channel that gets user.status.changed; empty: none
  std::string web_root;
  std::string client_bundle;
  std::vector<pusher::app> pusher_apps; ///< the Pusher apps (WebSocket /app/{key}, HTTP API /apps/{id}); none: off
};

struct chat_app;

/// Mounts every module and the HTTP routes. `persistence` is the persistence actor.
/// Throws sio::handler_conflict when two modules mounted on one namespace handle the same
/// event (docs/chat-protocol.md, "Modules and namespaces").
std::shared_ptr<chat_app> mount_chat_app(sio::server& io, caf::actor_system& sys, caf::actor persistence,
                                         chat_options opts);

/// Announces the messages of the chat's state actors (presence, room chat users, rate
/// limit replication) to CAF, so that they cross nodes. Call on the config before the
/// actor system starts.
void announce_chat_state_types(caf::actor_system_config& cfg);

/// `server-shutting-down` {timestamp} to every client of every namespace.
void announce_shutdown(chat_app& app);
/// Waits (at most `limit`) until the presence actor has handled what the shutdown's
/// disconnects told it, so that its last_seen writes are in the store's mailbox before
/// the store's final flush is asked for.
void await_presence_writes(chat_app& app, caf::actor_system& sys, std::chrono::milliseconds limit);

} // namespace chat
