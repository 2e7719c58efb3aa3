// The WebSocket frame parser, read as the session reads a client's stream: headers parsed
// back to back, payloads unmasked, text messages (fragmented or not) checked for UTF-8 a
// fragment at a time, close frames answered. The first input byte picks the payload limit
// and where the stream is cut between reads.
#include "tests/fuzz/check.hpp"
#include "transport/http/ws_frame.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace wsframe = sio::http::wsframe;

namespace {

/// UTF-8 as RFC 3629 §4 writes it, byte range by byte range: the reference that
/// wsframe::check_utf8 (Boost.Locale's decoder plus an ASCII fast path) must agree with.
bool reference_utf8(std::string_view s) {
  auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    auto at = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0; };
    std::size_t n = 0;
    if (c < 0x80)
      n = 1;
    else if (in(c, 0xC2, 0xDF) && in(at(1), 0x80, 0xBF))
      n = 2;
    else if (c == 0xE0 && in(at(1), 0xA0, 0xBF) && in(at(2), 0x80, 0xBF))
      n = 3;
    else if ((in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) && in(at(1), 0x80, 0xBF) && in(at(2), 0x80, 0xBF))
      n = 3;
    else if (c == 0xED && in(at(1), 0x80, 0x9F) && in(at(2), 0x80, 0xBF))
      n = 3;
    else if (c == 0xF0 && in(at(1), 0x90, 0xBF) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF))
      n = 4;
    else if (in(c, 0xF1, 0xF3) && in(at(1), 0x80, 0xBF) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF))
      n = 4;
    else if (c == 0xF4 && in(at(1), 0x80, 0x8F) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF))
      n = 4;
    else
      return false;
    i += n;
  }
  return true;
}

/// The session's check of a message received in pieces: each piece checked from where the
/// last check stopped; the message is valid when every check passes and nothing is left.
bool utf8_in_pieces(std::string_view text, const std::vector<std::size_t>& cuts) {
  std::size_t checked = 0;
  for (auto cut : cuts) {
    auto r = wsframe::check_utf8(text.substr(checked, cut - checked));
    if (!r.valid)
      return false;
    FUZZ_CHECK(r.complete <= cut - checked && cut - checked - r.complete <= 3);
    checked += r.complete;
  }
  auto r = wsframe::check_utf8(text.substr(checked));
  return r.valid && checked + r.complete == text.size();
}

void check_header(const unsigned char* p, std::size_t n, std::uint64_t max_payload, const wsframe::header& h) {
  FUZZ_CHECK(h.masked);
  FUZZ_CHECK(h.header_size == 6 || h.header_size == 8 || h.header_size == 14);
  FUZZ_CHECK(h.header_size <= n);
  FUZZ_CHECK(h.payload_size <= max_payload);
  FUZZ_CHECK(std::memcmp(h.mask.data(), p + h.header_size - 4, 4) == 0);
  bool control = (h.op & 0x08) != 0;
  FUZZ_CHECK(!control || (h.fin && h.payload_size <= 125));
  // Any shorter prefix is incomplete: a header read in pieces is never misread.
  for (std::size_t k = 0; k < h.header_size; ++k) {
    wsframe::header partial;
    FUZZ_CHECK(wsframe::parse_header(p, k, max_payload, partial) == wsframe::parse_result::incomplete);
  }
  // Our own header writer, masked, reads back the same.
  unsigned char out[wsframe::max_header_size + 4];
  auto len = wsframe::write_header(h.op, static_cast<std::size_t>(h.payload_size), out);
  if (!h.fin)
    out[0] &= 0x7F;
  out[1] |= 0x80;
  std::memcpy(out + len, h.mask.data(), 4);
  wsframe::header back;
  FUZZ_CHECK(wsframe::parse_header(out, len + 4, max_payload, back) == wsframe::parse_result::ok);
  FUZZ_CHECK(back.fin == h.fin && back.op == h.op && back.payload_size == h.payload_size && back.mask == h.mask);
  FUZZ_CHECK(back.header_size <= h.header_size);
}

