#define CAF_SUITE ws_frame
#include <caf/test/unit_test_impl.hpp>

#include "transport/http/ws_frame.hpp"

#include <string>
#include <vector>

using namespace sio::http::wsframe;

namespace {

// A masked client frame as a browser would send it.
std::vector<unsigned char> client_frame(std::uint8_t first_byte, const std::string& payload,
                                        std::array<unsigned char, 4> mask = {1, 2, 3, 4}) {
  std::vector<unsigned char> out{first_byte};
  auto n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<unsigned char>(0x80 | n));
  } else if (n <= 0xFFFF) {
    out.push_back(0x80 | 126);
    out.push_back(static_cast<unsigned char>(n >> 8));
    out.push_back(static_cast<unsigned char>(n));
  } else {
    out.push_back(0x80 | 127);
    for (int i = 7; i >= 0; --i)
      out.push_back(static_cast<unsigned char>(static_cast<std::uint64_t>(n) >> (8 * i)));
  }
  out.insert(out.end(), mask.begin(), mask.end());
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(static_cast<unsigned char>(payload[i]) ^ mask[i & 3]);
  return out;
}

} // namespace

CAF_TEST(server_headers_use_the_shortest_length_form) {
  unsigned char h[max_header_size];
  CAF_CHECK_EQUAL(write_header(text, 5, h), 2u);
  CAF_CHECK_EQUAL(h[0], 0x81);
  CAF_CHECK_EQUAL(h[1], 5);
  CAF_CHECK_EQUAL(write_header(binary, 125, h), 2u);
  CAF_CHECK_EQUAL(h[0], 0x82);
  CAF_CHECK_EQUAL(write_header(text, 126, h), 4u);
  CAF_CHECK_EQUAL(h[1], 126);
  CAF_CHECK_EQUAL((h[2] << 8) | h[3], 126);
  CAF_CHECK_EQUAL(write_header(text, 65535, h), 4u);
  CAF_CHECK_EQUAL(write_header(opcode::close, 65536, h), 10u);
  CAF_CHECK_EQUAL(h[0], 0x88);
  CAF_CHECK_EQUAL(h[1], 127);
  CAF_CHECK_EQUAL(h[7], 1); // 65536 = 0x00 00 00 00 00 01 00 00
  CAF_CHECK_EQUAL(h[8], 0);
}

CAF_TEST(masked_client_frames_parse_and_unmask) {
  for (std::size_t n : {0u, 3u, 125u, 126u, 300u, 70000u}) {
    std::string payload(n, 'a');
    for (std::size_t i = 0; i < n; ++i)
      payload[i] = static_cast<char>('a' + i % 26);
    auto f = client_frame(0x81, payload);
    header h;
    CAF_REQUIRE(parse_header(f.data(), f.size(), 1u << 20, h) == parse_result::ok);
    CAF_CHECK(h.fin);
    CAF_CHECK_EQUAL(h.op, text);
    CAF_CHECK_EQUAL(h.payload_size, n);
    CAF_CHECK_EQUAL(h.header_size + n, f.size());
    unmask(f.data() + h.header_size, n, h.mask);
    CAF_CHECK_EQUAL(std::string(f.begin() + static_cast<long>(h.header_size), f.end()), payload);
  }
}

CAF_TEST(unmasking_in_pieces_keeps_the_mask_phase) {
  auto f = client_frame(0x82, "abcdefghij", {9, 8, 7, 6});
  header h;
  CAF_REQUIRE(parse_header(f.data(), f.size(), 100, h) == parse_result::ok);
  auto* p = f.data() + h.header_size;
  unmask(p, 3, h.mask, 0);
  unmask(p + 3, 7, h.mask, 3);
  CAF_CHECK_EQUAL(std::string(reinterpret_cast<char*>(p), 10), "abcdefghij");
}

CAF_TEST(short_input_is_incomplete_at_every_cut) {
  auto f = client_frame(0x81, std::string(300, 'x'));
  header h;
  for (std::size_t cut = 0; cut < 8; ++cut) // 2 + 2 length + 4 mask bytes
    CAF_CHECK(parse_header(f.data(), cut, 1000, h) == parse_result::incomplete);
  CAF_CHECK(parse_header(f.data(), 8, 1000, h) == parse_result::ok);
}

CAF_TEST(protocol_errors_are_refused) {
  header h;
  std::vector<unsigned char> unmasked{0x81, 0x01, 'a'};
  CAF_CHECK(parse_header(unmasked.data(), unmasked.size(), 100, h) == parse_result::protocol_error);
  auto rsv = client_frame(0xC1, "a"); // RSV1 without a negotiated extension
  CAF_CHECK(parse_header(rsv.data(), rsv.size(), 100, h) == parse_result::protocol_error);
  auto unknown = client_frame(0x83, "a"); // opcode 3 is reserved
  CAF_CHECK(parse_header(unknown.data(), unknown.size(), 100, h) == parse_result::protocol_error);
  auto fragmented_ping = client_frame(0x09, "a"); // control frames must be final
  CAF_CHECK(parse_header(fragmented_ping.data(), fragmented_ping.size(), 100, h) == parse_result::protocol_error);
  auto long_ping = client_frame(0x89, std::string(126, 'p'));
  CAF_CHECK(parse_header(long_ping.data(), long_ping.size(), 1000, h) == parse_result::protocol_error);
}

CAF_TEST(payloads_over_the_limit_are_too_big) {
  auto f = client_frame(0x81, std::string(1001, 'x'));
  header h;
  CAF_CHECK(parse_header(f.data(), f.size(), 1000, h) == parse_result::too_big);
  CAF_CHECK(parse_header(f.data(), f.size(), 1001, h) == parse_result::ok);
  // The header alone decides: a 64-bit length is refused before its payload arrives.
  std::vector<unsigned char> huge{0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4};
  CAF_CHECK(parse_header(huge.data(), huge.size(), 1u << 20, h) == parse_result::too_big);
}

CAF_TEST(close_payload_and_accept_key) {
  auto p = close_payload(1009, "too big");
  CAF_CHECK_EQUAL(static_cast<unsigned char>(p[0]), 0x03);
  CAF_CHECK_EQUAL(static_cast<unsigned char>(p[1]), 0xF1);
  CAF_CHECK_EQUAL(p.substr(2), "too big");
  CAF_CHECK_EQUAL(close_payload(1000, std::string(200, 'r')).size(), 125u);
  // RFC 6455 §1.3's example.
  CAF_CHECK_EQUAL(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
