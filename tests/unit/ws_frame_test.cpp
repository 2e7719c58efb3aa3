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

std::string hex(const std::string& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
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

CAF_TEST(rsv1_only_with_deflate_on_a_message_first_frame) {
  header h;
  auto compressed_text = client_frame(0xC1, "a");
  CAF_CHECK(parse_header(compressed_text.data(), compressed_text.size(), 100, h, true) == parse_result::ok);
  CAF_CHECK(h.compressed);
  auto compressed_binary_start = client_frame(0x42, "a"); // not final: a fragmented message
  CAF_CHECK(parse_header(compressed_binary_start.data(), compressed_binary_start.size(), 100, h, true)
            == parse_result::ok);
  CAF_CHECK(h.compressed && !h.fin);
  auto plain = client_frame(0x81, "a");
  CAF_CHECK(parse_header(plain.data(), plain.size(), 100, h, true) == parse_result::ok);
  CAF_CHECK(!h.compressed);
  // RFC 7692 §6.1: never on a continuation or a control frame; RSV2/RSV3 never.
  for (unsigned char first : {0xC0, 0xC9, 0xCA, 0xC8, 0xA1, 0x91, 0xE1}) {
    auto f = client_frame(first, "a");
    CAF_CHECK(parse_header(f.data(), f.size(), 100, h, true) == parse_result::protocol_error);
  }
  unsigned char out[max_header_size];
  CAF_CHECK_EQUAL(write_header(text, 5, out, true), 2u);
  CAF_CHECK_EQUAL(out[0], 0xC1);
  CAF_CHECK_EQUAL(write_header(binary, 5, out), 2u);
  CAF_CHECK_EQUAL(out[0], 0x82);
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

CAF_TEST(close_reasons_are_cut_between_code_points) {
  // 122 ASCII bytes then a 3-byte code point: 125 bytes would cut it after its first byte.
  auto p = close_payload(1000, std::string(122, 'r') + "\xE2\x9C\x93" + "tail");
  CAF_CHECK_EQUAL(p.size(), 2u + 122u);
  CAF_CHECK(is_utf8(p.substr(2)));
  CAF_CHECK_EQUAL(close_payload(1000, std::string(121, 'r') + "\xE2\x9C\x93").size(), 2u + 121u);
  CAF_CHECK_EQUAL(close_payload(1000, std::string(120, 'r') + "\xE2\x9C\x93").size(), 2u + 123u);
}

CAF_TEST(close_codes_follow_rfc6455) {
  std::vector<int> wrong;
  for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999})
    if (!valid_close_code(code))
      wrong.push_back(code);
  for (std::uint16_t code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535})
    if (valid_close_code(code))
      wrong.push_back(code);
  CAF_CHECK_EQUAL(wrong, std::vector<int>{});
}

CAF_TEST(a_close_frame_is_answered_with_its_code_or_1002_or_1007) {
  auto payload = [](std::uint16_t code, std::string reason = {}) { return close_payload(code, reason); };
  CAF_CHECK_EQUAL(close_answer(""), 1000);
  CAF_CHECK_EQUAL(close_answer(std::string(1, '\x03')), 1002); // half a code
  CAF_CHECK_EQUAL(close_answer(payload(1000)), 1000);
  CAF_CHECK_EQUAL(close_answer(payload(1001, "bye")), 1001);
  CAF_CHECK_EQUAL(close_answer(payload(1011, "caf\xC3\xA9")), 1011);
  CAF_CHECK_EQUAL(close_answer(payload(4321)), 4321);
  for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535})
    CAF_CHECK_EQUAL(close_answer(payload(code)), 1002);
  CAF_CHECK_EQUAL(close_answer(payload(1000, "\xFF")), 1007);
  CAF_CHECK_EQUAL(close_answer(payload(1000, "cut \xE2\x9C")), 1007);
  // The code is checked before the reason.
  CAF_CHECK_EQUAL(close_answer(payload(1005, "\xFF")), 1002);
}

CAF_TEST(utf8_is_checked_as_rfc3629_says) {
  std::vector<std::string> wrong; // the texts judged wrongly, in hex
  for (std::string ok :
       {std::string{}, std::string("plain ascii, longer than one word of eight"), std::string("\x7F"),
        std::string("caf\xC3\xA9"), std::string("\xE2\x9C\x93 check"), std::string("\xF0\x9F\x98\x80 emoji"),
        std::string("\xEF\xBF\xBF"), std::string("\xF4\x8F\xBF\xBF"), std::string("\xED\x9F\xBF"),
        std::string("\xEE\x80\x80"), std::string("a\0b", 3)})
    if (!is_utf8(ok))
      wrong.push_back(hex(ok));
  for (std::string bad : {
           std::string("\x80"),                 // a lone continuation byte
           std::string("\xC0\xAF"),             // overlong '/'
           std::string("\xE0\x80\xAF"),         // overlong, 3 bytes
           std::string("\xF0\x80\x80\xAF"),     // overlong, 4 bytes
           std::string("\xED\xA0\x80"),         // a surrogate (U+D800)
           std::string("\xED\xBF\xBF"),         // a surrogate (U+DFFF)
           std::string("\xF4\x90\x80\x80"),     // above U+10FFFF
           std::string("\xF5\x80\x80\x80"),     // no such lead byte
           std::string("\xFF"),                 // never in UTF-8
           std::string("\xC3\x28"),             // a lead without its continuation
           std::string("12345678\xE2\x9C"),     // cut at the end, after an ASCII word
           std::string("\xE2\x9C\x93\xE2\x9C"), // cut at the end
       })
    if (is_utf8(bad))
      wrong.push_back(hex(bad));
  CAF_CHECK_EQUAL(wrong, std::vector<std::string>{});
}

CAF_TEST(utf8_checks_in_pieces_wait_for_a_cut_code_point) {
  auto r = check_utf8("abc\xF0\x9F");
  CAF_CHECK(r.valid);
  CAF_CHECK_EQUAL(r.complete, 3u);
  r = check_utf8("\xF0\x9F\x98\x80 ok");
  CAF_CHECK(r.valid);
  CAF_CHECK_EQUAL(r.complete, 7u);
  // An invalid byte is found where it is, even with a cut code point after it.
  r = check_utf8("abcdefghij\xC0\xAF\xE2");
  CAF_CHECK(!r.valid);
  CAF_CHECK_EQUAL(r.complete, 10u);
  r = check_utf8("ab\xE2(");
  CAF_CHECK(!r.valid);
  CAF_CHECK_EQUAL(r.complete, 2u);
  // Every split of a valid text checks whole in two pieces.
  std::string text = "a\xC3\xA9\xE2\x9C\x93\xF0\x9F\x98\x80z";
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    auto first = check_utf8(std::string_view(text).substr(0, cut));
    CAF_REQUIRE(first.valid);
    CAF_CHECK_LESS_OR_EQUAL(cut - first.complete, 3u);
    auto rest = std::string_view(text).substr(first.complete);
    if (!is_utf8(rest))
      CAF_FAIL("a split at " << cut << " did not check whole");
  }
}
