#include "apps/chat-server/echo_app.hpp"

namespace chat {

namespace json = boost::json;

namespace {

std::vector<std::string> string_list(const json::value* v) {
  std::vector<std::string> out;
  if (v && v->is_array())
    for (auto& item : v->as_array())
      if (item.is_string())
        out.emplace_back(item.as_string());
  return out;
}

json::object list_to_object(const sio::header_list& list) {
  json::object out;
  for (auto& [k, v] : list)
    out[k] = v;
  return out;
}

void echo_handlers(sio::socket& s) {
  s.emit("auth", {json::value(s.handshake().auth)});

  s.on("message", [](sio::socket& s, sio::message& m, const sio::ack_responder&) { s.emit("message-back", m); });

  s.on("message-with-ack", [](sio::socket&, sio::message& m, const sio::ack_responder& ack) { ack(std::move(m)); });

  // join / leave: the room name, acked back (a join past max-rooms-per-socket: an error).
  auto room_name = [](sio::message& m, const sio::ack_responder& ack) -> std::optional<std::string> {
    if (m.args.empty() || !m.args[0].is_string()) {
      ack({json::object{{"error", "room must be a string"}}});
      return std::nullopt;
    }
    return std::string(m.args[0].as_string());
  };
  s.on("join", [room_name](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
    auto room = room_name(m, ack);
    if (!room)
      return;
    if (s.join(*room) == sio::socket::join_result::limit_reached)
      return ack({json::object{{"error", "too many rooms"}}});
    ack({m.args[0]});
  });
  s.on("leave", [room_name](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
    auto room = room_name(m, ack);
    if (!room)
      return;
    s.leave(*room);
    ack({m.args[0]});
  });

  s.on("broadcast", [](sio::socket& s, sio::message& m, const sio::ack_responder& ack) {
    if (m.args.empty() || !m.args[0].is_object()) {
      ack({json::object{{"error", "expected {event, data, rooms?, except?}"}}});
      return;
    }
    auto& req = m.args[0].as_object();
    auto* event = req.if_contains("event");
    if (!event || !event->is_string()) {
      ack({json::object{{"error", "event must be a string"}}});
      return;
    }
    auto b = s.nsp_all();
    for (auto& room : string_list(req.if_contains("rooms")))
      b = b.to(room);
    for (auto& room : string_list(req.if_contains("except")))
      b = b.except(room);
    sio::message out;
    if (auto* data = req.if_contains("data"))
      out.args.push_back(*data);
    out.attachments = m.attachments;
    b.emit(event->as_string(), std::move(out));
    ack({"ok"});
  });

  s.on("server-ack", [](sio::socket& s, sio::message& m, const sio::ack_responder&) {
    std::int64_t timeout = 1000;
    if (!m.args.empty() && m.args[0].is_object())
      if (auto* t = m.args[0].as_object().if_contains("timeout"); t && t->is_number())
        timeout = t->to_number<std::int64_t>();
    s.emit_with_ack("ping-ack", {"hello"}, std::chrono::milliseconds(timeout),
                    [](sio::socket& s, std::optional<sio::message> reply) {
                      if (!reply) {
                        s.emit("ack-result", {json::object{{"ok", false}, {"error", "timeout"}}});
                        return;
                      }
                      sio::message out;
                      out.args.push_back(json::object{{"ok", true}, {"args", reply->args}});
                      out.attachments = std::move(reply->attachments);
                      s.emit("ack-result", std::move(out));
                    });
  });

  s.on("disconnect-me", [](sio::socket& s, sio::message&, const sio::ack_responder&) { s.disconnect(); });

  s.on("close-transport", [](sio::socket& s, sio::message&, const sio::ack_responder&) { s.close_transport(); });

  s.on("handshake", [](sio::socket& s, sio::message&, const sio::ack_responder& ack) {
    auto& hs = s.handshake();
    ack({json::object{{"query", list_to_object(hs.query)},
                      {"headers", list_to_object(hs.headers)},
                      {"address", hs.address},
                      {"auth", hs.auth}}});
  });

  s.on("rooms", [](sio::socket& s, sio::message&, const sio::ack_responder& ack) {
    json::array rooms;
    for (auto& r : s.rooms())
      rooms.emplace_back(r);
    ack({rooms});
  });
}

} // namespace

void mount_echo_app(sio::server& io) {
  io.of("/").on_connection(echo_handlers);
  io.of("/custom")
      .use([](sio::socket& s) -> std::optional<sio::connect_error> {
        auto* reject = s.handshake().auth.if_contains("reject");
        if (reject && reject->is_bool() && reject->as_bool())
          return sio::connect_error{"not authorized", json::object{{"code", "E_REJECTED"}}};
        return std::nullopt;
      })
      .on_connection(echo_handlers);
  io.of_pattern("^/dyn-[a-z0-9]+$").on_connection(echo_handlers);
}

} // namespace chat
