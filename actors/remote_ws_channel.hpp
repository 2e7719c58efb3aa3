// The WebSocket of a client connected to another node, as the owner of its session sees
// it: a ws_channel whose sends go over the cluster link to the relay actor that holds the
// client's connection (actors/ws_relay). The connection actor, its delivery sink and the
// namespace and room actors use it as they use a local WebSocket.
//
// Sends leave as one relay_frames message each, sent as the owner's endpoint actor (the
// relay takes frames from its owner's node only). What is on its way, not yet reported
// queued by the relay (relay_written), counts as queued; past the cap a send is refused
// with over_cap, as a full local queue refuses it.
#pragma once

#include "transport/http/server.hpp"

#include <caf/actor.hpp>
#include <caf/atom.hpp>

#include <atomic>
#include <cstdint>

namespace sio {

/// To the endpoint, from itself: the owner closed the channel, nothing is left to carry.
using channel_closed_atom = caf::atom_constant<caf::atom("chclosed")>;

class remote_ws_channel final : public http::ws_channel {
public:
  remote_ws_channel(caf::actor relay, std::size_t max_queue_bytes) : relay_(std::move(relay)), cap_(max_queue_bytes) {}

  /// The endpoint actor the channel sends as; set once, before the channel is handed out.
  void bind(caf::actor endpoint) { endpoint_ = std::move(endpoint); }

  send_result send(std::vector<http::ws_message> messages) override;
  send_result send(http::ws_message message) override;
  std::size_t queued_bytes() const override { return in_flight_.load(std::memory_order_relaxed); }
  void close(std::uint16_t code, std::string reason) override;
  void abort() override;
  void consumed(std::size_t bytes) override;

  /// The relay queued `bytes` on the client's connection.
  void written(std::size_t bytes);
  /// The client's WebSocket is gone: sends are refused from now on.
  void gone() { closed_ = true; }

private:
  send_result admit(std::size_t bytes);
  void closed_here();

  caf::actor relay_;
  caf::actor endpoint_;
  const std::size_t cap_;
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<bool> closed_{false};
  std::atomic<bool> aborted_{false};
};

} // namespace sio
