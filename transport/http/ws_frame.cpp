#include "transport/http/ws_frame.hpp"

#include <boost/locale/utf.hpp>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

namespace sio::http::wsframe {

std::size_t write_header(std::uint8_t op, std::size_t size, unsigned char* out, bool compressed) {
  out[0] = static_cast<unsigned char>(0x80 | (compressed ? 0x40 : 0) | (op & 0x0F));
  if (size < 126) {
    out[1] = static_cast<unsigned char>(size);
    return 2;
  }
  if (size <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<unsigned char>(size >> 8);
    out[3] = static_cast<unsigned char>(size);
    return 4;
  }
  out[1] = 127;
  auto n = static_cast<std::uint64_t>(size);
  for (int i = 0; i < 8; ++i)
    out[2 + i] = static_cast<unsigned char>(n >> (8 * (7 - i)));
  return 10;
}

parse_result parse_header(const unsigned char* data, std::size_t size, std::uint64_t max_payload, header& out,
                          bool deflate) {
  if (size < 2)
    return parse_result::incomplete;
  out.fin = (data[0] & 0x80) != 0;
  out.op = data[0] & 0x0F;
  out.compressed = (data[0] & 0x40) != 0;
  if ((data[0] & 0x30) != 0) // RSV2-3: no extension uses them
    return parse_result::protocol_error;
  if (out.compressed && (!deflate || (out.op != text && out.op != binary)))
    return parse_result::protocol_error;
  bool control = (out.op & 0x08) != 0;
  switch (out.op) {
  case continuation:
  case text:
  case binary:
  case close:
  case ping:
  case pong:
    break;
  default:
    return parse_result::protocol_error;
  }
  out.masked = (data[1] & 0x80) != 0;
  if (!out.masked) // RFC 6455 §5.1: a server must close on an unmasked client frame
    return parse_result::protocol_error;
  std::uint64_t len = data[1] & 0x7F;
  std::size_t pos = 2;
  if (len == 126) {
    if (size < 4)
      return parse_result::incomplete;
    len = (std::uint64_t{data[2]} << 8) | data[3];
    pos = 4;
  } else if (len == 127) {
    if (size < 10)
      return parse_result::incomplete;
    len = 0;
    for (int i = 0; i < 8; ++i)
      len = (len << 8) | data[2 + i];
    if (len >> 63)
      return parse_result::protocol_error;
    pos = 10;
  }
  if (control && (!out.fin || len > 125))
    return parse_result::protocol_error;
  if (size < pos + 4)
    return parse_result::incomplete;
  for (int i = 0; i < 4; ++i)
    out.mask[i] = data[pos + i];
  out.header_size = pos + 4;
  out.payload_size = len;
  if (len > max_payload)
    return parse_result::too_big;
  return parse_result::ok;
}

void unmask(unsigned char* payload, std::size_t n, const std::array<unsigned char, 4>& mask, std::size_t offset) {
  for (std::size_t i = 0; i < n; ++i)
    payload[i] ^= mask[(offset + i) & 3];
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
  std::string out;
  out += static_cast<char>(code >> 8);
  out += static_cast<char>(code & 0xFF);
  // The reason must stay UTF-8 (RFC 6455 §5.5.1): cut before a continuation byte's lead.
  auto n = std::min<std::size_t>(reason.size(), 123);
  if (n < reason.size())
    while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80)
      --n;
  out += reason.substr(0, n);
  return out;
}

bool valid_close_code(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

std::uint16_t close_answer(std::string_view payload) {
  if (payload.empty())
    return normal;
  if (payload.size() == 1)
    return protocol_error;
  auto code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8)
                                         | static_cast<unsigned char>(payload[1]));
  if (!valid_close_code(code))
    return protocol_error;
  if (!is_utf8(payload.substr(2)))
    return invalid_payload;
  return code;
}

utf8_check check_utf8(std::string_view text) {
  // Boost.Locale's decoder applies RFC 3629's rules (Beast's own checker is in a detail
  // namespace); runs of ASCII, the common case, are skipped a word at a time.
  using utf = boost::locale::utf::utf_traits<char>;
  const char* begin = text.data();
  const char* p = begin;
  const char* end = begin + text.size();
  while (p != end) {
    std::uint64_t word;
    while (end - p >= 8 && (std::memcpy(&word, p, 8), (word & 0x8080808080808080ull) == 0))
      p += 8;
    if (p == end)
      break;
    if (static_cast<unsigned char>(*p) < 0x80) {
      ++p;
      continue;
    }
    const char* start = p;
    auto c = utf::decode(p, end);
    if (c == boost::locale::utf::illegal)
      return {false, static_cast<std::size_t>(start - begin)};
    if (c == boost::locale::utf::incomplete)
      return {true, static_cast<std::size_t>(start - begin)};
  }
  return {true, text.size()};
}

bool is_utf8(std::string_view text) {
  auto r = check_utf8(text);
  return r.valid && r.complete == text.size();
}

std::string accept_key(std::string_view client_key) {
  static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input(client_key);
  input += guid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(n));
}

} // namespace sio::http::wsframe
