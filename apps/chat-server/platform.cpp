// Platform events (docs/chat-protocol.md §1, seed 000).
#include "apps/chat-server/chat_internal.hpp"

#include "actors/persistence_actor.hpp"

namespace chat {

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
      // With verified identities the token already said who this is.
      if (auto refusal = not_oneself(app, s, *user, "userId"))
        return fail(s, ack, *refusal);
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
      if (text_length(*sender) > 100)
        return fail(s, ack, "sender is too long (max 100)");
      if (!text || text->empty())
        return fail(s, ack, "text is required");
      if (text_length(*text) > 5000)
        return fail(s, ack, "text is too long (max 5000)");
      if (!app.allow_send(s))
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
          [ack](sio::socket&, std::int64_t seq) {
            ack({ok_status({{"id", seq}})});
          },
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

} // namespace chat
