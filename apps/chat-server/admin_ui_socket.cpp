// A socket as the Admin UI shows it: socket.io admin-ui's serialize() (docs/admin-ui-protocol.md §2).
#include "apps/chat-server/admin_ui.hpp"

#include "actors/remote_socket_json.hpp"

#include <boost/json/parse.hpp>

#include <ctime>

namespace chat {

namespace json = boost::json;

namespace {

/// JavaScript's String(new Date(ms)) for UTC: "Fri Oct 07 2022 11:13:20 GMT+0000 (Coordinated Universal Time)".
std::string date_string(std::int64_t ms) {
  std::time_t t = ms / 1000;
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)", &utc);
  return buf;
}

} // namespace

std::string iso_ms(std::int64_t ms) {
  std::time_t t = ms / 1000;
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[40];
  auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

json::object admin_ui_socket(const sio::remote_socket& s) {
  boost::system::error_code ec;
  auto parsed = json::parse(s.data, ec);
  json::object data;
  if (!ec && parsed.is_object())
    data = std::move(parsed.get_object());
  data.erase("_admin"); // the Admin UI's own bookkeeping
  bool xdomain = false;
  for (auto& [k, v] : s.headers)
    xdomain = xdomain || k == "origin";
  json::object hs{{"address", s.address},
                  {"headers", sio::pairs_to_json(s.headers)},
                  {"query", sio::pairs_to_json(s.query)},
                  {"issued", s.issued_ms},
                  {"secure", false},
                  {"time", date_string(s.issued_ms)},
                  {"url", s.url},
                  {"xdomain", xdomain}};
  json::array rooms;
  for (auto& r : s.rooms)
    rooms.emplace_back(r);
  return json::object{{"id", s.id},
                      {"clientId", s.client},
                      {"transport", s.transport},
                      {"nsp", s.nsp},
                      {"data", std::move(data)},
                      {"handshake", std::move(hs)},
                      {"rooms", std::move(rooms)}};
}

} // namespace chat
