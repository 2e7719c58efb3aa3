// Connection actor: one per Engine.IO session (engine.io's `socket.ts` plus socket.io's
// `client.ts`). Owns the session state machine (handshake, heartbeat, polling buffer,
// upgrade to WebSocket, close reasons), decodes frames into Socket.IO packets, and runs
// the handlers of its sockets, so one client's events stay in order while different
// clients run in parallel.
//
// Takes: ws_in, ws_gone, ws_attach, poll_get, poll_post (from the front end);
//        deliver, close_request (from namespaces, rooms and the server);
//        its own timers: ping_atom, ping_timeout_atom, connect_timeout_atom,
//        ack_timeout_atom, upgrade_timeout_atom, close_timeout_atom, flush_atom.
#pragma once

#include "actors/core.hpp"
#include "actors/messages.hpp"
#include "transport/engineio/packet.hpp"
#include "transport/socketio/packet.hpp"

#include <map>
#include <unordered_map>

namespace sio {

class connection_state {
public:
  using self_ptr = caf::stateful_actor<connection_state>*;
  static inline const char* name = "connection";

  explicit connection_state(self_ptr self) : self_(self) {}

  caf::behavior start(std::shared_ptr<server_core> core, std::shared_ptr<session_entry> entry, std::string sid,
                      std::shared_ptr<const handshake_info> hs);

  // -- used by the socket API (always from inside this actor) --
  struct socket_state {
    std::uint64_t key = 0;
    std::string id;
    std::string nsp;
    caf::actor nsp_actor;
    std::shared_ptr<const handshake_info> handshake; // shared with the connection unless auth differs
    json::object data;
    std::unordered_map<std::string, event_handler> handlers;
    std::vector<disconnect_handler> disconnect_handlers;
    std::set<std::string> rooms;
    std::uint64_t next_ack_id = 0;
    std::unordered_map<std::uint64_t, ack_callback> acks;
    bool connected = false;
  };
  socket_state* find_socket(std::uint64_t key);
  caf::event_based_actor* self() const { return self_; }
  void emit(socket_state& s, std::string_view event, const message& m);
  void emit_with_ack(socket_state& s, std::string_view event, const message& m, std::chrono::milliseconds timeout,
                     ack_callback cb);
  socket::join_result join(socket_state& s, const std::string& room);
  void leave(socket_state& s, const std::string& room);
  void server_disconnect(socket_state& s, bool close_connection);
  /// engine.io's Socket#close: a goodbye (over polling the close packet waits for the next GET).
  void close_session(const std::string& reason);
  /// engine.io's Socket#onClose: the session ends now (errors, timeouts, the client's close).
  void end_session(const std::string& reason);

  // -- transport --
  void on_poll_get(http::reply_ptr reply);
  void on_poll_post(std::string body, bool binary_body, http::reply_ptr reply);
  void on_ws_in(ws_in& in);
  void on_ws_gone(const ws_gone& gone);
  void on_ws_attach(ws_attach& a);
  void answer_handshake(http::reply_ptr reply);
  void start_websocket(std::uint64_t channel, http::ws_channel_ptr ws);

private:
  void on_engine_packet(engineio::packet& p);
  void on_message(engineio::packet& p);
  void on_socketio_packet(socketio::packet& p);
  void on_connect(socketio::packet& p);
  /// Socket.IO v2: the server connects every new session to "/" by itself.
  void connect_default_namespace();
  bool v3() const { return entry_->protocol == 3; }
  void on_event(socket_state& s, socketio::packet& p);
  void on_ack(socket_state& s, socketio::packet& p);
  void remove_socket(std::uint64_t key, const std::string& reason);

  void send_control(engineio::packet p);
  void send_frame(const shared_frame& frame, bool is_volatile);
  bool enqueue(std::vector<http::ws_message> msgs, bool is_volatile);
  void schedule_flush();
  void flush();
  void schedule_ping();
  void on_pong();
  /// goodbye: engine.io's close(); at_once: its onClose(); by_client: the client's close packet.
  enum class close_kind { goodbye, at_once, by_client };
  void close(const std::string& reason, close_kind kind);
  void finish();

  self_ptr self_;
  std::shared_ptr<server_core> core_;
  std::shared_ptr<session_entry> entry_;
  std::string sid_;
  std::shared_ptr<const handshake_info> handshake_;

  transport_kind transport_ = transport_kind::polling;
  http::ws_channel_ptr ws_;
  std::uint64_t ws_channel_ = 0;
  // Namespaces and rooms deliver here directly once the transport is a v4 WebSocket.
  delivery_sink_ptr sink_ = std::make_shared<delivery_sink>();
  http::ws_channel_ptr probe_;
  std::uint64_t probe_channel_ = 0;
  bool probe_answered_ = false;

  // Polling: packets waiting for the next GET.
  http::reply_ptr pending_get_;
  std::vector<http::ws_message> outbox_;
  std::size_t outbox_bytes_ = 0;
  bool flush_scheduled_ = false;

  std::uint64_t ping_generation_ = 0;
  bool awaiting_pong_ = false;

  bool closed_ = false;
  bool closing_ = false;
  bool abort_transport_ = false;    // the client stopped reading: drop, do not say goodbye
  bool awaiting_close_get_ = false; // polling: the close packet waits for the next GET

  socketio::decoder decoder_;
  std::map<std::string, std::uint64_t> by_nsp_;
  std::unordered_map<std::uint64_t, std::unique_ptr<socket_state>> sockets_;
  bool ever_connected_ = false;
};

} // namespace sio
