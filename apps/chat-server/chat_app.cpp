#include "apps/chat-server/chat_internal.hpp"

#include "actors/persistence_actor.hpp"

#include <jwt.h>
#include <spdlog/spdlog.h>

namespace chat {

// -- authentication (§4) -------------------------------------------------------------------

namespace {

struct jwt_claims {
  json::object claims;
  std::string error; // empty when valid
};

// HS256 only: libjwt checks the signature with our key; we refuse any other algorithm
// (notably "none") and check `exp` ourselves.
jwt_claims verify_jwt(const std::string& token, const std::string& secret) {
  jwt_claims out;
  jwt_t* jwt = nullptr;
  if (jwt_decode(&jwt, token.c_str(), reinterpret_cast<const unsigned char*>(secret.data()),
                 static_cast<int>(secret.size()))
          != 0
      || !jwt) {
    out.error = "Authentication error: Invalid token";
    return out;
  }
  std::unique_ptr<jwt_t, void (*)(jwt_t*)> guard(jwt, jwt_free);
  if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
    out.error = "Authentication error: Invalid token";
    return out;
  }
  char* grants = jwt_get_grants_json(jwt, nullptr);
  if (!grants) {
    out.error = "Authentication error: Invalid token";
    return out;
  }
  std::string text(grants);
  free(grants);
  boost::system::error_code ec;
  auto parsed = json::parse(text, ec);
  if (ec || !parsed.is_object()) {
    out.error = "Authentication error: Invalid token";
    return out;
  }
  out.claims = std::move(parsed.as_object());
  if (auto* exp = out.claims.if_contains("exp"); exp && exp->is_number()) {
    if (exp->to_number<double>() * 1000.0 <= static_cast<double>(now_ms()))
      out.error = "Authentication error: Token expired";
  }
  return out;
}

void set_identity(sio::socket& s, const json::value& source, std::initializer_list<std::string_view> id_keys,
                  std::initializer_list<std::string_view> name_keys) {
  for (auto key : id_keys)
    if (auto id = id_field(source, key)) {
      s.data()["userId"] = *id;
      break;
    }
  for (auto key : name_keys)
    if (auto name = string_field(source, key)) {
      s.data()["username"] = *name;
      break;
    }
}

} // namespace

bool authenticate_token(const chat_app& app, const std::string& token) {
  return !app.opts.jwt_secret.empty() && verify_jwt(token, app.opts.jwt_secret).error.empty();
}

std::optional<sio::connect_error> authenticate(const chat_app& app, sio::socket& s, bool require_admin) {
  auto& auth = s.handshake().auth;
  auto token = string_field(json::value(auth), "token");
  if (require_admin) {
    if (token && !app.opts.admin_token.empty() && *token == app.opts.admin_token)
      return std::nullopt;
    if (token && !app.opts.jwt_secret.empty()) {
      auto v = verify_jwt(*token, app.opts.jwt_secret);
      auto* role = v.claims.if_contains("role");
      if (v.error.empty() && role && role->is_string() && role->as_string() == "admin")
        return std::nullopt;
    }
    return sio::connect_error{"Authentication error: admin credential required"};
  }
  if (app.opts.jwt_secret.empty()) {
    set_identity(s, json::value(auth), {"userId", "user_id", "id"}, {"username", "name"});
    return std::nullopt;
  }
  if (!token || token->empty())
    return sio::connect_error{"Authentication error: No token provided"};
  auto v = verify_jwt(*token, app.opts.jwt_secret);
  if (!v.error.empty())
    return sio::connect_error{v.error};
  json::value claims(v.claims);
  set_identity(s, claims, {"userId", "sub", "id"}, {"username", "name"});
  if (auto* role = v.claims.if_contains("role"); role && role->is_string())
    s.data()["role"] = *role;
  return std::nullopt;
}

// -- identity and online status (§5) ------------------------------------------------------------

void on_identity(chat_app& app, sio::socket& s) {
  auto user = user_id_of(s);
  if (!user || s.data().contains("identityCounted"))
    return;
  s.data()["identityCounted"] = true;
  s.join("private-user." + *user);
  if (s.nsp() != app.opts.conversations_namespace)
    return;
  bool first = false;
  {
    std::lock_guard<std::mutex> guard(app.presence_mutex);
    first = ++app.online[*user] == 1;
  }
  if (first)
    s.nsp_all().emit(
        "user.status.changed",
        {json::object{{"user", json::object{{"id", *user}, {"is_online", true}, {"last_seen", iso_now()}}}}});
}

