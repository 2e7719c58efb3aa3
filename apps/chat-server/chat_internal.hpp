// The chat application's shared state and the modules' entry points (one file each).
#pragma once

#include "apps/chat-server/chat_app.hpp"
#include "apps/chat-server/chat_util.hpp"
#include "persistence/store.hpp"

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

namespace chat {

struct chat_app {
  chat_app(sio::server& i, caf::actor_system& s, caf::actor p, chat_options o)
      : io(i), sys(s), persistence(std::move(p)), opts(std::move(o)) {}

  sio::server& io;
  caf::actor_system& sys;
  caf::actor persistence;
  const chat_options opts;
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  // -- platform (§1) --
  std::atomic<std::int64_t> platform_sockets{0};
  std::mutex rate_mutex;
  std::unordered_map<std::string, std::deque<std::int64_t>> rate; // key -> send times

  // -- presence and online status (§5) --
  struct presence_member {
    json::object info;
    int sockets = 0;
  };
  std::mutex presence_mutex;
  std::unordered_map<std::string, std::map<std::string, presence_member>> presence; // room -> user
  std::unordered_map<std::string, int> online;                                      // user -> sockets

  // -- room chat (§3) --
  struct chat_user {
    std::string username;
    std::string socket_id;
    std::optional<std::string> room;
  };
  std::mutex users_mutex;
  std::vector<std::string> user_order; // socket ids, in join order
  std::unordered_map<std::string, chat_user> users;
  std::unordered_map<std::string, std::set<std::string>> chat_rooms; // room -> socket ids

  /// Every namespace the app mounted, for the shutdown notice.
  std::set<std::string> namespaces;

  /// Whether `s` passes the rate limit now (and counts this send).
  bool allow_send(const std::string& key);
};

/// Sets the socket's identity from a verified JWT or the handshake auth; the refusal
/// when a JWT is required and missing or bad.
std::optional<sio::connect_error> authenticate(const chat_app& app, sio::socket& s, bool require_admin);
/// Whether `token` is a valid, unexpired JWT signed with the configured secret.
bool authenticate_token(const chat_app& app, const std::string& token);
/// Called when a socket gets a user id (connect or identify): private-user room, online.
void on_identity(chat_app& app, sio::socket& s);
/// Called when a socket of the conversations namespace leaves: offline after the last one.
void on_identity_gone(chat_app& app, sio::socket& s);

void mount_platform(chat_app& app);
void mount_conversations(chat_app& app);
void mount_room_chat(chat_app& app);
void mount_admin(chat_app& app);
void mount_http_api(chat_app& app);

/// The stored message as clients see it (§2).
json::object message_json(const persistence::conversation_message& m);

/// Why a sendMessage / POST payload cannot be stored (the messageError text), or nothing;
/// fills `out` when valid.
std::optional<std::string> parse_new_message(const json::value& payload, std::optional<std::string> conversation_id,
                                             persistence::conversation_message& out);

} // namespace chat
