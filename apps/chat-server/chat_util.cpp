#include "apps/chat-server/chat_util.hpp"

#include "actors/persistence_actor.hpp"

#include <chrono>
#include <ctime>

namespace chat {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso_time(std::int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  auto n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

std::optional<std::string> string_field(const json::value& payload, std::string_view key) {
  if (!payload.is_object())
    return std::nullopt;
  auto* v = payload.as_object().if_contains(key);
  if (!v || !v->is_string())
    return std::nullopt;
  return std::string(v->as_string());
}

std::optional<std::string> id_value(const json::value& v) {
  if (v.is_string() && !v.as_string().empty())
    return std::string(v.as_string());
  if (v.is_int64())
    return std::to_string(v.as_int64());
  if (v.is_uint64())
    return std::to_string(v.as_uint64());
  return std::nullopt;
}

std::optional<std::string> id_field(const json::value& payload, std::string_view key) {
  if (!payload.is_object())
    return std::nullopt;
  auto* v = payload.as_object().if_contains(key);
  return v ? id_value(*v) : std::nullopt;
}

std::size_t text_length(std::string_view utf8) {
  std::size_t n = 0;
  for (unsigned char c : utf8) {
    if ((c & 0xC0) == 0x80)
      continue;             // a continuation byte
    n += c >= 0xF0 ? 2 : 1; // above U+FFFF: a surrogate pair
  }
  return n;
}

const json::value& first_arg(const sio::message& m) {
  static const json::value null_value;
  return m.args.empty() ? null_value : m.args[0];
}

json::object ok_status(json::object extra) {
  json::object out{{"status", "ok"}};
  for (auto& [k, v] : extra)
    out[k] = v;
  return out;
}

json::object error_status(std::string_view error) {
  return json::object{{"status", "error"}, {"error", error}};
}

void refuse(sio::socket& s, const sio::ack_responder& ack, std::string_view message) {
  if (ack.wanted())
    return ack({error_status(message)});
  s.emit("error", {json::object{{"message", message}}});
}

std::optional<std::string> room_name(const json::value& payload) {
  if (payload.is_string() && !payload.as_string().empty())
    return std::string(payload.as_string());
  auto room = string_field(payload, "room");
  if (room && room->empty())
    return std::nullopt;
  return room;
}

std::string describe(const caf::error& err) {
  if (err.category() == persistence_error_category) {
    switch (static_cast<persistence_errc>(err.code())) {
    case persistence_errc::not_found:
      return "Message not found";
    case persistence_errc::forbidden:
      return "Forbidden";
    case persistence_errc::not_participant:
      return std::string(not_participant_error);
    case persistence_errc::duplicate:
      return "Duplicate message id";
    case persistence_errc::invalid_argument:
      return "Invalid request";
    case persistence_errc::storage_failure:
    case persistence_errc::unavailable:
      return "Storage unavailable";
    }
  }
  if (err == caf::sec::request_timeout)
    return "Storage timeout";
  return "Storage error";
}

std::optional<std::string> user_id_of(sio::socket& s) {
  auto* v = s.data().if_contains("userId");
  if (v && v->is_string())
    return std::string(v->as_string());
  return std::nullopt;
}

std::string user_name_of(sio::socket& s) {
  auto* v = s.data().if_contains("username");
  if (v && v->is_string())
    return std::string(v->as_string());
  if (auto id = user_id_of(s))
    return *id;
  return s.id();
}

} // namespace chat