namespace {

void on_identity_gone(chat_app& app, sio::socket& s) {
  auto user = user_id_of(s);
  if (!user || !s.data().contains("identityCounted") || s.nsp() != app.opts.conversations_namespace)
    return;
  bool last = false;
  {
    std::lock_guard<std::mutex> guard(app.presence_mutex);
    auto it = app.online.find(*user);
    if (it != app.online.end() && --it->second <= 0) {
      app.online.erase(it);
      last = true;
    }
  }
  if (!last)
    return;
  auto now = now_ms();
  caf::anon_send(app.persistence, update_last_seen{*user, now});
  s.nsp_all().emit(
      "user.status.changed",
      {json::object{{"user", json::object{{"id", *user}, {"is_online", false}, {"last_seen", iso_time(now)}}}}});
}

} // namespace

bool chat_app::allow_send(const std::string& key) {
  auto now = now_ms();
  std::lock_guard<std::mutex> guard(rate_mutex);
  auto& times = rate[key];
  while (!times.empty() && now - times.front() >= 60000)
    times.pop_front();
  if (static_cast<int>(times.size()) >= opts.rate_limit_per_minute)
    return false;
  times.push_back(now);
  return true;
}

// -- platform events (§1) -------------------------------------------------------------------------

void mount_platform(chat_app& app) {
  app.namespaces.insert(app.opts.platform_namespace);
  app.io.of(app.opts.platform_namespace).on_connection([&app](sio::socket& s) {
    auto connected_at = now_ms();
    s.data()["connectedAt"] = connected_at;
    auto total = ++app.platform_sockets;
    caf::anon_send(app.persistence, record_connect{s.id(), connected_at});
    s.nsp_all().emit("user-connected", {json::object{{"socketId", s.id()},
                                                     {"connectedAt", connected_at},
                                                     {"totalConnected", total},
                                                     {"timestamp", iso_time(connected_at)}}});

    // An error goes through the ack when the client asked for one, else as `error`.
    auto fail = [](sio::socket& s, const sio::ack_responder& ack, std::string_view message) {
      if (ack.wanted())
        return ack({error_status(message)});
      s.emit("error", {json::object{{"message", message}}});
    };

    s.on("identify", [&app, fail](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
      auto& p = first_arg(m);
      if (!p.is_object())
        return fail(s, ack, "Invalid payload: expected an object");
      auto user = id_field(p, "userId");
      if (!user)
        return fail(s, ack, "userId is required");
      auto platform = string_field(p, "platform").value_or("unknown");
      auto version = string_field(p, "appVersion").value_or("");
      s.data()["platform"] = platform;
      if (!user_id_of(s))
        s.data()["userId"] = *user;
      caf::anon_send(app.persistence, record_identify{s.id(), *user, platform, version, now_ms()});
      on_identity(app, s);
      json::object out{{"socketId", s.id()}, {"message", "Client identified successfully"}, {"timestamp", iso_now()}};
      s.emit("identified", {out});
      ack({ok_status()});
    });

    s.on("send-message", [&app, fail](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
      auto& p = first_arg(m);
      if (!p.is_object())
        return fail(s, ack, "Invalid payload: expected an object");
      auto sender = string_field(p, "sender");
      auto text = string_field(p, "text");
      if (!sender || sender->empty())
        return fail(s, ack, "sender is required");
      if (sender->size() > 100)
        return fail(s, ack, "sender is too long (max 100)");
      if (!text || text->empty())
        return fail(s, ack, "text is required");
      if (text->size() > 5000)
        return fail(s, ack, "text is too long (max 5000)");
      auto key = user_id_of(s).value_or("sender:" + *sender);
      if (!app.allow_send(key))
        return fail(s, ack, "Rate limit exceeded");
      persistence::platform_message log{s.id(), *sender, *text, string_field(p, "platform").value_or(""), now_ms()};
      // Broadcast at once, then log (APP_PROTOCOL §1 only asks for the message to be
      // logged; waiting for the commit's fsync would add milliseconds to every delivery).
      // The ack carries the store's id, so it waits for the commit.
      s.nsp_all().emit("receive-message", {json::object{{"socketId", s.id()},
                                                        {"sender", log.sender},
                                                        {"text", log.text},
                                                        {"platform", log.platform},
                                                        {"timestamp", iso_time(log.created_at)}}});
      s.request<std::int64_t>(
          app.persistence, log_platform_message{std::move(log)},
          [ack](sio::socket&, std::int64_t seq) { ack({ok_status({{"id", seq}})}); },
          [ack, fail](sio::socket& s, const caf::error& err) {
            fail(s, ack, "Failed to store message: " + describe(err));
          });
    });

    s.on("custom-event", [fail](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
      auto& p = first_arg(m);
      if (!p.is_object())
        return fail(s, ack, "Invalid payload: expected an object");
      if (!string_field(p, "eventType"))
        return fail(s, ack, "eventType is required");
      sio::message out{json::object{{"from", s.id()}, {"data", p}, {"timestamp", iso_now()}}};
      out.attachments = m.attachments;
      s.nsp_all().emit("custom-event", std::move(out));
      ack({ok_status()});
    });

    s.on("ping", [](sio::socket& s, sio::message&, const sio::ack_responder& ack) {
      json::object pong{{"timestamp", iso_now()}};
      s.emit("pong", {pong});
      ack({pong});
    });

    s.on_disconnect([&app](sio::socket& s, const std::string&) {
      auto now = now_ms();
      auto total = --app.platform_sockets;
      std::int64_t connected_at = now;
      if (auto* c = s.data().if_contains("connectedAt"); c && c->is_int64())
        connected_at = c->as_int64();
      json::value platform = nullptr;
      if (auto* p = s.data().if_contains("platform"))
        platform = *p;
      caf::anon_send(app.persistence, record_disconnect{s.id(), now});
      s.broadcast_all().emit("user-disconnected", {json::object{{"socketId", s.id()},
                                                                {"platform", platform},
                                                                {"connectedDuration", now - connected_at},
                                                                {"totalConnected", total},
                                                                {"timestamp", iso_time(now)}}});
    });
  });
}

