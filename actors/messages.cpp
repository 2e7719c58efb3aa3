#include "actors/messages.hpp"

#include "actors/activity.hpp"
#include "actors/metrics.hpp"

#include "actors/api_service.hpp"
#include "actors/pusher_server.hpp"
#include "actors/recovery.hpp"

#include "transport/socketio/msgpack_parser.hpp"

#include <spdlog/spdlog.h>

namespace sio {

namespace {

/// The frame in MessagePack, made once per frame (whichever recipient asks first).
std::shared_ptr<const std::string> msgpack_of(const shared_frame& f) {
  if (auto made = std::atomic_load(&f->msgpack))
    return made;
  auto bytes = socketio::msgpack_parser::from_text(std::string_view(f->text).substr(1), f->attachments);
  if (!bytes) {
    spdlog::error("a frame that is not a Socket.IO packet cannot be sent in MessagePack: {:.80}", f->text);
    return nullptr;
  }
  auto made = std::make_shared<const std::string>(std::move(*bytes));
  std::atomic_store(&f->msgpack, made);
  return made;
}

} // namespace

std::vector<http::ws_message> to_ws(const shared_frame& f, bool msgpack) {
  if (msgpack) {
    auto bytes = msgpack_of(f);
    if (!bytes)
      return {};
    return {http::ws_message{true, std::move(bytes)}};
  }
  std::vector<http::ws_message> out;
  out.reserve(1 + f->attachments.size());
  out.push_back({false, std::shared_ptr<const std::string>(f.ptr, &f->text)});
  for (auto& a : f->attachments)
    out.push_back({true, std::shared_ptr<const std::string>(f.ptr, &a)});
  return out;
}

void delivery_sink::publish(http::ws_channel_ptr channel) {
  std::call_once(once_, [&] {
    owned_ = std::move(channel);
    channel_.store(owned_.get(), std::memory_order_release);
  });
}

delivery_sink::outcome delivery_sink::deliver(const shared_frame& frame, bool is_volatile) {
  auto* channel = channel_.load(std::memory_order_acquire);
  if (!channel)
    return outcome::unavailable;
  // A volatile packet is dropped when the client is not keeping up.
  if (is_volatile && channel->queued_bytes() > 0)
    return outcome::dropped;
  // The common case, a text packet without attachments, needs no vector.
  http::ws_channel::send_result result;
  if (msgpack_) {
    auto bytes = msgpack_of(frame);
    if (!bytes)
      return outcome::dropped;
    result = channel->send(http::ws_message{true, std::move(bytes)});
  } else {
    result = frame->attachments.empty()
                 ? channel->send(http::ws_message{false, std::shared_ptr<const std::string>(frame.ptr, &frame->text)})
                 : channel->send(to_ws(frame));
  }
  switch (result) {
  case http::ws_channel::send_result::queued:
    return outcome::sent;
  case http::ws_channel::send_result::over_cap:
    return overflowed_.exchange(true) ? outcome::dropped : outcome::over_cap;
  default:
    return outcome::dropped;
  }
}

void finish_broadcast(caf::event_based_actor* self, deferred_writes& w) {
  if (w.batch.empty())
    return;
  if (self->mailbox().empty())
    return w.batch.flush();
  if (!w.flush_pending) {
    w.flush_pending = true;
    self->send(self, wflush_atom::value);
  }
}

void deliver_to(caf::event_based_actor* self, std::uint64_t key, const recipient& r, const shared_frame& frame,
                bool is_volatile) {
  auto& m = metrics::global();
  m.deliveries.add();
  m.bytes_out.add(frame.bytes());
  if (r.sink) {
    switch (r.sink->deliver(frame, is_volatile)) {
    case delivery_sink::outcome::sent:
    case delivery_sink::outcome::dropped:
      return;
    case delivery_sink::outcome::over_cap:
      self->send(r.connection, overcap_atom::value);
      return;
    case delivery_sink::outcome::unavailable:
      break;
    }
  }
  self->send(r.connection, deliver{key, frame, is_volatile});
}

void announce_message_types(caf::actor_system_config& cfg) {
  announce_activity_types(cfg);
  cfg.add_message_type<shared_frame>("sio::shared_frame");
  cfg.add_message_type<socket_add>("sio::socket_add");
  cfg.add_message_type<socket_remove>("sio::socket_remove");
  cfg.add_message_type<room_join>("sio::room_join");
  cfg.add_message_type<room_leave>("sio::room_leave");
  cfg.add_message_type<broadcast_request>("sio::broadcast_request");
  cfg.add_message_type<member_add>("sio::member_add");
  cfg.add_message_type<member_remove>("sio::member_remove");
  cfg.add_message_type<room_deliver>("sio::room_deliver");
  cfg.add_message_type<deliver>("sio::deliver");
  cfg.add_message_type<close_request>("sio::close_request");
  cfg.add_message_type<rooms_query>("sio::rooms_query");
  cfg.add_message_type<room_count>("sio::room_count");
  cfg.add_message_type<room_list>("sio::room_list");
  cfg.add_message_type<std::vector<std::uint64_t>>("std::vector<uint64_t>");
  cfg.add_message_type<select_sockets>("sio::select_sockets");
  cfg.add_message_type<socket_refs>("sio::socket_refs");
  cfg.add_message_type<describe_socket>("sio::describe_socket");
  cfg.add_message_type<update_socket>("sio::update_socket");
  cfg.add_message_type<remote_socket>("sio::remote_socket");
  announce_api_types(cfg);
  announce_recovery_types(cfg);
  announce_pusher_types(cfg);
}

} // namespace sio
