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
#pragma once

#include <boost/json.hpp>
#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
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

class socket;
class socketio_client;

using event_handler = std::function<void(socket&, message&, const ack_responder&)>;
/// The client's ack arguments, or nothing on timeout.
using ack_callback = std::function<void(socket&, std::optional<message>)>;
using disconnect_handler = std::function<void(socket&, const std::string& reason)>;
using middleware = std::function<std::optional<connect_error>(socket&)>;
using connection_handler = std::function<void(socket&)>;

/// An immutable broadcast builder, like socket.io's BroadcastOperator: every call
/// returns a new value, so a half-built broadcast is never shared. Thread-safe.
class broadcast {
public:
  broadcast() = default;
  broadcast(caf::actor nsp_actor, std::string nsp);

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

private:
  caf::actor nsp_actor_;
  std::string nsp_;
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

/// Builds the packet text for an event; shared by socket::emit and broadcasts.
std::string encode_event(std::string_view nsp, std::string_view event, const message& m,
                         std::optional<std::uint64_t> ack_id = std::nullopt);

} // namespace sio