// -- conversations, presence, private rooms (§2, §5) ---------------------------------------------

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
  if (content->size() > 5000)
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

bool is_presence_room(const std::string& room) {
  return room.rfind("presence-", 0) == 0 || room.rfind("presence.", 0) == 0;
}

// Private rooms admit only their users (docs/chat-protocol.md §5).
bool may_join(sio::socket& s, const std::string& room) {
  static const std::string user_prefix = "private-user.", chat_prefix = "private-chat.";
  auto user = user_id_of(s);
  if (room.rfind(user_prefix, 0) == 0)
    return user && room.substr(user_prefix.size()) == *user;
  if (room.rfind(chat_prefix, 0) == 0) {
    if (!user)
      return false;
    auto rest = room.substr(chat_prefix.size());
    std::size_t start = 0;
    while (start <= rest.size()) {
      auto end = rest.find_first_of("-_", start);
      if (rest.substr(start, end == std::string::npos ? std::string::npos : end - start) == *user)
        return true;
      if (end == std::string::npos)
        break;
      start = end + 1;
    }
    return false;
  }
  return true;
}

json::object member_json(const std::string& user, const json::object& info) {
  return json::object{{"user_id", user}, {"user_info", info}};
}

json::array presence_members(chat_app& app, const std::string& room) {
  json::array members;
  auto it = app.presence.find(room);
  if (it != app.presence.end())
    for (auto& [user, m] : it->second)
      members.push_back(member_json(user, m.info));
  return members;
}

// Joins `room` with the checks and presence bookkeeping; answers through ack or events.
void join_room(chat_app& app, sio::socket& s, const std::string& room, const sio::ack_responder& ack) {
  if (!may_join(s, room)) {
    if (ack.wanted())
      ack({error_status("Forbidden")});
    else
      s.emit("error", {json::object{{"message", "Forbidden: " + room}}});
    return;
  }
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
  if (!is_presence_room(room) || already) {
    if (is_presence_room(room)) {
      json::array members;
      {
        std::lock_guard<std::mutex> guard(app.presence_mutex);
        members = presence_members(app, room);
      }
      // Answered outside the lock: an answer may close the session, whose disconnect
      // handler takes the lock again.
      ack({ok_status({{"room", room}, {"members", members}})});
    } else {
      ack({ok_status({{"room", room}})});
    }
    return;
  }
  auto user = user_id_of(s).value_or(s.id());
  json::object info{{"name", user_name_of(s)}};
  bool first = false;
  json::array members;
  {
    std::lock_guard<std::mutex> guard(app.presence_mutex);
    auto& m = app.presence[room][user];
    first = m.sockets++ == 0;
    if (first)
      m.info = info;
    members = presence_members(app, room);
  }
  if (first)
    s.to(room).emit("user.joined", {member_json(user, info)});
  s.emit("presence.members", {json::object{{"room", room}, {"members", members}}});
  ack({ok_status({{"room", room}, {"members", members}})});
}

