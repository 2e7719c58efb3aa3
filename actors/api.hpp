// The C++ API for application code, modelled on socket.io's server API:
//
//   sio::server io(system, opts);
//   io.of("/chat").use([](sio::socket& s) -> std::optional<sio::connect_error> { ... })
//                 .on_connection([](sio::socket& s) {
//     s.on("hello", [](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
//       s.to("room").emit("hi", m);   // everyone in "room" but s
//       ack({"ok"});
//     });
//   });
//
// Handlers of a socket run inside its connection actor, one at a time and in the order
// the client sent the events; a `socket` and an `ack_responder` are handles that are only
// valid there (they point into the connection actor). Broadcast
// handles (`broadcast`, server::of(...)) may be used from any thread.
//
// In a cluster (--cluster-listen) a broadcast and the socket-set verbs of `broadcast`
// (fetch_sockets, sockets_join, sockets_leave, disconnect_sockets) reach every member's
// sockets; `local()` narrows them to this node, as socket.io's `io.local` does.
#pragma once

#include <boost/json.hpp>
#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace sio {

namespace json = boost::json;
using header_list = std::vector<std::pair<std::string, std::string>>;

/// What the client sent when it connected to a namespace.
struct handshake_info {
  std::string address;
  header_list headers; // names lowercase
  header_list query;
  json::object auth;
  std::string url;
  std::int64_t issued_ms = 0;

  const std::string* header(std::string_view name) const;
  const std::string* param(std::string_view name) const;
};

/// Arguments of an event or an ack: JSON values plus the binary attachments that their
/// {"_placeholder":true,"num":N} values index (the wire form, kept as it is).
struct message {
  json::array args;
  std::vector<std::string> attachments;

  message() = default;
  message(json::array a) : args(std::move(a)) {}
  message(std::initializer_list<json::value_ref> init) : args(init) {}
  /// Appends a binary argument (or use the returned placeholder inside an object).
  json::value add_binary(std::string bytes);
};

/// Two modules declared a handler for the same event of one namespace: the application
/// is wrong, and says so at startup rather than let one silently replace the other.
struct handler_conflict : std::logic_error {
  using std::logic_error::logic_error;
};

/// A refusal from a middleware: sent as CONNECT_ERROR {message, data}.
struct connect_error {
  std::string message;
  json::value data = nullptr;
};

/// Answers a client's ack request. Calling it more than once, or when the client asked
/// for no ack, does nothing.
class ack_responder {
public:
  ack_responder() = default;
  explicit ack_responder(std::function<void(message)> fn) : fn_(std::move(fn)) {}
  bool wanted() const { return static_cast<bool>(fn_); }
  void operator()(message m) const;

private:
  mutable std::function<void(message)> fn_;
};

/// A socket as fetch_sockets reports it, from whichever node holds it (socket.io's
/// RemoteSocket): a copy taken when asked, not a handle.
struct remote_socket {
  std::string id;
  std::string nsp;
  std::vector<std::string> rooms; // its own id room included
  // The handshake's essentials (the headers and query may carry credentials: whoever
  // shows them to a third party decides what to leave out).
  std::string address;
  header_list headers;
  header_list query;
  std::string auth; // JSON text
  std::int64_t issued_ms = 0;
  std::string data; // socket::data() as JSON text
  std::string node; // the node it lives on (empty without a cluster)
  std::string transport; // polling or websocket (pusher for a Pusher connection)
  /// Names its Engine.IO connection (sockets of one client share it); not the session id,
  /// which is a credential.
  std::string client;
  std::string url; // of the handshake's first request
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, remote_socket& x) {
  return f(caf::meta::type_name("remote_socket"), x.id, x.nsp, x.rooms, x.address, x.headers, x.query, x.auth,
           x.issued_ms, x.data, x.node, x.transport, x.client, x.url);
}

/// A handler of another node's server_side_emit (server::on_server_side): runs on an
/// actor thread of this node's API service; `ack` may be called later, from anywhere.
using server_side_handler = std::function<void(message& args, const ack_responder& ack)>;

/// One other node's acknowledgement of a server_side_emit.
struct server_side_answer {
  std::string node;
  message args;
};

/// How long the cluster-wide verbs wait for the members (and their sockets) by default.
inline constexpr std::chrono::milliseconds default_api_timeout{5000};

class socket;
class socketio_client;
struct server_core;

