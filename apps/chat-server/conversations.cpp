// Conversations, presence and private rooms (docs/chat-protocol.md §2, §5; seeds 001,
// 002, 004): messages stored before they are broadcast, receipts, edits and deletes.
#include "apps/chat-server/chat_internal.hpp"

#include "actors/persistence_actor.hpp"

#include <algorithm>

namespace chat {

json::object message_json(const persistence::conversation_message& m) {
  json::object out{
      {"id", m.id},           {"_id", m.id},    {"conversationId", m.conversation_id}, {"senderId", m.sender_id},
      {"content", m.content}, {"type", m.type}, {"createdAt", iso_time(m.created_at)}, {"deleted", m.deleted}};
  if (m.file_url)
    out["fileUrl"] = *m.file_url;
  if (m.file_name)
    out["fileName"] = *m.file_name;
  if (m.edited_at)
    out["editedAt"] = iso_time(*m.edited_at);
  json::array delivered, read;
  for (auto& u : m.delivered_to)
    delivered.emplace_back(u);
  for (auto& u : m.read_by)
    read.emplace_back(u);
  out["deliveredTo"] = std::move(delivered);
  out["readBy"] = std::move(read);
  return out;
}

std::optional<std::string> parse_new_message(const json::value& p, std::optional<std::string> conversation_id,
                                             persistence::conversation_message& out) {
  if (!p.is_object())
    return "Missing required fields";
  if (!conversation_id)
    conversation_id = id_field(p, "conversationId");
  auto sender = id_field(p, "senderId");
  auto content = string_field(p, "content");
  auto type = string_field(p, "type").value_or("text");
  if (!conversation_id || !sender || !content)
    return "Missing required fields";
  if (!persistence::valid_message_type(type))
    return "Invalid message type";
  if (content->empty() && type == "text")
    return "Missing required fields";
  if (text_length(*content) > 5000)
    return "Message too long";
  out.conversation_id = *conversation_id;
  out.sender_id = *sender;
  out.content = *content;
  out.type = type;
  out.file_url = string_field(p, "fileUrl");
  out.file_name = string_field(p, "fileName");
  return std::nullopt;
}

namespace {

std::optional<std::string> room_of(const json::value& p) {
  if (p.is_string() && !p.as_string().empty())
    return std::string(p.as_string());
  if (auto r = id_field(p, "room"))
    return r;
  return id_field(p, "conversationId");
}

// Whether the socket's user is one of those the room's name admits (private-user.{u},
// private-chat.{a-b}: docs/chat-protocol.md §5); true for rooms that name nobody.
bool named_admits(sio::socket& s, const std::string& room) {
  auto named = persistence::named_participants(room);
  if (!named)
    return true;
  auto user = user_id_of(s);
  return user && std::binary_search(named->begin(), named->end(), *user);
}

// Whether the socket's user may act in a conversation it sends no store request about
// (typing): one that joined it (joining checked participation), or one its name admits.
bool takes_part(const chat_app& app, sio::socket& s, const std::string& conversation) {
  return !verified(app) || s.in_room(conversation)
         || (persistence::named_participants(conversation) && named_admits(s, conversation));
}

// A join or leave that names no room: answered like a refused join, never silently.
void room_required(sio::socket& s, const sio::ack_responder& ack) {
  if (ack.wanted())
    ack({error_status("room is required")});
  else
    s.emit("error", {json::object{{"message", "room is required"}}});
}

void refuse_join(sio::socket& s, const std::string& room, const sio::ack_responder& ack) {
  if (ack.wanted())
    ack({error_status("Forbidden")});
  else
    s.emit("error", {json::object{{"message", "Forbidden: " + room}}});
}

// Joins `room`: a room named for its users admits them alone; with verified identities
// any other room is a conversation whose participants the store keeps, so the store says
// first whether this user takes part (or becomes a participant of an open one).
void join_room(chat_app& app, sio::socket& s, const std::string& room, const sio::ack_responder& ack) {
  // Another socket's own room carries what is sent to that socket alone.
  if (!named_admits(s, room) || app.is_other_socket_room(s, room))
    return refuse_join(s, room, ack);
  if (!verified(app) || persistence::named_participants(room) || s.in_room(room))
    return enter_room(app, s, room, ack);
  s.request<caf::ok_atom>(
      app.persistence, join_conversation{room, user_id_of(s).value_or(""), app.opts.open_conversations, now_ms()},
      [&app, room, ack](sio::socket& s, caf::ok_atom) { enter_room(app, s, room, ack); },
      [room, ack](sio::socket& s, const caf::error& err) {
        if (err.category() == persistence_error_category
            && static_cast<persistence_errc>(err.code()) == persistence_errc::not_participant)
          return refuse_join(s, room, ack);
        if (ack.wanted())
          return ack({error_status(describe(err))});
        s.emit("error", {json::object{{"message", describe(err) + ": " + room}}});
      });
}

// An error goes through the ack when the client asked for one, else as `messageError`.
void message_error(sio::socket& s, const sio::ack_responder& ack, std::string_view error) {
  if (ack.wanted())
    return ack({error_status(error)});
  s.emit("messageError", {json::object{{"error", error}}});
}

// Store-then-broadcast answers: the room event on success, messageError otherwise.
template <class Reply, class Request, class OnStored>
void store_then(chat_app& app, sio::socket& s, Request req, const sio::ack_responder& ack, OnStored on_stored) {
  s.request<Reply>(
      app.persistence, std::move(req), [ack, on_stored](sio::socket& s, Reply& stored) { on_stored(s, stored, ack); },
      [ack](sio::socket& s, const caf::error& err) { message_error(s, ack, describe(err)); });
}

// Once stored: `event` {conversationId, message} to the message's room, the sender
// included, and the ack with the message's id.
auto announce_stored(const char* event) {
  return [event](sio::socket& s, persistence::conversation_message& stored, const sio::ack_responder& ack) {
    s.nsp_all()
        .to(stored.conversation_id)
        .emit(event, {json::object{{"conversationId", stored.conversation_id}, {"message", message_json(stored)}}});
    ack({ok_status({{"id", stored.id}})});
  };
}

struct receipt_fields {
  std::string conversation_id, message_id, user_id;
};

std::optional<receipt_fields> parse_receipt(const json::value& p, std::string_view user_key) {
  auto c = id_field(p, "conversationId");
  auto m = id_field(p, "messageId");
  auto u = id_field(p, user_key);
  if (!c || !m || !u)
    return std::nullopt;
  return receipt_fields{*c, *m, *u};
}

} // namespace

void mount_conversations(chat_app& app) {
  app.namespaces.insert(app.opts.conversations_namespace);
  app.io.of(app.opts.conversations_namespace).on_connection([&app](sio::socket& s) {
    app.track_socket_id(s);
    on_identity(app, s);

    auto join_handler = [&app](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
      auto room = room_of(first_arg(m));
      if (!room)
        return room_required(s, ack);
      join_room(app, s, *room, ack);
    };
    auto leave_handler = [&app](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
      auto room = room_of(first_arg(m));
      if (!room)
        return room_required(s, ack);
      leave_room(app, s, *room, ack);
    };
    s.on("joinRoom", join_handler);
    s.on("join", join_handler);
    s.on("leaveRoom", leave_handler);
    s.on("leave", leave_handler);

    s.on("sendMessage", [&app](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
      persistence::conversation_message msg;
      if (auto err = parse_new_message(first_arg(m), std::nullopt, msg))
        return message_error(s, ack, *err);
      if (auto refusal = not_oneself(app, s, msg.sender_id, "senderId"))
        return message_error(s, ack, *refusal);
      if (!app.allow_send(s))
        return message_error(s, ack, "Rate limit exceeded");
      store_then<persistence::conversation_message>(app, s, store_message{msg, verified(app)}, ack,
                                                    announce_stored("receiveMessage"));
    });

    auto typing = [&app](const char* out_event) {
      return [&app, out_event](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
        auto& p = first_arg(m);
        auto conversation = id_field(p, "conversationId");
        if (!conversation)
          return message_error(s, ack, "Missing required fields");
        json::value user = nullptr;
        if (auto u = id_field(p, "userId")) {
          if (auto refusal = not_oneself(app, s, *u, "userId"))
            return message_error(s, ack, *refusal);
          user = *u;
        } else if (verified(app)) {
          user = user_id_of(s).value_or("");
        }
        if (!takes_part(app, s, *conversation))
          return message_error(s, ack, not_participant_error);
        s.to(*conversation).emit(out_event, {json::object{{"conversationId", *conversation}, {"userId", user}}});
        ack({ok_status()});
      };
    };
    s.on("typing", typing("userTyping"));
    s.on("stopTyping", typing("userStoppedTyping"));

    auto receipt_handler = [&app](bool read) {
      return [&app, read](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
        auto r = parse_receipt(first_arg(m), "userId");
        if (!r)
          return message_error(s, ack, "Missing required fields");
        if (auto refusal = not_oneself(app, s, r->user_id, "userId"))
          return message_error(s, ack, *refusal);
        // To the message's own conversation, whatever conversationId the payload named.
        auto on_stored = [read](sio::socket& s, persistence::receipt& rec, const sio::ack_responder& ack) {
          s.nsp_all()
              .to(rec.conversation_id)
              .emit(read ? "messageRead" : "messageDelivered",
                    {json::object{{"conversationId", rec.conversation_id},
                                  {"messageId", rec.message_id},
                                  {"userId", rec.user_id},
                                  {read ? "readAt" : "deliveredAt", iso_time(rec.at)}}});
          ack({ok_status()});
        };
        auto checked = verified(app);
        if (read)
          store_then<persistence::receipt>(app, s, mark_read{r->message_id, r->user_id, now_ms(), checked}, ack,
                                           on_stored);
        else
          store_then<persistence::receipt>(app, s, mark_delivered{r->message_id, r->user_id, now_ms(), checked}, ack,
                                           on_stored);
      };
    };
    s.on("markDelivered", receipt_handler(false));
    s.on("markRead", receipt_handler(true));

    s.on("editMessage", [&app](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
      auto& p = first_arg(m);
      auto r = parse_receipt(p, "senderId");
      auto content = string_field(p, "content");
      if (!r || !content)
        return message_error(s, ack, "Missing required fields");
      if (text_length(*content) > 5000)
        return message_error(s, ack, "Message too long");
      if (auto refusal = not_oneself(app, s, r->user_id, "senderId"))
        return message_error(s, ack, *refusal);
      store_then<persistence::conversation_message>(
          app, s, edit_message{r->message_id, *content, r->user_id, now_ms(), verified(app)}, ack,
          announce_stored("messageEdited"));
    });

    s.on("deleteMessage", [&app](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
      auto r = parse_receipt(first_arg(m), "senderId");
      if (!r)
        return message_error(s, ack, "Missing required fields");
      if (auto refusal = not_oneself(app, s, r->user_id, "senderId"))
        return message_error(s, ack, *refusal);
      store_then<persistence::conversation_message>(
          app, s, delete_message{r->message_id, r->user_id, now_ms(), verified(app)}, ack,
          [](sio::socket& s, persistence::conversation_message& stored, const sio::ack_responder& ack) {
            s.nsp_all()
                .to(stored.conversation_id)
                .emit("messageDeleted",
                      {json::object{{"conversationId", stored.conversation_id}, {"messageId", stored.id}}});
            ack({ok_status({{"id", stored.id}})});
          });
    });

    s.on_disconnect([&app](sio::socket& s, const std::string&) {
      for (auto& room : s.rooms())
        presence_leave(app, s, room);
      on_identity_gone(app, s);
    });
  });
}

} // namespace chat
