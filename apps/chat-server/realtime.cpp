// Seed 001's client events (Toporia Realtime's Socket.IO gateway; docs/chat-protocol.md
// §10, default namespace `/`): module "realtime". `join-room` {room} with an ack, and
// `message.sent`, `typing.started`, `typing.stopped` relayed to the rooms they name.
#include "apps/chat-server/chat_internal.hpp"

namespace chat {

namespace {

// Rooms a relay without a `room` goes to: those the socket joined, less the ones that
// carry what is meant for it alone (its id room, its user's private room).
std::vector<std::string> joined_rooms(sio::socket& s) {
  std::vector<std::string> out;
  for (auto& room : s.rooms())
    if (room != s.id() && room.rfind("private-user.", 0) != 0)
      out.push_back(room);
  return out;
}

// Relays the payload as sent to its `room` (which the sender must be in), or to every
// room the sender joined. With verified identities `user` and `userId` are the token's,
// so nobody speaks as another; every other field goes through unchanged.
void relay(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack, const char* event,
           bool to_sender) {
  auto& p = first_arg(m);
  if (!p.is_object())
    return refuse(s, ack, "Invalid payload: expected an object");
  std::vector<std::string> rooms;
  if (p.as_object().contains("room")) {
    auto room = room_name(p);
    if (!room)
      return refuse(s, ack, "room is required");
    if (!s.in_room(*room))
      return refuse(s, ack, "Join the room first");
    rooms.push_back(*room);
  } else {
    rooms = joined_rooms(s);
    if (rooms.empty())
      return refuse(s, ack, "Join a room first");
  }
  if (to_sender && !app.allow_send(s))
    return refuse(s, ack, "Rate limit exceeded");
  sio::message out{p};
  out.attachments = std::move(m.attachments);
  if (verified(app)) {
    auto& o = out.args[0].as_object();
    o["user"] = user_name_of(s);
    o["userId"] = user_id_of(s).value_or("");
  }
  auto b = to_sender ? s.nsp_all() : s.broadcast_all();
  for (auto& room : rooms)
    b = b.to(room);
  b.emit(event, std::move(out));
  ack({ok_status()});
}

// The message reaches its sender too: seed 001's clients show their own messages when
// the room sends them back.
void on_message_sent(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  relay(app, s, m, ack, "message.sent", true);
}

void on_typing_started(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  relay(app, s, m, ack, "typing.started", false);
}

void on_typing_stopped(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  relay(app, s, m, ack, "typing.stopped", false);
}

// `join-room` {room} | roomName: joined by the rules of §5 and §8; the ack says how.
void on_join_room(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto room = room_name(first_arg(m));
  if (!room)
    return refuse(s, ack, "room is required");
  join_checked(app, s, *room, ack);
}

} // namespace

void mount_realtime(chat_app& app) {
  auto& nsp = app.opts.realtime_namespace;
  if (nsp.empty())
    return;
  auto module = app.io.of(nsp).module("realtime");
  // Where seed 003's basic chat shares the namespace, its `join-room` (which answers the
  // ack too) serves both seeds.
  if (app.io.of(nsp).handler_of("join-room") != std::optional<std::string>("basic-chat"))
    module.on("join-room", with_app(app, on_join_room));
  module.on("message.sent", with_app(app, on_message_sent))
      .on("typing.started", with_app(app, on_typing_started))
      .on("typing.stopped", with_app(app, on_typing_stopped));
}

} // namespace chat
