#include "actors/remote_socket_json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace sio {

namespace json = boost::json;

namespace {

header_list pairs_from_json(const json::value* v) {
  header_list out;
  if (auto* o = v ? v->if_object() : nullptr)
    for (auto& [k, val] : *o)
      if (auto* s = val.if_string())
        out.emplace_back(std::string(k), std::string(*s));
  return out;
}

/// JSON text as a value (kept as a string when it is not JSON).
json::value parsed(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  return ec ? json::value(text) : v;
}

std::string text_of(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  auto* s = v ? v->if_string() : nullptr;
  return s ? std::string(*s) : std::string();
}

} // namespace

json::object pairs_to_json(const header_list& list) {
  json::object out;
  for (auto& [k, v] : list)
    out[k] = v;
  return out;
}

json::object remote_socket_to_json(const remote_socket& s) {
  json::object hs{{"address", s.address}, {"issued", s.issued_ms}, {"url", s.url}};
  hs["headers"] = pairs_to_json(s.headers);
  hs["query"] = pairs_to_json(s.query);
  if (!s.auth.empty())
    hs["auth"] = parsed(s.auth);
  json::array rooms;
  for (auto& r : s.rooms)
    rooms.emplace_back(r);
  return json::object{{"id", s.id},
                      {"nsp", s.nsp},
                      {"node", s.node},
                      {"client", s.client},
                      {"transport", s.transport},
                      {"address", s.address},
                      {"rooms", std::move(rooms)},
                      {"data", parsed(s.data)},
                      {"handshake", std::move(hs)}};
}

std::optional<remote_socket> remote_socket_from_json(const json::value& v) {
  auto* o = v.if_object();
  if (!o)
    return std::nullopt;
  remote_socket s;
  s.id = text_of(*o, "id");
  s.nsp = text_of(*o, "nsp");
  if (s.id.empty() || s.nsp.empty())
    return std::nullopt;
  s.node = text_of(*o, "node");
  s.client = text_of(*o, "client");
  s.transport = text_of(*o, "transport");
  s.address = text_of(*o, "address");
  if (auto* rooms = o->if_contains("rooms"); rooms && rooms->is_array())
    for (auto& r : rooms->get_array())
      if (auto* name = r.if_string())
        s.rooms.emplace_back(*name);
  if (auto* data = o->if_contains("data"))
    s.data = json::serialize(*data);
  if (auto* hs = o->if_contains("handshake"); hs && hs->is_object()) {
    auto& h = hs->get_object();
    s.url = text_of(h, "url");
    if (auto* issued = h.if_contains("issued"); issued && issued->is_int64())
      s.issued_ms = issued->get_int64();
    s.headers = pairs_from_json(h.if_contains("headers"));
    s.query = pairs_from_json(h.if_contains("query"));
    if (auto* auth = h.if_contains("auth"))
      s.auth = json::serialize(*auth);
  }
  return s;
}

} // namespace sio
