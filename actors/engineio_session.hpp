// The Engine.IO session of one connection actor (engine.io's `socket.ts` and its
// transports): the handshake, the heartbeat, the polling outbox, the upgrade from polling
// to WebSocket, and how the session ends. It knows nothing of namespaces: message packets
// go to its owner (the Socket.IO client), and so does the news that it is closing.
//
// Runs inside the connection actor; its timers are the actor's messages ping_atom,
// ping_timeout_atom, upgrade_timeout_atom, probe_tick_atom, close_timeout_atom, flush_atom
// and overcap_atom, which the actor hands to the on_* members below.
#pragma once

#include "actors/core.hpp"
#include "actors/messages.hpp"
#include "actors/protocol_revision.hpp"
#include "transport/engineio/packet.hpp"

#include <caf/actor_clock.hpp>

#include <memory>
#include <string>
#include <vector>

namespace sio {

/// While an upgrade is probed: end a waiting GET with a noop (every 100 ms).
using probe_tick_atom = caf::atom_constant<caf::atom("probetick")>;

class engineio_session {
public:
  /// What the session tells the layer above it.
  class owner {
  public:
    virtual ~owner() = default;
    /// The open packet is queued: v2 connects "/" here, so its CONNECT follows it.
    virtual void on_open() = 0;
    /// A message packet (text or binary) from the client.
    virtual void on_message(engineio::packet& p) = 0;
    /// The session is ending with `reason`: the layer above ends its sockets now, while
    /// it can still write to the client.
    virtual void on_closing(const std::string& reason) = 0;
    /// The session moved from polling to its WebSocket.
    virtual void on_upgraded() {}
  };

  engineio_session(caf::event_based_actor* self, owner& up) : self_(self), owner_(up) {}

  void start(std::shared_ptr<server_core> core, std::shared_ptr<session_entry> entry, std::string sid);

  const std::string& sid() const { return sid_; }
  /// "polling" or "websocket" (the current transport), for logs and the console.
  const char* transport_name() const { return transport_ == transport_kind::websocket ? "websocket" : "polling"; }
  const protocol_revision& revision() const { return *revision_; }
  bool closed() const { return closed_ || closing_; }
  /// Where namespaces and rooms deliver directly once the transport is a v4 WebSocket.
  const delivery_sink_ptr& sink() const { return sink_; }

  // -- transport events --
  /// Polling handshake: the open packet goes out with `reply` (v3: with what the owner
  /// queued in on_open).
  void answer_handshake(http::reply_ptr reply);
  /// A session that starts on WebSocket: the open packet is its first frame.
  void start_websocket(std::uint64_t channel, http::ws_channel_ptr ws);
  void on_poll_get(http::reply_ptr reply);
  void on_poll_post(std::string body, bool binary_body, http::reply_ptr reply);
  void on_ws_attach(ws_attach& a);
  void on_ws_in(ws_in& in);
  void on_ws_gone(const ws_gone& gone);

  // -- timers --
  void on_ping(std::uint64_t generation);
  void on_ping_timeout(std::uint64_t generation);
  void on_upgrade_timeout(std::uint64_t channel);
  void on_probe_tick(std::uint64_t channel);
  void on_close_timeout();
  void on_flush();
  void on_overcap();

  // -- output --
  /// Queues WebSocket messages (Engine.IO packet texts, binary messages raw) on the current
  /// transport; false when refused (closed, volatile and the client is behind, over cap).
  bool send(std::vector<http::ws_message> msgs, bool is_volatile = false);
  /// Sends the message packet "4" + `text` (a Socket.IO packet's text).
  bool send_message(std::string_view text);

  /// engine.io's Socket#close: a goodbye (over polling the close packet waits for the next GET).
  void close_session(const std::string& reason);
  /// engine.io's Socket#onClose: the session ends now (errors, timeouts, a transport gone).
  void end_session(const std::string& reason);

private:
  /// goodbye: close(); at_once: onClose(); by_client: the client's close packet.
  enum class close_kind { goodbye, at_once, by_client };
  void close(const std::string& reason, close_kind kind);
  void on_packet(engineio::packet& p);
  void schedule_ping();
  /// Whether the client missed its heartbeat deadline (checked on requests too, so a
  /// timer that runs late never lets a request through after the deadline).
  bool heartbeat_expired() const;
  void expire(http::reply_ptr reply);
  void schedule_flush();
  void flush();
  void complete_upgrade();
  void finish();

  caf::event_based_actor* self_;
  owner& owner_;
  std::shared_ptr<server_core> core_;
  std::shared_ptr<session_entry> entry_;
  std::string sid_;
  const protocol_revision* revision_ = &revision_for(4);

  transport_kind transport_ = transport_kind::polling;
  http::ws_channel_ptr ws_;
  std::uint64_t ws_channel_ = 0;
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
  caf::actor_clock::time_point heartbeat_deadline_;

  bool closed_ = false;
  bool closing_ = false;
  bool abort_transport_ = false;    // the client stopped reading: drop, do not say goodbye
  bool awaiting_close_get_ = false; // polling: the close packet waits for the next GET
};

} // namespace sio