void check_close(std::string_view payload) {
  auto code = wsframe::close_answer(payload);
  FUZZ_CHECK(wsframe::valid_close_code(code));
  if (payload.size() < 2)
    return;
  auto reason = payload.substr(2);
  auto theirs = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8)
                                           | static_cast<unsigned char>(payload[1]));
  bool utf8 = wsframe::is_utf8(reason);
  FUZZ_CHECK(!(wsframe::valid_close_code(theirs) && utf8) || code == theirs);
  // A close frame of ours with that reason fits a control frame and stays UTF-8.
  auto ours = wsframe::close_payload(theirs, reason);
  FUZZ_CHECK(ours.size() <= 125);
  FUZZ_CHECK(!utf8 || wsframe::is_utf8(std::string_view(ours).substr(2)));
  FUZZ_CHECK(!utf8 || wsframe::close_answer(ours) == code);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  static constexpr std::uint64_t limits[] = {0, 1, 125, 126, 65535, 65536, 1000000, ~std::uint64_t{0} >> 1};
  std::uint64_t max_payload = limits[data[0] & 7];
  std::vector<unsigned char> stream(data + 1, data + size);

  std::string message; // a fragmented message so far
  bool fragmented = false, message_binary = false;
  std::vector<std::size_t> cuts; // where its fragments end
  std::size_t used = 0;
  while (used < stream.size()) {
    wsframe::header h;
    auto* p = stream.data() + used;
    auto n = stream.size() - used;
    auto r = wsframe::parse_header(p, n, max_payload, h);
    if (r != wsframe::parse_result::ok)
      break; // incomplete, or the session closes with 1002 / 1009
    check_header(p, n, max_payload, h);
    if (n - h.header_size < h.payload_size)
      break; // the rest of the payload has not come yet
    auto len = static_cast<std::size_t>(h.payload_size);
    auto* payload = p + h.header_size;
    std::string masked(reinterpret_cast<char*>(payload), len);
    wsframe::unmask(payload, len, h.mask);
    // Unmasking in two pieces (a payload split between reads) is the same as in one.
    std::string twice(masked);
    auto half = len / 2;
    wsframe::unmask(reinterpret_cast<unsigned char*>(twice.data()), half, h.mask);
    wsframe::unmask(reinterpret_cast<unsigned char*>(twice.data()) + half, len - half, h.mask, half);
    FUZZ_CHECK(std::memcmp(twice.data(), payload, len) == 0);
    used += h.header_size + len;
    std::string_view body(reinterpret_cast<char*>(payload), len);

    if (h.op == wsframe::close) {
      check_close(body);
      break;
    }
    if (h.op == wsframe::ping || h.op == wsframe::pong)
      continue;
    if (h.op == wsframe::continuation) {
      if (!fragmented)
        break; // 1002
    } else {
      if (fragmented)
        break; // 1002
      message.clear();
      cuts.clear();
      fragmented = true;
      message_binary = h.op == wsframe::binary;
    }
    message.append(body);
    cuts.push_back(message.size());
    if (!h.fin)
      continue;
    fragmented = false;
    if (!message_binary) {
      bool whole = wsframe::is_utf8(message);
      FUZZ_CHECK(whole == reference_utf8(message));
      FUZZ_CHECK(utf8_in_pieces(message, cuts) == whole);
    }
  }
  // The stream itself as text, cut where the mask's bytes say.
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  bool whole = wsframe::is_utf8(text);
  FUZZ_CHECK(whole == reference_utf8(text));
  std::vector<std::size_t> cuts_at;
  for (std::size_t k = 0; k < text.size(); k += 1 + (data[k % size] & 15))
    cuts_at.push_back(k);
  FUZZ_CHECK(utf8_in_pieces(text, cuts_at) == whole);
  return 0;
}