using event_handler = std::function<void(socket&, message&, const ack_responder&)>;
/// The client's ack arguments, or nothing on timeout.
using ack_callback = std::function<void(socket&, std::optional<message>)>;
using disconnect_handler = std::function<void(socket&, const std::string& reason)>;
using middleware = std::function<std::optional<connect_error>(socket&)>;
using connection_handler = std::function<void(socket&)>;

/// What sockets_join, sockets_leave and disconnect_sockets ask of each socket.
enum class socket_update_kind : std::uint8_t { join, leave, disconnect };
inline std::string to_string(socket_update_kind k) {
  return k == socket_update_kind::join ? "join" : k == socket_update_kind::leave ? "leave" : "disconnect";
}

/// An immutable broadcast builder, like socket.io's BroadcastOperator: every call
/// returns a new value, so a half-built broadcast is never shared. Thread-safe.
class broadcast {
public:
  broadcast() = default;
  broadcast(caf::actor nsp_actor, std::string nsp, std::shared_ptr<server_core> core);

  /// False for the broadcast of a namespace that is not registered (server::in).
  bool valid() const { return static_cast<bool>(nsp_actor_); }

  broadcast to(std::string room) const;
  broadcast in(std::string room) const { return to(std::move(room)); }
  broadcast except(std::string room) const;
  /// Dropped for clients that cannot take it right now.
  broadcast volatile_() const;
  /// This node's sockets only (socket.io's `local`): in a cluster, every node that makes
  /// the same broadcast for its own sockets (a dead member's users leaving) reaches each
  /// socket once.
  broadcast local() const;

  /// Encodes the packet once and hands the shared frame to the namespace actor.
  /// Throws std::invalid_argument for a reserved event name ("connect", "disconnect", ...).
  void emit(std::string_view event, message m = {}) const;

  // -- the sockets this broadcast would reach (Socket.IO sockets; Pusher subscriptions are
  // not sockets), on every member unless local(). Callbacks run once, on an actor thread;
  // a member (or a socket's connection) that does not answer within `timeout` is left
  // out: its sockets are missing from the answer and the count. --

  using sockets_fn = std::function<void(std::vector<remote_socket>)>;
  using count_fn = std::function<void(std::size_t)>;
  /// socket.io's fetchSockets.
  void fetch_sockets(sockets_fn done, std::chrono::milliseconds timeout = default_api_timeout) const;
  /// socket.io's socketsJoin: each socket joins `rooms` (within max-rooms-per-socket, as
  /// socket::join). `done` gets how many sockets did it, once every member answered.
  void sockets_join(std::vector<std::string> rooms, count_fn done = {},
                    std::chrono::milliseconds timeout = default_api_timeout) const;
  /// One room (a template, so that a braced list of rooms picks the overload above).
  template <class Room, class = std::enable_if_t<std::is_convertible_v<const Room&, std::string_view>>>
  void sockets_join(const Room& room, count_fn done = {},
                    std::chrono::milliseconds timeout = default_api_timeout) const {
    sockets_join(std::vector<std::string>{std::string(std::string_view(room))}, std::move(done), timeout);
  }
  /// socket.io's socketsLeave.
  void sockets_leave(std::vector<std::string> rooms, count_fn done = {},
                     std::chrono::milliseconds timeout = default_api_timeout) const;
  template <class Room, class = std::enable_if_t<std::is_convertible_v<const Room&, std::string_view>>>
  void sockets_leave(const Room& room, count_fn done = {},
                     std::chrono::milliseconds timeout = default_api_timeout) const {
    sockets_leave(std::vector<std::string>{std::string(std::string_view(room))}, std::move(done), timeout);
  }
  /// socket.io's disconnectSockets: a server namespace disconnect of each socket; with
  /// close_connection, its whole Engine.IO connection closes too.
  void disconnect_sockets(bool close_connection = false, count_fn done = {},
                          std::chrono::milliseconds timeout = default_api_timeout) const;

private:
  void update_sockets(socket_update_kind kind, std::vector<std::string> rooms, bool close, count_fn done,
                      std::chrono::milliseconds timeout) const;

  caf::actor nsp_actor_;
  std::string nsp_;
  std::shared_ptr<server_core> core_;
  std::vector<std::string> rooms_;
  std::vector<std::string> except_;
  bool is_volatile_ = false;
  bool local_ = false;
};

