#include "actors/protocol_revision.hpp"

#include "transport/socketio/packet.hpp"

namespace sio {

namespace eio = engineio;
namespace sp = socketio;

http::response payload_response(std::string body) {
  auto r = http::response::text(200, std::move(body), "text/plain; charset=UTF-8");
  r.compressible = true; // engine.io's httpCompression: the polling payloads
  return r;
}

namespace {

// -- v4 / v5 --

std::optional<std::vector<eio::packet>> decode_payload_v4(std::string_view body, bool) {
  return eio::decode_payload(body);
}

std::string binary_frame_v4(std::string_view data) {
  return std::string(data);
}

http::response payload_v4(const std::vector<http::ws_message>& outbox, bool) {
  std::size_t size = outbox.size();
  for (auto& m : outbox)
    size += m.binary ? 1 + (m.data->size() + 2) / 3 * 4 : m.data->size();
  std::string body;
  body.reserve(size);
  for (auto& m : outbox)
    eio::append_frame_to_payload(body, m.binary, *m.data);
  return payload_response(std::move(body));
}

// -- v3 / v2 --

std::optional<eio::packet> decode_frame_v3(bool binary_frame, std::string_view frame) {
  return binary_frame ? eio::decode_binary_frame_v3(frame) : eio::decode_frame(false, frame);
}

http::response payload_v3(const std::vector<http::ws_message>& outbox, bool base64_only) {
  std::vector<eio::packet> packets;
  packets.reserve(outbox.size());
  bool any_binary = false;
  for (auto& m : outbox) {
    any_binary = any_binary || m.binary;
    if (m.binary)
      packets.push_back({eio::packet_type::message, true, *m.data});
    else if (auto p = eio::decode_frame(false, *m.data))
      packets.push_back(std::move(*p));
  }
  if (any_binary && !base64_only) {
    auto r = http::response::text(200, eio::encode_payload_v3_binary(packets), "application/octet-stream");
    r.compressible = true;
    return r;
  }
  return payload_response(eio::encode_payload_v3_text(packets));
}

std::string connect_ok_v2(std::string_view nsp, std::string_view, std::string_view) {
  return sp::encode_connect_ok_v2(nsp);
}

std::string connect_ok_v5(std::string_view nsp, std::string_view sid, std::string_view pid) {
  return sp::encode_connect_ok(nsp, sid, pid);
}

const protocol_revision v4{
    4,     true,  true,  decode_payload_v4,     eio::decode_frame,        binary_frame_v4, payload_v4,
    false, false, false, connect_ok_v5, sp::encode_connect_error,
};

const protocol_revision v3{
    3,
    false,
    false,
    eio::decode_payload_v3,
    decode_frame_v3,
    eio::encode_binary_frame_v3,
    payload_v3,
    true,
    true,
    true,
    connect_ok_v2,
    sp::encode_connect_error_v2,
};

} // namespace

const protocol_revision& revision_for(int engineio_protocol) {
  return engineio_protocol == 3 ? v3 : v4;
}

} // namespace sio
