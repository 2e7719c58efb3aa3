// The Socket.IO client of one connection actor (socket.io's `client.ts` and `socket.ts`):
// the sockets of that client, one per namespace, with their middlewares, CONNECT /
// CONNECT_ERROR, event handlers, acks in both directions and rooms. It reads and writes
// through its Engine.IO session and knows nothing of transports.
//
// Runs inside the connection actor; its timers are the actor's messages
// connect_timeout_atom and ack_timeout_atom, handed to the on_* members below.
#pragma once

#include "actors/api.hpp"
#include "actors/core.hpp"
#include "actors/engineio_session.hpp"
#include "transport/socketio/packet.hpp"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace sio {

class socketio_client final : public engineio_session::owner {
public:
  socketio_client(caf::event_based_actor* self, engineio_session& session) : self_(self), session_(session) {}

  /// `pending`: the session's place among those without a CONNECT, given back at the first.
  void start(std::shared_ptr<server_core> core, std::shared_ptr<const handshake_info> hs, bool raw,
             pending_sessions::ticket_ptr pending);

  // -- from the session --
  void on_open() override;
  void on_message(engineio::packet& p) override;
  void on_closing(const std::string& reason) override;
  void on_upgraded() override;

  // -- from namespaces and rooms, and timers --
  void on_deliver(const deliver& d);
  void on_connect_timeout();
  /// The server API's socket-set verbs (broadcast::fetch_sockets, sockets_join, ...):
  /// nothing, or false, once socket `key` is gone.
  std::optional<remote_socket> describe(std::uint64_t key);
  bool update(const update_socket& u);
  void on_ack_timeout(std::uint64_t key, std::uint64_t id);

  // -- the socket API (sio::socket, always from inside this actor) --
  struct socket_state {
    std::uint64_t key = 0;
    std::string id;
    std::string nsp;
    caf::actor nsp_actor;
    std::shared_ptr<const handshake_info> handshake; // shared with the client unless auth differs
    std::shared_ptr<const namespace_def> def;        // the modules' handlers
    json::object data;
    std::unordered_map<std::string, std::vector<event_handler>> handlers; // socket::on's
    std::vector<disconnect_handler> disconnect_handlers;
    std::set<std::string> rooms;
    std::uint64_t next_ack_id = 0;
    std::unordered_map<std::uint64_t, ack_callback> acks;
    bool connected = false;
    /// Connection state recovery: the private id its client may come back with (empty:
    /// recovery off, or a v2 client), and whether it came back.
    std::string pid;
    bool recovered = false;
  };
  socket_state* find_socket(std::uint64_t key);
  caf::event_based_actor* self() const { return self_; }
  const std::shared_ptr<server_core>& core() const { return core_; }
  void emit(socket_state& s, std::string_view event, const message& m);
  void emit_with_ack(socket_state& s, std::string_view event, const message& m, std::chrono::milliseconds timeout,
                     ack_callback cb);
  socket::join_result join(socket_state& s, const std::string& room);
  void leave(socket_state& s, const std::string& room);
  /// Connection state recovery with a shared store: the connected socket's record.
  void write_recovery_record(const socket_state& s);
  void server_disconnect(socket_state& s, bool close_connection);
  void close_session(const std::string& reason) { session_.close_session(reason); }

private:
  const protocol_revision& revision() const { return session_.revision(); }
  /// Feeds a binary message to the decoder within the server-wide attachment budget.
  socketio::decoder::result feed_attachment(std::string bytes);
  void on_packet(socketio::packet& p);
  void on_connect(socketio::packet& p);
  /// The rest of a CONNECT, once known whether it restores a session (`restored`).
  void add_socket(socketio::packet& p, const server_core::namespace_entry& ns, json::object query_auth,
                  recovery_claimed* restored);
  void on_event(socket_state& s, socketio::packet& p);
  void on_ack(socket_state& s, socketio::packet& p);
  void remove_socket(std::uint64_t key, const std::string& reason);
  /// Hands what happened to the activity feed (call only when the feed admitted it).
  void report(const char* kind, const socket_state& s, std::string name, std::string detail, std::uint64_t bytes);
  /// An `emit` item for an event sent to this one socket, when someone watches.
  void report_sent(const socket_state& s, std::string_view event, const message& m);
  /// A frame of this socket's own (an emit, an ack): counted as a delivery, then sent.
  void send_own_frame(const shared_frame& frame);
  void send_frame(const shared_frame& frame, bool is_volatile = false);
  /// One of the server's own packets, as the codec wrote it (text): as it is, or in
  /// MessagePack for a msgpack server.
  void send_packet(const std::string& text);

  caf::event_based_actor* self_;
  engineio_session& session_;
  std::shared_ptr<server_core> core_;
  std::shared_ptr<const handshake_info> handshake_;
  bool raw_ = false;

  socketio::decoder decoder_;
  /// The server-wide budget's bytes that decoder_'s pending attachments take.
  std::unique_ptr<byte_budget::hold> attachment_hold_;
  pending_sessions::ticket_ptr pending_;
  std::map<std::string, std::uint64_t> by_nsp_;
  /// Namespaces whose CONNECT waits for the recovery actor's answer.
  std::set<std::string> restoring_;
  std::unordered_map<std::uint64_t, std::unique_ptr<socket_state>> sockets_;
  bool ever_connected_ = false;
};

} // namespace sio