/// Logs what a handler threw (`error` is null for a non-exception).
void log_handler_error(const char* what, const char* error);

/// Runs application code, logging instead of letting an exception end the actor. A
/// template, so the handler call on every event allocates nothing.
template <class F> void run_guarded(const char* what, F&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    log_handler_error(what, e.what());
  } catch (...) {
    log_handler_error(what, nullptr);
  }
}

/// A Socket.IO socket: one client in one namespace.
class socket {
public:
  socket(socketio_client* conn, std::uint64_t key) : conn_(conn), key_(key) {}

  const std::string& id() const;
  const std::string& nsp() const;
  const handshake_info& handshake() const;
  /// Application data attached to the socket (a middleware may fill it).
  json::object& data();
  bool connected() const;
  /// Connection state recovery restored this socket (same id, rooms and data; the
  /// packets it missed were sent before its CONNECT answer), as socket.io's
  /// `socket.recovered`.
  bool recovered() const;

  /// Adds a listener: every listener of an event runs, in the order added (socket.io's
  /// EventEmitter), after the handler a module declared for it (server::module_builder).
  void on(std::string event, event_handler handler);
  void on_disconnect(disconnect_handler handler);

  /// Both throw std::invalid_argument for a reserved event name ("connect", "disconnect",
  /// "connect_error", "disconnecting", "newListener", "removeListener"), as socket.io does.
  void emit(std::string_view event, message m = {});
  void emit_with_ack(std::string_view event, message m, std::chrono::milliseconds timeout, ack_callback cb);

  /// What join() did: a socket may be in at most `max-rooms-per-socket` rooms.
  enum class join_result { joined, already_in, limit_reached, not_connected };
  join_result join(const std::string& room);
  void leave(const std::string& room);
  /// Whether this socket is in `room` (O(log n), no copy).
  bool in_room(const std::string& room) const;
  /// The rooms this socket is in, its own id room included (a copy: not for hot paths).
  std::set<std::string> rooms() const;

  /// Broadcasts that exclude this socket.
  broadcast to(std::string room) const;
  broadcast except(std::string room) const;
  broadcast broadcast_all() const;
  /// The whole namespace, this socket included.
  broadcast nsp_all() const;

  /// Disconnects from this namespace ("server namespace disconnect"); with
  /// close_connection, the whole Engine.IO connection closes too.
  void disconnect(bool close_connection = false);
  /// Closes the Engine.IO connection without a Socket.IO DISCONNECT.
  void close_transport();

  std::uint64_t key() const { return key_; }

  /// Asks another actor and continues in this socket's connection actor: `ok` with the
  /// answer, or `fail` with the error (timeout included). Neither runs once the socket
  /// is gone. This is how a handler waits for the store without blocking anyone.
  ///
  /// Without a timeout (zero, the default) no timer is set: a request timeout costs a
  /// round through CAF's clock thread per request, a hot-path cost. It is safe for a
  /// receiver that always answers, like the persistence actor (which answers every request,
  /// with an error when the store fails); a receiver that dies answers every request it
  /// still holds with an error.
  template <class Reply, class Request, class Ok, class Fail>
  void request(const caf::actor& dest, Request req, Ok ok, Fail fail,
               std::chrono::milliseconds timeout = std::chrono::milliseconds::zero()) const {
    auto* conn = conn_;
    auto key = key_;
    auto limit = timeout.count() > 0 ? caf::duration{timeout} : caf::duration{caf::infinite};
    actor_self()
        ->request(dest, limit, std::move(req))
        .then(
            [conn, key, ok](Reply& reply) {
              socket s(conn, key);
              if (s.connected())
                run_guarded("request", [&] { ok(s, reply); });
            },
            [conn, key, fail](caf::error& err) {
              socket s(conn, key);
              if (s.connected())
                run_guarded("request", [&] { fail(s, err); });
            });
  }

  /// The connection actor running this socket's handlers.
  caf::event_based_actor* actor_self() const;

private:
  socketio_client* conn_;
  std::uint64_t key_;
};

/// Builds the packet text for an event; shared by socket::emit and broadcasts. `offset`:
/// connection state recovery's, appended as the last argument.
std::string encode_event(std::string_view nsp, std::string_view event, const message& m,
                         std::optional<std::uint64_t> ack_id = std::nullopt, std::string_view offset = {});

} // namespace sio
