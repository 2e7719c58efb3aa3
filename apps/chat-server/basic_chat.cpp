// Seed 003's chat on the namespace its `io()` clients reach (docs/chat-protocol.md §9,
// default `/`): module "basic-chat". `message` to everyone, the simple rooms
// (`join-room`, `room-message`, `leave-room`), private messages to a socket id, and
// `client-error`.
#include "apps/chat-server/chat_internal.hpp"

#include <spdlog/spdlog.h>

namespace chat {

namespace {

// The checks every text a client sends through this module passes.
std::optional<std::string> text_error(const std::optional<std::string>& text, std::string_view field) {
  if (!text || text->empty())
    return std::string(field) + " is required";
  if (text_length(*text) > 5000)
    return std::string(field) + " is too long (max 5000)";
  return std::nullopt;
}

// With verified identities, who sends: the token's name and id, never the payload's.
void stamp_identity(chat_app& app, sio::socket& s, json::object& out) {
  if (!verified(app))
    return;
  out["username"] = user_name_of(s);
  out["userId"] = user_id_of(s).value_or("");
}

// `message` data: to everyone of the namespace, the sender included. Anonymous clients'
// data goes out as sent (seed 003's first server); with verified identities it is the
// seed's JWT variant, {username, userId, text, timestamp}, names from the token.
void on_message(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  if (m.args.empty())
    return refuse(s, ack, "message is required");
  auto text = string_field(first_arg(m), "text");
  if (text && text_length(*text) > 5000)
    return refuse(s, ack, "text is too long (max 5000)");
  if (verified(app)) {
    if (auto err = text_error(text, "text"))
      return refuse(s, ack, *err);
  }
  if (!app.allow_send(s))
    return refuse(s, ack, "Rate limit exceeded");
  if (verified(app)) {
    json::object out{{"text", *text}, {"timestamp", iso_now()}};
    stamp_identity(app, s, out);
    s.nsp_all().emit("message", {std::move(out)});
  } else {
    s.nsp_all().emit("message", std::move(m));
  }
  ack({ok_status()});
}

// `join-room` roomName | {room}: joined by the rules of §5 and §8; then `joined-room`
// {room, message} to the sender and `user-joined` {userId, message} to the others in
// the room (seed 003), and the ack {status:"ok", room} (seed 001's `join-room`).
void on_join_room(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto room = room_name(first_arg(m));
  if (!room)
    return refuse(s, ack, "room is required");
  sio::socket handle = s;
  join_checked(app, s, *room, sio::ack_responder([handle, room = *room, ack](sio::message answer) mutable {
                 const json::object* reply =
                     !answer.args.empty() && answer.args[0].is_object() ? &answer.args[0].as_object() : nullptr;
                 auto* status = reply ? reply->if_contains("status") : nullptr;
                 bool joined = status && *status == "ok";
                 if (joined && handle.connected()) {
                   handle.to(room).emit("user-joined", {json::object{{"userId", handle.id()},
                                                                     {"message", handle.id() + " joined " + room}}});
                   handle.emit("joined-room", {json::object{{"room", room}, {"message", "You joined " + room}}});
                 }
                 if (ack.wanted())
                   return ack(std::move(answer));
                 if (!joined && handle.connected()) {
                   auto* error = reply ? reply->if_contains("error") : nullptr;
                   auto why = error && error->is_string() ? std::string(error->as_string()) : std::string("Forbidden");
                   handle.emit("error", {json::object{{"message", why + ": " + room}}});
                 }
               }));
}

// `leave-room` roomName | {room}: `user-left` {userId, message} to those still in it.
void on_leave_room(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto room = room_name(first_arg(m));
  if (!room)
    return refuse(s, ack, "room is required");
  bool was_in = s.in_room(*room);
  leave_checked(app, s, *room, ack);
  if (was_in)
    s.to(*room).emit("user-left", {json::object{{"userId", s.id()}, {"message", s.id() + " left " + *room}}});
}

// `room-message` {room, message}: `message` {room, sender, text, timestamp} to the room,
// the sender included. Only a member of the room speaks in it.
void on_room_message(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto& p = first_arg(m);
  auto room = room_name(p.is_object() ? p : json::value());
  if (!room)
    return refuse(s, ack, "room is required");
  auto text = string_field(p, "message");
  if (auto err = text_error(text, "message"))
    return refuse(s, ack, *err);
  if (!s.in_room(*room))
    return refuse(s, ack, "Join the room first");
  if (!app.allow_send(s))
    return refuse(s, ack, "Rate limit exceeded");
  json::object out{{"room", *room}, {"sender", s.id()}, {"text", *text}, {"timestamp", iso_now()}};
  stamp_identity(app, s, out);
  s.nsp_all().to(*room).emit("message", {std::move(out)});
  ack({ok_status()});
}

// `private-message` {to: socketId, message}: `private-message` {from, text, timestamp} to
// that socket alone.
void on_private_message(chat_app& app, sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
  auto& p = first_arg(m);
  auto to = string_field(p, "to");
  auto text = string_field(p, "message");
  if (auto err = text_error(text, "message"))
    return refuse(s, ack, *err);
  if (!to || !app.is_other_socket_room(s, *to))
    return refuse(s, ack, "Recipient not found");
  if (!app.allow_send(s))
    return refuse(s, ack, "Rate limit exceeded");
  json::object out{{"from", s.id()}, {"text", *text}, {"timestamp", iso_now()}};
  stamp_identity(app, s, out);
  s.to(*to).emit("private-message", {std::move(out)});
  ack({ok_status()});
}

// `client-error` anything: the client reports a problem of its own; `error-response`
// tells it to try again (seed 003), whatever it sent.
void on_client_error(chat_app&, sio::socket& s, sio::message&, const sio::ack_responder& ack) {
  spdlog::debug("client-error from {}", s.id());
  s.emit("error-response", {json::object{{"message", "Error received, please try again"}}});
  ack({ok_status()});
}

} // namespace

void mount_basic_chat(chat_app& app) {
  if (app.opts.basic_chat_namespace.empty())
    return;
  app.io.of(app.opts.basic_chat_namespace)
      .module("basic-chat")
      .on_connection([&app](sio::socket& s) { app.track_socket_id(s); })
      .on("message", with_app(app, on_message))
      .on("join-room", with_app(app, on_join_room))
      .on("leave-room", with_app(app, on_leave_room))
      .on("room-message", with_app(app, on_room_message))
      .on("private-message", with_app(app, on_private_message))
      .on("client-error", with_app(app, on_client_error));
}

} // namespace chat
