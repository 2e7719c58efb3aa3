// Room chat of seed 003 (docs/chat-protocol.md §3; its own namespace, default /chat):
// module "room-chat".
#include "apps/chat-server/chat_internal.hpp"

namespace chat {

namespace {

json::object user_json(const chat_app::chat_user& u) {
  json::object out{{"username", u.username}, {"socketId", u.socket_id}};
  if (u.room)
    out["room"] = *u.room;
  return out;
}

json::array users_list(chat_app& app) {
  json::array out;
  for (auto& id : app.user_order)
    if (auto it = app.users.find(id); it != app.users.end())
      out.push_back(user_json(it->second));
  return out;
}

// The sender's user entry (a copy), or the "Join first" answer when it has not joined.
std::optional<chat_app::chat_user> joined_user(chat_app& app, sio::socket& s, const sio::ack_responder& ack) {
  {
    std::lock_guard<std::mutex> guard(app.users_mutex);
    auto it = app.users.find(s.id());
    if (it != app.users.end())
      return it->second;
  }
  refuse(s, ack, "Join first");
  return std::nullopt;
}

void on_connected(chat_app& app, sio::socket& s) {
  app.track_socket_id(s);
}

void on_join(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto& p = first_arg(m);
  auto username = p.is_string() ? std::optional<std::string>(std::string(p.as_string())) : string_field(p, "username");
  if (!username || username->empty())
    return refuse(s, ack, "username is required");
  // With verified identities the name is the token's (seed 003: "the server sets the
  // username"), so nobody chats, or sends private messages, under another's name.
  if (verified(app))
    username = user_name_of(s);
  json::array list;
  {
    std::lock_guard<std::mutex> guard(app.users_mutex);
    if (!app.users.count(s.id()))
      app.user_order.push_back(s.id());
    app.users[s.id()] = chat_app::chat_user{*username, s.id(), std::nullopt};
    list = users_list(app);
  }
  s.emit("join-success", {json::object{{"socketId", s.id()}, {"username", *username}}});
  s.nsp_all().emit("users-list", {list});
  s.broadcast_all().emit("user-joined",
                         {json::object{{"username", *username}, {"message", *username + " joined the chat"}}});
  ack({ok_status()});
}

void on_join_room(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto room = room_name(first_arg(m));
  auto user = joined_user(app, s, ack);
  if (!user)
    return;
  if (!room)
    return refuse(s, ack, "room is required");
  // Another socket's own room carries its private messages.
  if (app.is_other_socket_room(s, *room))
    return refuse(s, ack, "Forbidden");
  if (s.join(*room) == sio::socket::join_result::limit_reached)
    return refuse(s, ack, "too many rooms");
  json::array members;
  {
    std::lock_guard<std::mutex> guard(app.users_mutex);
    app.users[s.id()].room = *room;
    app.chat_rooms[*room].insert(s.id());
    for (auto& id : app.chat_rooms[*room])
      if (auto it = app.users.find(id); it != app.users.end())
        members.push_back(user_json(it->second));
  }
  s.emit("joined-room", {json::object{{"room", *room}, {"message", "You joined " + *room}}});
  s.to(*room).emit("user-joined-room", {json::object{{"username", user->username}, {"room", *room}}});
  s.nsp_all().to(*room).emit("room-members", {members});
  ack({ok_status({{"room", *room}})});
}

void on_send_message(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto user = joined_user(app, s, ack);
  if (!user)
    return;
  auto& p = first_arg(m);
  auto text = p.is_string() ? std::optional<std::string>(std::string(p.as_string())) : string_field(p, "message");
  if (!text || text->empty())
    return refuse(s, ack, "message is required");
  if (text_length(*text) > 5000)
    return refuse(s, ack, "message is too long (max 5000)");
  json::object out{{"username", user->username}, {"text", *text}, {"timestamp", iso_now()}, {"socketId", s.id()}};
  if (auto room = string_field(p, "room"); room && !room->empty()) {
    out["room"] = *room;
    s.nsp_all().to(*room).emit("message", {out});
  } else {
    s.nsp_all().emit("message", {out});
  }
  ack({ok_status()});
}

void on_private_message(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto sender = joined_user(app, s, ack);
  if (!sender)
    return;
  auto& p = first_arg(m);
  auto to = string_field(p, "to");
  auto text = string_field(p, "message");
  std::optional<chat_app::chat_user> recipient;
  if (to) {
    std::lock_guard<std::mutex> guard(app.users_mutex);
    if (auto it = app.users.find(*to); it != app.users.end())
      recipient = it->second;
  }
  if (!recipient || !text)
    return refuse(s, ack, "Recipient not found");
  json::object data{
      {"from", sender->username}, {"fromId", s.id()}, {"text", *text}, {"timestamp", iso_now()}, {"private", true}};
  s.to(*to).emit("private-message", {data});
  json::object sent{{"to", recipient->username}};
  for (auto& [k, v] : data)
    sent[k] = v;
  s.emit("private-message-sent", {sent});
  ack({ok_status()});
}

// `typing` / `stop-typing` {room?}: `out_event` to the room (or all) but the sender.
void relay_typing(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack,
                  const char* out_event) {
  auto user = joined_user(app, s, ack);
  if (!user)
    return;
  auto room = string_field(first_arg(m), "room");
  json::object out{{"username", user->username}};
  if (room && !room->empty()) {
    out["room"] = *room;
    s.to(*room).emit(out_event, {out});
  } else {
    s.broadcast_all().emit(out_event, {out});
  }
  ack({ok_status()});
}

void on_typing(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  relay_typing(app, s, m, ack, "user-typing");
}

void on_stop_typing(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  relay_typing(app, s, m, ack, "user-stop-typing");
}

void on_leave_room(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto user = joined_user(app, s, ack);
  if (!user)
    return;
  auto room = room_name(first_arg(m));
  if (!room)
    return refuse(s, ack, "room is required");
  s.leave(*room);
  {
    std::lock_guard<std::mutex> guard(app.users_mutex);
    app.chat_rooms[*room].erase(s.id());
    if (app.chat_rooms[*room].empty())
      app.chat_rooms.erase(*room);
    auto& u = app.users[s.id()];
    if (u.room == *room)
      u.room.reset();
  }
  s.nsp_all().to(*room).emit("user-left-room", {json::object{{"username", user->username}, {"room", *room}}});
  s.emit("left-room", {json::object{{"room", *room}}});
  ack({ok_status({{"room", *room}})});
}

void on_disconnected(chat_app& app, sio::socket& s, const std::string&) {
  std::optional<chat_app::chat_user> user;
  json::array list;
  {
    std::lock_guard<std::mutex> guard(app.users_mutex);
    auto it = app.users.find(s.id());
    if (it == app.users.end())
      return;
    user = it->second;
    app.users.erase(it);
    app.user_order.erase(std::remove(app.user_order.begin(), app.user_order.end(), s.id()), app.user_order.end());
    for (auto r = app.chat_rooms.begin(); r != app.chat_rooms.end();) {
      r->second.erase(s.id());
      r = r->second.empty() ? app.chat_rooms.erase(r) : std::next(r);
    }
    list = users_list(app);
  }
  s.nsp_all().emit("user-disconnected",
                   {json::object{{"username", user->username}, {"message", user->username + " left the chat"}}});
  s.nsp_all().emit("users-list", {list});
}

} // namespace

void mount_room_chat(chat_app& app) {
  if (app.opts.room_chat_namespace.empty())
    return;
  app.io.of(app.opts.room_chat_namespace)
      .module("room-chat")
      .on_connection(with_app(app, on_connected))
      .on("join", with_app(app, on_join))
      .on("join-room", with_app(app, on_join_room))
      .on("send-message", with_app(app, on_send_message))
      .on("private-message", with_app(app, on_private_message))
      .on("typing", with_app(app, on_typing))
      .on("stop-typing", with_app(app, on_stop_typing))
      .on("leave-room", with_app(app, on_leave_room))
      .on_disconnect(with_app(app, on_disconnected));
}

} // namespace chat
