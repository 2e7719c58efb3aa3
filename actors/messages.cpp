#include "actors/messages.hpp"

namespace sio {

void announce_message_types(caf::actor_system_config& cfg) {
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
  cfg.add_message_type<std::vector<std::uint64_t>>("std::vector<uint64_t>");
}

} // namespace sio
