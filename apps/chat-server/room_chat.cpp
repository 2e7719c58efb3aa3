// Room chat of seed 003 (docs/chat-protocol.md §3; its own namespace, default /chat):
// module "room-chat".
#include "apps/chat-server/chat_internal.hpp"

namespace chat {

namespace {

// Where a socket keeps the name it joined the chat under (the users actor keeps the lists).
constexpr std::string_view chat_name_key = "chatName";

// The sender's name, or the "Join first" answer when it has not joined.
std::optional<std::string> joined_user(sio::socket& s, const sio::ack_responder& ack) {
  if (auto* name = s.data().if_contains(chat_name_key); name && name->is_string())
    return std::string(name->as_string());
  refuse(s, ack, "Join first");
  return std::nullopt;
}

void failed(sio::socket& s, const sio::ack_responder& ack, const caf::error& err) {
  refuse(s, ack, describe(err));
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
  s.data()[chat_name_key] = *username; // the socket's next events find it joined at once
  s.request<room_chat_users>(
      app.room_chat_users, chat_user_join{s.id(), *username},
      [ack, username = *username](sio::socket& s, room_chat_users& list) {
        s.emit("join-success", {json::object{{"socketId", s.id()}, {"username", username}}});
        s.nsp_all().emit("users-list", {users_json(list.users)});
        s.broadcast_all().emit("user-joined",
                               {json::object{{"username", username}, {"message", username + " joined the chat"}}});
        ack({ok_status()});
      },
      [ack](sio::socket& s, const caf::error& err) { failed(s, ack, err); });
}

void on_join_room(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto room = room_name(first_arg(m));
  auto user = joined_user(s, ack);
  if (!user)
    return;
  if (!room)
    return refuse(s, ack, "room is required");
  // Another socket's own room carries its private messages.
  if (app.is_other_socket_room(s, *room))
    return refuse(s, ack, "Forbidden");
  if (s.join(*room) == sio::socket::join_result::limit_reached)
    return refuse(s, ack, "too many rooms");
  s.request<room_chat_users>(
      app.room_chat_users, chat_user_join_room{s.id(), *room},
      [ack, room = *room, username = *user](sio::socket& s, room_chat_users& members) {
        s.emit("joined-room", {json::object{{"room", room}, {"message", "You joined " + room}}});
        s.to(room).emit("user-joined-room", {json::object{{"username", username}, {"room", room}}});
        s.nsp_all().to(room).emit("room-members", {users_json(members.users)});
        ack({ok_status({{"room", room}})});
      },
      [ack](sio::socket& s, const caf::error& err) { failed(s, ack, err); });
}

void on_send_message(chat_app&, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto user = joined_user(s, ack);
  if (!user)
    return;
  auto& p = first_arg(m);
  auto text = p.is_string() ? std::optional<std::string>(std::string(p.as_string())) : string_field(p, "message");
  if (!text || text->empty())
    return refuse(s, ack, "message is required");
  if (text_length(*text) > 5000)
    return refuse(s, ack, "message is too long (max 5000)");
  json::object out{{"username", *user}, {"text", *text}, {"timestamp", iso_now()}, {"socketId", s.id()}};
  if (auto room = string_field(p, "room"); room && !room->empty()) {
    out["room"] = *room;
    s.nsp_all().to(*room).emit("message", {out});
  } else {
    s.nsp_all().emit("message", {out});
  }
  ack({ok_status()});
}

void on_private_message(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto sender = joined_user(s, ack);
  if (!sender)
    return;
  auto& p = first_arg(m);
  auto to = string_field(p, "to");
  auto text = string_field(p, "message");
  if (!to || !text)
    return refuse(s, ack, "Recipient not found");
  // The recipient may be on any node: the users actor knows them all.
  s.request<room_chat_users>(
      app.room_chat_users, chat_user_find{*to},
      [ack, from = *sender, to = *to, text = *text](sio::socket& s, room_chat_users& found) {
        if (found.users.empty())
          return refuse(s, ack, "Recipient not found");
        json::object data{
            {"from", from}, {"fromId", s.id()}, {"text", text}, {"timestamp", iso_now()}, {"private", true}};
        s.to(to).emit("private-message", {data});
        json::object sent{{"to", found.users.front().username}};
        for (auto& [k, v] : data)
          sent[k] = v;
        s.emit("private-message-sent", {sent});
        ack({ok_status()});
      },
      [ack](sio::socket& s, const caf::error& err) { failed(s, ack, err); });
}

// `typing` / `stop-typing` {room?}: `out_event` to the room (or all) but the sender.
void relay_typing(sio::socket& s, sio::message& m, const sio::ack_responder& ack, const char* out_event) {
  auto user = joined_user(s, ack);
  if (!user)
    return;
  auto room = string_field(first_arg(m), "room");
  json::object out{{"username", *user}};
  if (room && !room->empty()) {
    out["room"] = *room;
    s.to(*room).emit(out_event, {out});
  } else {
    s.broadcast_all().emit(out_event, {out});
  }
  ack({ok_status()});
}

void on_typing(chat_app&, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  relay_typing(s, m, ack, "user-typing");
}

void on_stop_typing(chat_app&, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  relay_typing(s, m, ack, "user-stop-typing");
}

void on_leave_room(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto user = joined_user(s, ack);
  if (!user)
    return;
  auto room = room_name(first_arg(m));
  if (!room)
    return refuse(s, ack, "room is required");
  s.leave(*room);
  caf::anon_send(app.room_chat_users, chat_user_leave_room{s.id(), *room});
  s.nsp_all().to(*room).emit("user-left-room", {json::object{{"username", *user}, {"room", *room}}});
  s.emit("left-room", {json::object{{"room", *room}}});
  ack({ok_status({{"room", *room}})});
}

// The users actor announces it (user-disconnected, users-list): the socket is gone.
void on_disconnected(chat_app& app, sio::socket& s, const std::string&) {
  if (s.data().contains(chat_name_key))
    caf::anon_send(app.room_chat_users, chat_user_gone{s.id()});
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
