// Engine.IO v4 polling payloads (what a POST body holds) and WebSocket frames: whatever
// decodes re-encodes to something that decodes to the same packets.
#include "tests/fuzz/check.hpp"
#include "transport/engineio/packet.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace sio::engineio;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);

  if (auto packets = decode_payload(body)) {
    FUZZ_CHECK(!packets->empty());
    // One packet per record: at most one more than the separators.
    FUZZ_CHECK(packets->size() <= static_cast<std::size_t>(std::count(body.begin(), body.end(), record_separator)) + 1);
    for (auto& p : *packets) {
      FUZZ_CHECK(static_cast<int>(p.type) <= static_cast<int>(packet_type::noop));
      FUZZ_CHECK(!p.binary || p.type == packet_type::message);
      FUZZ_CHECK(p.data.size() < size);
    }
    auto again = decode_payload(encode_payload(*packets));
    FUZZ_CHECK(again && *again == *packets);
    // The same packets framed one by one (how a polling payload is built from frames).
    std::string payload;
    for (auto& p : *packets)
      append_frame_to_payload(payload, p.binary, p.binary ? p.data : encode_text(p));
    auto framed = decode_payload(payload);
    FUZZ_CHECK(framed && *framed == *packets);
  }

  // The body as one WebSocket frame, text and binary.
  if (auto p = decode_frame(false, body)) {
    FUZZ_CHECK(!p->binary && encode_text(*p) == body);
  }
  auto bin = decode_frame(true, body);
  FUZZ_CHECK(bin && bin->binary && bin->data == body);

  // Base64 both ways: any bytes survive encode + decode; a decodable text re-encodes to
  // text of its size that decodes to the same bytes.
  auto encoded = base64_encode(body);
  FUZZ_CHECK(encoded.size() == (size + 2) / 3 * 4);
  auto decoded = base64_decode(encoded);
  FUZZ_CHECK(decoded && *decoded == body);
  if (auto bytes = base64_decode(body)) {
    FUZZ_CHECK(bytes->size() <= size / 4 * 3);
    auto text = base64_encode(*bytes);
    FUZZ_CHECK(text.size() == size);
    FUZZ_CHECK(base64_decode(text) == bytes);
  }
  return 0;
}
