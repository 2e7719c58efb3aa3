#include "actors/forwarding_messages.hpp"

namespace sio {

const char* const forwarded_header_names[2] = {"content-type", "origin"};

forwarded_request forwarded_from(http::request req) {
  forwarded_request f;
  for (auto* name : forwarded_header_names)
    if (auto* value = req.header(name))
      f.headers.emplace_back(name, *value);
  f.method = std::move(req.method);
  f.target = std::move(req.target);
  f.path = std::move(req.path);
  f.query = std::move(req.query);
  f.remote_address = std::move(req.remote_address);
  f.body = std::move(req.body);
  return f;
}

http::request request_of(forwarded_request f) {
  http::request req;
  req.method = std::move(f.method);
  req.target = std::move(f.target);
  req.path = std::move(f.path);
  req.query = std::move(f.query);
  req.headers = std::move(f.headers);
  req.remote_address = std::move(f.remote_address);
  req.body = std::move(f.body);
  return req;
}

forwarded_response forwarded_from(http::response r) {
  return {r.status, std::move(r.headers), std::move(r.body)};
}

http::response response_of(forwarded_response r) {
  http::response out;
  out.status = r.status;
  out.headers = std::move(r.headers);
  out.body = std::move(r.body);
  return out;
}

std::size_t relay_frames::bytes() const {
  std::size_t n = 0;
  for (auto& m : messages)
    n += m.data ? m.data->size() : 0;
  return n;
}

void announce_forwarding_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<forwarded_request>("sio::forwarded_request");
  cfg.add_message_type<forwarded_response>("sio::forwarded_response");
  cfg.add_message_type<relay_attach>("sio::relay_attach");
  cfg.add_message_type<relay_answer>("sio::relay_answer");
  cfg.add_message_type<relay_in>("sio::relay_in");
  cfg.add_message_type<relay_gone>("sio::relay_gone");
  cfg.add_message_type<relay_written>("sio::relay_written");
  cfg.add_message_type<relay_frames>("sio::relay_frames");
  cfg.add_message_type<relay_close>("sio::relay_close");
  cfg.add_message_type<relay_consumed>("sio::relay_consumed");
}

} // namespace sio
