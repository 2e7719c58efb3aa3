// The chat application's shared state and the modules' entry points (one file each).
#pragma once

#include "actors/pusher_server.hpp"
#include "apps/chat-server/chat_app.hpp"
#include "apps/chat-server/chat_util.hpp"
#include "apps/chat-server/presence_actor.hpp"
#include "apps/chat-server/rate_limiter.hpp"
#include "apps/chat-server/room_chat_users.hpp"
#include "persistence/store.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>
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

  // -- rate limit (send-message, sendMessage, HTTP posts): checked here, at once; in a
  // cluster the replicator tells the other nodes what passed (rate_replicator.hpp) --
  std::shared_ptr<rate_limiter> rate = std::make_shared<rate_limiter>(rate_limit_keys, 60000);
  caf::actor rate_replication;

  // -- state shared by the sockets, in actors (the same messages cross nodes) --
  caf::actor presence;        // presence rooms and online status (§5): presence_actor.hpp
  caf::actor room_chat_users; // the room chat's users (§3): room_chat_users.hpp

  ~chat_app();

  /// The Pusher protocol beside Socket.IO, when pusher apps are configured.
  std::unique_ptr<sio::pusher_server> pusher;

  /// Every namespace the app mounted, for the shutdown notice.
  std::set<std::string> namespaces;

  // -- socket ids: every socket has a room named by its id (socket.io's rule), and what is
  // sent to one socket through a broadcast goes there; a client may not join another's.
  std::mutex socket_ids_mutex;
  std::unordered_set<std::string> socket_ids;
  /// Tracks `s` from now until it disconnects.
  void track_socket_id(sio::socket& s);
  /// Whether `room` is the own room of a connected socket other than `s` (in a cluster:
  /// of this node, or any socket id of another member).
  bool is_other_socket_room(const sio::socket& s, const std::string& room);

  /// Whether `count` more messages from `s` pass the rate limit now (and counts them):
  /// keyed by its verified user, else by its connection and its client address, never by
  /// a name the client picks.
  bool allow_send(sio::socket& s, std::int64_t count = 1);
  /// The same for an HTTP post: by the Bearer token's user, else by the client address.
  bool allow_post(const std::optional<std::string>& verified_user, const std::string& address);
};

// -- authentication (auth.cpp) --

/// Whether identities are verified (a JWT secret is configured).
inline bool verified(const chat_app& app) {
  return !app.opts.jwt_secret.empty();
}

/// What a JWT proves: its user and claims, or why it is refused (`error`, a text that
/// starts with "Authentication error").
struct token_identity {
  std::string user_id;
  json::object claims;
  std::string error;
};
/// Checks a token against the secret (HS256) and the claim rules: exp (required unless
/// jwt-require-exp is false), nbf, and an identity claim (userId | sub | id).
token_identity verify_token(const chat_app& app, std::string_view token);

/// Whether a presented secret (API key, admin token) equals the configured one; the time
/// taken does not depend on where they differ.
bool secret_equals(std::string_view given, std::string_view expected);

/// The refusal of a payload whose `field` (senderId, userId) names another user.
std::string impersonation_error(std::string_view field);
/// With verified identities, the refusal when the id a payload gives as `field` is not
/// the socket's own user; nothing otherwise (anonymous mode takes ids as sent).
std::optional<std::string> not_oneself(const chat_app& app, sio::socket& s, const std::string& id,
                                       std::string_view field);

/// Sets the socket's identity from a verified JWT or the handshake auth; the refusal
/// when a JWT is required and missing or bad.
std::optional<sio::connect_error> authenticate(const chat_app& app, sio::socket& s, bool require_admin);

/// Logs (once, at start) that identities are not verified, when no JWT secret is set.
void warn_if_anonymous(const chat_app& app);
/// One more socket or Pusher connection of `user` on the conversations namespace (told
/// to the presence actor, which announces `user.status.changed` when it is the first).
void user_online(chat_app& app, const std::string& user);
/// One fewer; offline (last_seen stored, `user.status.changed`) after the last.
void user_offline(chat_app& app, const std::string& user);
/// Called when a socket gets a user id (connect or identify): private-user room, online.
void on_identity(chat_app& app, sio::socket& s);
/// Called when a socket of the conversations namespace leaves: offline after the last one.
void on_identity_gone(chat_app& app, sio::socket& s);

// -- presence rooms (presence.cpp; the members live in the presence actor) --

