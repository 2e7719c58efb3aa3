// Presence rooms (docs/chat-protocol.md §5, §8; seeds 001, 004): one member list per
// room, whichever protocol its members came by. A Socket.IO socket enters with joinRoom
// (enter_room below), a Pusher connection by subscribing to the presence channel of the
// same name (pusher_bridge.cpp); both count through presence_add / presence_remove, so a
// user with several sockets or connections is one member, announced once.
#include "apps/chat-server/chat_internal.hpp"

namespace chat {

bool is_presence_room(const std::string& room) {
  return room.rfind("presence-", 0) == 0 || room.rfind("presence.", 0) == 0;
}

json::object member_json(const std::string& user, const chat_app::presence_member& m) {
  return json::object{{"user_id", user}, {"user_info", m.info}, {"connected_at", m.connected_at}};
}

json::array presence_members(chat_app& app, const std::string& room) {
  json::array members;
  auto it = app.presence.find(room);
  if (it != app.presence.end())
    for (auto& [user, m] : it->second)
      members.push_back(member_json(user, m));
  return members;
}

presence_entry presence_add(chat_app& app, const std::string& room, const std::string& user, json::value info) {
  presence_entry out;
  std::lock_guard<std::mutex> guard(app.presence_mutex);
  auto& m = app.presence[room][user];
  out.first = m.sockets++ == 0;
  if (out.first) {
    m.info = std::move(info);
    m.connected_at = iso_now();
  }
  out.member = member_json(user, m);
  out.members = presence_members(app, room);
  return out;
}

std::optional<json::object> presence_remove(chat_app& app, const std::string& room, const std::string& user) {
  std::lock_guard<std::mutex> guard(app.presence_mutex);
  auto r = app.presence.find(room);
  if (r == app.presence.end())
    return std::nullopt;
  auto m = r->second.find(user);
  if (m == r->second.end() || --m->second.sockets > 0)
    return std::nullopt;
  auto member = member_json(user, m->second);
  r->second.erase(m);
  if (r->second.empty())
    app.presence.erase(r);
  return member;
}

void enter_room(chat_app& app, sio::socket& s, const std::string& room, const sio::ack_responder& ack) {
  auto joined = s.join(room);
  if (joined == sio::socket::join_result::not_connected)
    return;
  if (joined == sio::socket::join_result::limit_reached) {
    if (ack.wanted())
      ack({error_status("Too many rooms")});
    else
      s.emit("error", {json::object{{"message", "Too many rooms: " + room}}});
    return;
  }
  bool already = joined == sio::socket::join_result::already_in;
  if (!is_presence_room(room)) {
    ack({ok_status({{"room", room}})});
    return;
  }
  if (already) {
    json::array members;
    {
      std::lock_guard<std::mutex> guard(app.presence_mutex);
      members = presence_members(app, room);
    }
    // Answered outside the lock: an answer may close the session, whose disconnect
    // handler takes the lock again.
    ack({ok_status({{"room", room}, {"members", members}})});
    return;
  }
  auto user = user_id_of(s).value_or(s.id());
  auto entry = presence_add(app, room, user, json::object{{"name", user_name_of(s)}});
  if (entry.first)
    s.to(room).emit("user.joined", {entry.member});
  s.emit("presence.members", {json::object{{"room", room}, {"members", entry.members}}});
  ack({ok_status({{"room", room}, {"members", entry.members}})});
}

void presence_leave(chat_app& app, sio::socket& s, const std::string& room) {
  if (!is_presence_room(room))
    return;
  if (auto member = presence_remove(app, room, user_id_of(s).value_or(s.id())))
    s.nsp_all().to(room).emit("user.left", {*member});
}

void leave_room(chat_app& app, sio::socket& s, const std::string& room, const sio::ack_responder& ack) {
  bool was_in = s.in_room(room);
  s.leave(room);
  if (was_in)
    presence_leave(app, s, room);
  ack({ok_status({{"room", room}})});
}

} // namespace chat
