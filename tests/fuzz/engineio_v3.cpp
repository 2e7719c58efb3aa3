// Engine.IO v3 polling payloads: the text form ("<length>:<packet>", lengths in UTF-16
// units, "b4" + base64 binary packets) and the binary form (type byte, length digits as
// bytes, 255). The first input byte picks the form. Whatever decodes re-encodes, in both
// forms, to something that decodes to the same packets.
#include "tests/fuzz/check.hpp"
#include "transport/engineio/packet.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace sio::engineio;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  bool binary_body = (data[0] & 1) != 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

  if (auto packets = decode_payload_v3(body, binary_body)) {
    FUZZ_CHECK(!packets->empty());
    for (auto& p : *packets) {
      FUZZ_CHECK(static_cast<int>(p.type) <= static_cast<int>(packet_type::noop));
      FUZZ_CHECK(!p.binary || p.type == packet_type::message);
      FUZZ_CHECK(p.data.size() < body.size());
    }
    auto as_binary = decode_payload_v3(encode_payload_v3_binary(*packets), true);
    FUZZ_CHECK(as_binary && *as_binary == *packets);
    auto as_text = decode_payload_v3(encode_payload_v3_text(*packets), false);
    FUZZ_CHECK(as_text && *as_text == *packets);
  }

  // The body as a v3 binary WebSocket frame.
  if (auto p = decode_binary_frame_v3(body)) {
    FUZZ_CHECK(p->binary && encode_binary_frame_v3(p->data) == body);
  }
  return 0;
}