void presence_leave(chat_app& app, sio::socket& s, const std::string& room) {
  if (!is_presence_room(room))
    return;
  auto user = user_id_of(s).value_or(s.id());
  json::object info;
  bool last = false;
  {
    std::lock_guard<std::mutex> guard(app.presence_mutex);
    auto r = app.presence.find(room);
    if (r == app.presence.end())
      return;
    auto m = r->second.find(user);
    if (m == r->second.end())
      return;
    if (--m->second.sockets <= 0) {
      info = m->second.info;
      r->second.erase(m);
      last = true;
      if (r->second.empty())
        app.presence.erase(r);
    }
  }
  if (last)
    s.nsp_all().to(room).emit("user.left", {member_json(user, info)});
}

void leave_room(chat_app& app, sio::socket& s, const std::string& room, const sio::ack_responder& ack) {
  bool was_in = s.in_room(room);
  s.leave(room);
  if (was_in)
    presence_leave(app, s, room);
  ack({ok_status({{"room", room}})});
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
    on_identity(app, s);

    auto join_handler = [&app](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
      auto room = room_of(first_arg(m));
      if (!room)
        return ack({error_status("room is required")});
      join_room(app, s, *room, ack);
    };
    auto leave_handler = [&app](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
      auto room = room_of(first_arg(m));
      if (!room)
        return ack({error_status("room is required")});
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
      store_then<persistence::conversation_message>(
          app, s, store_message{msg}, ack,
          [](sio::socket& s, persistence::conversation_message& stored, const sio::ack_responder& ack) {
            s.nsp_all()
                .to(stored.conversation_id)
                .emit("receiveMessage",
                      {json::object{{"conversationId", stored.conversation_id}, {"message", message_json(stored)}}});
            ack({ok_status({{"id", stored.id}})});
          });
    });

    auto typing = [](const char* out_event) {
      return [out_event](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
        auto& p = first_arg(m);
        auto conversation = id_field(p, "conversationId");
        if (!conversation)
          return message_error(s, ack, "Missing required fields");
        json::value user = nullptr;
        if (auto u = id_field(p, "userId"))
          user = *u;
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
        auto on_stored = [read, conversation = r->conversation_id](sio::socket& s, persistence::receipt& rec,
                                                                   const sio::ack_responder& ack) {
          s.nsp_all()
              .to(conversation)
              .emit(read ? "messageRead" : "messageDelivered",
                    {json::object{{"conversationId", conversation},
                                  {"messageId", rec.message_id},
                                  {"userId", rec.user_id},
                                  {read ? "readAt" : "deliveredAt", iso_time(rec.at)}}});
          ack({ok_status()});
        };
        if (read)
          store_then<persistence::receipt>(app, s, mark_read{r->message_id, r->user_id, now_ms()}, ack, on_stored);
        else
          store_then<persistence::receipt>(app, s, mark_delivered{r->message_id, r->user_id, now_ms()}, ack, on_stored);
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
      if (content->size() > 5000)
        return message_error(s, ack, "Message too long");
      store_then<persistence::conversation_message>(
          app, s, edit_message{r->message_id, *content, r->user_id, now_ms()}, ack,
          [](sio::socket& s, persistence::conversation_message& stored, const sio::ack_responder& ack) {
            s.nsp_all()
                .to(stored.conversation_id)
                .emit("messageEdited",
                      {json::object{{"conversationId", stored.conversation_id}, {"message", message_json(stored)}}});
            ack({ok_status({{"id", stored.id}})});
          });
    });

    s.on("deleteMessage", [&app](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
      auto r = parse_receipt(first_arg(m), "senderId");
      if (!r)
        return message_error(s, ack, "Missing required fields");
      store_then<persistence::conversation_message>(
          app, s, delete_message{r->message_id, r->user_id, now_ms()}, ack,
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

// -- mounting -------------------------------------------------------------------------------------

std::shared_ptr<chat_app> mount_chat_app(sio::server& io, caf::actor_system& sys, caf::actor persistence,
                                         chat_options opts) {
  auto app = std::make_shared<chat_app>(io, sys, std::move(persistence), std::move(opts));
  auto& a = *app;
  for (auto* nsp : {&a.opts.platform_namespace, &a.opts.conversations_namespace, &a.opts.room_chat_namespace}) {
    if (a.namespaces.insert(*nsp).second)
      io.of(*nsp).use([&a](sio::socket& s) { return authenticate(a, s, false); });
  }
  mount_platform(a);
  mount_conversations(a);
  mount_room_chat(a);
  mount_admin(a);
  mount_http_api(a);
  return app;
}

void announce_shutdown(chat_app& app) {
  for (auto& nsp : app.namespaces)
    app.io.in(nsp).emit("server-shutting-down", {json::object{{"timestamp", iso_now()}}});
  app.io.in(app.opts.admin_namespace).emit("server-shutting-down", {json::object{{"timestamp", iso_now()}}});
}

} // namespace chat
