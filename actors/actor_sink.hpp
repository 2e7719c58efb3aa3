// Where a WebSocket's incoming messages go: its connection actor, as ws_in and ws_gone
// messages tagged with the channel's key (a session may hold two WebSockets for a moment).
#pragma once

#include "actors/messages.hpp"

namespace sio {

class actor_sink final : public http::ws_sink {
public:
  actor_sink(caf::actor a, std::uint64_t channel) : actor_(std::move(a)), channel_(channel) {}
  void on_message(bool binary, std::string data) override {
    caf::anon_send(actor_, ws_in{channel_, binary, std::move(data)});
  }
  void on_close(std::string reason) override { caf::anon_send(actor_, ws_gone{channel_, std::move(reason)}); }

private:
  caf::actor actor_;
  std::uint64_t channel_;
};

} // namespace sio
