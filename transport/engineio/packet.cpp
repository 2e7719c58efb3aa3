#include "transport/engineio/packet.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/locale/utf.hpp>

#include <array>

namespace sio::engineio {

namespace {

constexpr char type_char(packet_type t) {
  return static_cast<char>('0' + static_cast<int>(t));
}

/// Parses a text record (type digit + data); nothing for an empty record or unknown type.
std::optional<packet> decode_text(std::string_view text) {
  if (text.empty() || text[0] < '0' || text[0] > '6')
    return std::nullopt;
  packet p;
  p.type = static_cast<packet_type>(text[0] - '0');
  p.binary = false;
  p.data.assign(text.substr(1));
  return p;
}

// Base64 is written by hand: the only ready-made one in our dependency set lives in
// Boost.Beast's detail namespace, and the codecs stay free of Beast.
constexpr char base64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<signed char, 256> make_base64_table() {
  std::array<signed char, 256> table{};
  for (auto& x : table)
    x = -1;
  for (int i = 0; i < 64; ++i)
    table[static_cast<unsigned char>(base64_alphabet[i])] = static_cast<signed char>(i);
  return table;
}

constexpr auto base64_table = make_base64_table();

} // namespace

std::string encode_text(const packet& p) {
  return encode_text(p.type, p.data);
}

std::string encode_text(packet_type type, std::string_view data) {
  std::string out;
  out.reserve(1 + data.size());
  out.push_back(type_char(type));
  out += data;
  return out;
}

std::optional<packet> decode_frame(bool binary_frame, std::string_view frame) {
  if (binary_frame) {
    packet p;
    p.type = packet_type::message;
    p.binary = true;
    p.data.assign(frame);
    return p;
  }
  return decode_text(frame);
}

void append_to_payload(std::string& payload, const packet& p) {
  if (!payload.empty())
    payload.push_back(record_separator);
  if (p.binary) {
    payload.push_back('b');
    payload += base64_encode(p.data);
  } else {
    payload.push_back(type_char(p.type));
    payload += p.data;
  }
}

void append_frame_to_payload(std::string& payload, bool binary, std::string_view frame) {
  if (!payload.empty())
    payload.push_back(record_separator);
  if (binary) {
    payload.push_back('b');
    payload += base64_encode(frame);
  } else {
    payload += frame;
  }
}

std::string encode_payload(const std::vector<packet>& packets) {
  std::string out;
  for (const auto& p : packets)
    append_to_payload(out, p);
  return out;
}

std::optional<std::vector<packet>> decode_payload(std::string_view body) {
  if (body.empty())
    return std::nullopt;
  std::vector<packet> result;
  std::size_t pos = 0;
  for (;;) {
    auto end = body.find(record_separator, pos);
    auto record = body.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (!record.empty() && record[0] == 'b') {
      auto bytes = base64_decode(record.substr(1));
      if (!bytes)
        return std::nullopt;
      packet p;
      p.type = packet_type::message;
      p.binary = true;
      p.data = std::move(*bytes);
      result.push_back(std::move(p));
    } else {
      auto p = decode_text(record);
      if (!p)
        return std::nullopt;
      result.push_back(std::move(*p));
    }
    if (end == std::string_view::npos)
      break;
    pos = end + 1;
  }
  return result;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    auto n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out.push_back(base64_alphabet[(n >> 18) & 63]);
    out.push_back(base64_alphabet[(n >> 12) & 63]);
    out.push_back(base64_alphabet[(n >> 6) & 63]);
    out.push_back(base64_alphabet[n & 63]);
  }
  auto rest = bytes.size() - i;
  if (rest == 1) {
    auto n = byte(i) << 16;
    out.push_back(base64_alphabet[(n >> 18) & 63]);
    out.push_back(base64_alphabet[(n >> 12) & 63]);
    out += "==";
  } else if (rest == 2) {
    auto n = (byte(i) << 16) | (byte(i + 1) << 8);
    out.push_back(base64_alphabet[(n >> 18) & 63]);
    out.push_back(base64_alphabet[(n >> 12) & 63]);
    out.push_back(base64_alphabet[(n >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    std::size_t pad = 0;
    if (last) {
      if (text[i + 3] == '=')
        ++pad;
      if (pad == 1 && text[i + 2] == '=')
        ++pad;
    }
    std::uint32_t n = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      std::uint32_t v = 0;
      if (k < 4 - pad) {
        auto d = base64_table[static_cast<unsigned char>(text[i + k])];
        if (d < 0)
          return std::nullopt; // also catches '=' anywhere but the final padding
        v = static_cast<std::uint32_t>(d);
      }
      n = (n << 6) | v;
    }
    out.push_back(static_cast<char>((n >> 16) & 0xFF));
    if (pad < 2)
      out.push_back(static_cast<char>((n >> 8) & 0xFF));
    if (pad < 1)
      out.push_back(static_cast<char>(n & 0xFF));
  }
  return out;
}

std::string encode_handshake(const handshake& h) {
  boost::json::array upgrades;
  upgrades.reserve(h.upgrades.size());
  for (const auto& u : h.upgrades)
    upgrades.emplace_back(u);
  boost::json::object obj;
  obj.emplace("sid", h.sid);
  obj.emplace("upgrades", std::move(upgrades));
  obj.emplace("pingInterval", h.ping_interval_ms);
  obj.emplace("pingTimeout", h.ping_timeout_ms);
  if (!h.v3)
    obj.emplace("maxPayload", h.max_payload);
  return boost::json::serialize(obj);
}

// -- Engine.IO v3 ---------------------------------------------------------------------

namespace {

// v3 counts lengths as JavaScript does, in UTF-16 units: one per code point, two above
// U+FFFF. Text that is not UTF-8 has no such length (JavaScript reads U+FFFD for each bad
// sequence, and counts those): it is refused, so that everything decoded re-encodes to
// the same bytes.
using utf8 = boost::locale::utf::utf_traits<char>;

/// The UTF-16 length of `s`, or nothing when `s` is not UTF-8.
std::optional<std::size_t> utf16_length(std::string_view s) {
  const char* p = s.data();
  const char* end = p + s.size();
  std::size_t units = 0;
  while (p != end) {
    auto c = utf8::decode(p, end);
    if (c == boost::locale::utf::illegal || c == boost::locale::utf::incomplete)
      return std::nullopt;
    units += c > 0xFFFF ? 2 : 1;
  }
  return units;
}

/// The byte length of the first `units` UTF-16 units of `s`; npos when `s` is shorter, is
/// not UTF-8 up to there, or the count ends inside a surrogate pair.
std::size_t bytes_for_utf16_units(std::string_view s, std::size_t units) {
  const char* begin = s.data();
  const char* p = begin;
  const char* end = begin + s.size();
  std::size_t seen = 0;
  while (seen < units) {
    if (p == end)
      return std::string_view::npos;
    auto c = utf8::decode(p, end);
    if (c == boost::locale::utf::illegal || c == boost::locale::utf::incomplete)
      return std::string_view::npos;
    seen += c > 0xFFFF ? 2 : 1;
  }
  return seen == units ? static_cast<std::size_t>(p - begin) : std::string_view::npos;
}

std::string v3_text_record(const packet& p) {
  if (p.binary)
    return "b4" + base64_encode(p.data);
  return encode_text(p);
}

} // namespace

std::string encode_binary_frame_v3(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 1);
  out += '\x04';
  out += data;
  return out;
}

std::optional<packet> decode_binary_frame_v3(std::string_view frame) {
  if (frame.empty() || frame[0] != '\x04')
    return std::nullopt;
  return packet{packet_type::message, true, std::string(frame.substr(1))};
}

std::string encode_payload_v3_text(const std::vector<packet>& packets) {
  std::string out;
  for (auto& p : packets) {
    auto record = v3_text_record(p);
    // Our text is UTF-8 (JSON we wrote, or text the decoders checked).
    out += std::to_string(utf16_length(record).value_or(record.size()));
    out += ':';
    out += record;
  }
  return out;
}

std::string encode_payload_v3_binary(const std::vector<packet>& packets) {
  std::string out;
  for (auto& p : packets) {
    std::string body = p.binary ? encode_binary_frame_v3(p.data) : encode_text(p);
    out += static_cast<char>(p.binary ? 1 : 0);
    for (char digit : std::to_string(body.size()))
      out += static_cast<char>(digit - '0');
    out += static_cast<char>(0xFF);
    out += body;
  }
  return out;
}

std::optional<std::vector<packet>> decode_payload_v3(std::string_view body, bool binary_body) {
  std::vector<packet> out;
  if (body.empty())
    return std::nullopt;
  std::size_t i = 0;
  if (binary_body) {
    while (i < body.size()) {
      bool is_binary = body[i] == 1;
      if (body[i] != 0 && body[i] != 1)
        return std::nullopt;
      ++i;
      std::size_t len = 0, digits = 0;
      while (i < body.size() && static_cast<unsigned char>(body[i]) != 0xFF) {
        auto d = static_cast<unsigned char>(body[i]);
        if (d > 9 || ++digits > 10)
          return std::nullopt;
        len = len * 10 + d;
        ++i;
      }
      if (i >= body.size() || digits == 0)
        return std::nullopt;
      ++i; // the 255 separator
      if (len == 0 || body.size() - i < len)
        return std::nullopt;
      auto record = body.substr(i, len);
      i += len;
      if (is_binary) {
        if (record[0] != '\x04')
          return std::nullopt;
        out.push_back({packet_type::message, true, std::string(record.substr(1))});
      } else {
        auto p = decode_frame(false, record);
        if (!p || !utf16_length(record))
          return std::nullopt;
        out.push_back(std::move(*p));
      }
    }
    return out;
  }
  while (i < body.size()) {
    auto colon = body.find(':', i);
    if (colon == std::string_view::npos || colon == i || colon - i > 10)
      return std::nullopt;
    std::size_t units = 0;
    for (auto k = i; k < colon; ++k) {
      if (body[k] < '0' || body[k] > '9')
        return std::nullopt;
      units = units * 10 + static_cast<std::size_t>(body[k] - '0');
    }
    auto rest = body.substr(colon + 1);
    auto bytes = bytes_for_utf16_units(rest, units);
    if (units == 0 || bytes == std::string_view::npos)
      return std::nullopt;
    auto record = rest.substr(0, bytes);
    i = colon + 1 + bytes;
    if (record.size() >= 2 && record[0] == 'b' && record[1] == '4') {
      auto bin = base64_decode(record.substr(2));
      if (!bin)
        return std::nullopt;
      out.push_back({packet_type::message, true, std::move(*bin)});
      continue;
    }
    auto p = decode_frame(false, record);
    if (!p)
      return std::nullopt;
    out.push_back(std::move(*p));
  }
  return out;
}

std::string_view error_message(error_code code) {
  switch (code) {
  case error_code::unknown_transport:
    return "Transport unknown";
  case error_code::unknown_sid:
    return "Session ID unknown";
  case error_code::bad_handshake_method:
    return "Bad handshake method";
  case error_code::bad_request:
    return "Bad request";
  case error_code::forbidden:
    return "Forbidden";
  case error_code::unsupported_protocol_version:
    return "Unsupported protocol version";
  }
  return "Bad request";
}

int error_status(error_code code) {
  return code == error_code::forbidden ? 403 : 400;
}

std::string error_body(error_code code) {
  return error_body(code, error_message(code));
}

std::string error_body(error_code code, std::string_view message) {
  boost::json::object obj;
  obj.emplace("code", static_cast<int>(code));
  obj.emplace("message", boost::json::string_view{message.data(), message.size()});
  return boost::json::serialize(obj);
}

} // namespace sio::engineio
