#include "actors/remote_ws_channel.hpp"

#include "actors/forwarding_messages.hpp"

namespace sio {

http::ws_channel::send_result remote_ws_channel::admit(std::size_t bytes) {
  if (closed_.load(std::memory_order_acquire))
    return send_result::closed;
  if (in_flight_.load(std::memory_order_relaxed) > cap_)
    return send_result::over_cap;
  in_flight_.fetch_add(bytes, std::memory_order_relaxed);
  return send_result::queued;
}

http::ws_channel::send_result remote_ws_channel::send(std::vector<http::ws_message> messages) {
  relay_frames frames{std::move(messages)};
  auto result = admit(frames.bytes());
  if (result == send_result::queued)
    caf::send_as(endpoint_, relay_, std::move(frames));
  return result;
}

http::ws_channel::send_result remote_ws_channel::send(http::ws_message message) {
  std::vector<http::ws_message> one;
  one.push_back(std::move(message));
  return send(std::move(one));
}

void remote_ws_channel::close(std::uint16_t code, std::string reason) {
  if (closed_.exchange(true))
    return;
  caf::send_as(endpoint_, relay_, relay_close{code, std::move(reason)});
  closed_here();
}

void remote_ws_channel::abort() {
  closed_ = true;
  if (aborted_.exchange(true))
    return;
  caf::send_as(endpoint_, relay_, relay_abort_atom::value);
  closed_here();
}

void remote_ws_channel::closed_here() {
  caf::send_as(endpoint_, endpoint_, channel_closed_atom::value);
}

void remote_ws_channel::consumed(std::size_t bytes) {
  caf::send_as(endpoint_, relay_, relay_consumed{bytes});
}

void remote_ws_channel::written(std::size_t bytes) {
  // Never below zero, whatever a relay reports.
  auto now = in_flight_.load(std::memory_order_relaxed);
  while (!in_flight_.compare_exchange_weak(now, now - std::min(now, bytes), std::memory_order_relaxed)) {
  }
}

} // namespace sio