bool is_presence_room(const std::string& room);
/// {user_id, user_info, connected_at}.
json::object member_json(const presence_member& m);
json::array members_json(const presence_list& list);
/// Socket.IO: joins `room` (checks passed), with the presence bookkeeping and answers.
void enter_room(chat_app& app, sio::socket& s, const std::string& room, const sio::ack_responder& ack);
/// Socket.IO: `s` left presence room `room` (the presence actor announces user.left
/// after the user's last socket).
void presence_leave(chat_app& app, sio::socket& s, const std::string& room);
void leave_room(chat_app& app, sio::socket& s, const std::string& room, const sio::ack_responder& ack);

/// How long an HTTP request waits for a state actor (they answer at once; this only
/// bounds a request against an actor that is gone).
inline constexpr std::chrono::seconds state_timeout{5};

/// Asks `dest` from outside any actor (an HTTP handler): a one-shot actor makes the
/// request and runs `ok` or `fail` with the answer, so no I/O thread waits.
template <class Reply, class Request, class Ok, class Fail>
void ask_actor(chat_app& app, const caf::actor& dest, Request req, Ok ok, Fail fail, caf::duration timeout) {
  // Arguments go through spawn, not captures (CAF 0.17 binds a null tuple for an
  // argument-less spawn).
  app.sys.spawn(
      [](caf::event_based_actor* self, caf::actor dest, Request req, Ok ok, Fail fail, caf::duration timeout) {
        self->request(dest, timeout, std::move(req))
            .then(
                [self, ok](Reply& reply) mutable {
                  ok(reply);
                  self->quit();
                },
                [self, fail](caf::error& err) mutable {
                  fail(err);
                  self->quit();
                });
      },
      dest, std::move(req), std::move(ok), std::move(fail), timeout);
}

// -- the modules (one file each), mounted in this order: see chat_app.cpp --
void mount_platform(chat_app& app);
void mount_conversations(chat_app& app);
void mount_basic_chat(chat_app& app);
void mount_realtime(chat_app& app);
void mount_room_chat(chat_app& app);
void mount_admin(chat_app& app);
void mount_notifications(chat_app& app);
void mount_http_api(chat_app& app);
/// The backend API's socket routes (sockets_api.cpp): /api/sockets..., /api/nodes.
void mount_sockets_api(chat_app& app);
/// The backend API's key check (http_api.cpp); answers and returns false when refused.
bool api_key_ok(const chat_app& app, const sio::http::request& req, const sio::http::reply_ptr& r);
/// The Pusher protocol (pusher_bridge.cpp) when apps are configured.
void mount_pusher(chat_app& app);
/// Pusher's HTTP API (/apps/{id}/...) for the apps of `pusher`, on the same rooms.
void mount_pusher_http_api(chat_app& app, sio::pusher_server& pusher);

/// A module's handler written as a named function of the app; `with_app` makes it the
/// event (or connection, disconnect) handler the server calls.
using app_event_fn = void (*)(chat_app&, sio::socket&, sio::message&, const sio::ack_responder&);
using app_connection_fn = void (*)(chat_app&, sio::socket&);
using app_disconnect_fn = void (*)(chat_app&, sio::socket&, const std::string& reason);
inline sio::event_handler with_app(chat_app& app, app_event_fn fn) {
  return [&app, fn](sio::socket& s, sio::message& m, const sio::ack_responder& ack) { fn(app, s, m, ack); };
}
inline sio::connection_handler with_app(chat_app& app, app_connection_fn fn) {
  return [&app, fn](sio::socket& s) { fn(app, s); };
}
inline sio::disconnect_handler with_app(chat_app& app, app_disconnect_fn fn) {
  return [&app, fn](sio::socket& s, const std::string& reason) { fn(app, s, reason); };
}

/// Joins `room` by the rules of §5 and §8 (rooms named for their users admit them alone,
/// another socket's own room nobody, conversations their participants, presence rooms
/// keep their members); answers through `ack` ({status:"ok", room, ...} or the refusal)
/// or, without one, with `error` {message:"<refusal>: <room>"}.
void join_checked(chat_app& app, sio::socket& s, const std::string& room, const sio::ack_responder& ack);
/// Leaves `room` (presence bookkeeping included); ack {status:"ok", room}.
void leave_checked(chat_app& app, sio::socket& s, const std::string& room, const sio::ack_responder& ack);

/// The stored message as clients see it (§2).
json::object message_json(const persistence::conversation_message& m);

/// Why a sendMessage / POST payload cannot be stored (the messageError text), or nothing;
/// fills `out` when valid.
std::optional<std::string> parse_new_message(const json::value& payload, std::optional<std::string> conversation_id,
                                             persistence::conversation_message& out);

} // namespace chat
