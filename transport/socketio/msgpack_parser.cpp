#include "transport/socketio/msgpack_parser.hpp"

// Header-only, without Boost (ours is 1.81; Debian's package would pull 1.74).
#define MSGPACK_NO_BOOST
#include <msgpack.hpp>

#include <boost/locale/utf.hpp>

#include <cmath>
#include <cstdio>
#include <ctime>

namespace sio::socketio::msgpack_parser {

namespace {

using packer = msgpack::packer<msgpack::sbuffer>;

/// Nesting as the JSON parser allows (packet.cpp's max_json_depth).
constexpr std::size_t max_depth = 128;

void pack_string(packer& pk, std::string_view s) {
  pk.pack_str(static_cast<std::uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

void pack_value(packer& pk, const boost::json::value& v, const std::vector<std::string>& attachments) {
  switch (v.kind()) {
  case boost::json::kind::null:
    pk.pack_nil();
    return;
  case boost::json::kind::bool_:
    v.get_bool() ? pk.pack_true() : pk.pack_false();
    return;
  case boost::json::kind::int64:
    pk.pack_int64(v.get_int64());
    return;
  case boost::json::kind::uint64:
    pk.pack_uint64(v.get_uint64());
    return;
  case boost::json::kind::double_:
    pk.pack_double(v.get_double());
    return;
  case boost::json::kind::string:
    pack_string(pk, {v.get_string().data(), v.get_string().size()});
    return;
  case boost::json::kind::array:
    pk.pack_array(static_cast<std::uint32_t>(v.get_array().size()));
    for (const auto& e : v.get_array())
      pack_value(pk, e, attachments);
    return;
  case boost::json::kind::object: {
    std::uint64_t num = 0;
    if (is_placeholder(v, num) && num < attachments.size()) {
      const auto& bytes = attachments[num];
      pk.pack_bin(static_cast<std::uint32_t>(bytes.size()));
      pk.pack_bin_body(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
      return;
    }
    pk.pack_map(static_cast<std::uint32_t>(v.get_object().size()));
    for (const auto& kv : v.get_object()) {
      pack_string(pk, {kv.key().data(), kv.key().size()});
      pack_value(pk, kv.value(), attachments);
    }
    return;
  }
  }
}

bool is_utf8(std::string_view s) {
  using traits = boost::locale::utf::utf_traits<char>;
  auto* p = s.data();
  auto* end = p + s.size();
  while (p != end) {
    if (static_cast<unsigned char>(*p) < 0x80) {
      ++p;
      continue;
    }
    auto c = traits::decode(p, end);
    if (c == boost::locale::utf::illegal || c == boost::locale::utf::incomplete)
      return false;
  }
  return true;
}

/// The byte before an extension's type: a fixext marker (0xd4 fixext 1, 0xd7 fixext 8)
/// or the last byte of an ext 8/16/32 length. The data is referenced in the input
/// (unpack's reference function), so the byte is there.
unsigned char ext_marker(const msgpack::object& o) {
  return static_cast<unsigned char>(o.via.ext.ptr[-1]);
}

bool is_notepack_undefined(const msgpack::object& o) {
  return o.type == msgpack::type::EXT && o.via.ext.type() == 0 && o.via.ext.size == 1 && ext_marker(o) == 0xd4;
}

/// A JavaScript Date (milliseconds since 1970) as JSON.stringify writes it; null when JS
/// would hold an invalid date.
boost::json::value iso_date(std::int64_t ms) {
  constexpr std::int64_t max_ms = 8640000000000000; // ECMAScript's time value range
  if (ms > max_ms || ms < -max_ms)
    return nullptr;
  auto secs = ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
  auto milli = ms - secs * 1000;
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  if (!gmtime_r(&t, &tm))
    return nullptr;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(milli));
  return boost::json::string(buf);
}

struct converter {
  std::size_t max_attachments;
  std::vector<std::string>& attachments;
  const char* error = nullptr;

  bool fail(const char* why) {
    error = why;
    return false;
  }

  bool add_binary(const char* data, std::size_t size, boost::json::value& out) {
    if (attachments.size() >= max_attachments)
      return fail("too many binary values");
    out = add_attachment(attachments, std::string(data, size));
    return true;
  }

  /// notepack.io's extensions, read as it reads them: fixext 1 of type 0 is `undefined`
  /// (null), fixext 8 of type 0 a Date (its ISO string, as JSON.stringify writes one),
  /// ext 8/16/32 of type 0 an ArrayBuffer (binary); any other extension the pair
  /// [type, bytes] it decodes to.
  bool ext_to_json(const msgpack::object& o, boost::json::value& out) {
    auto type = o.via.ext.type();
    auto size = o.via.ext.size;
    auto marker = ext_marker(o);
    bool fixext = (size == 1 && marker == 0xd4) || (size == 2 && marker == 0xd5) || (size == 4 && marker == 0xd6)
                  || (size == 8 && marker == 0xd7) || (size == 16 && marker == 0xd8);
    if (type == 0 && fixext && size == 1) {
      out = nullptr;
      return true;
    }
    if (type == 0 && fixext && size == 8) {
      const auto* b = reinterpret_cast<const unsigned char*>(o.via.ext.data());
      std::uint64_t bits = 0;
      for (int i = 0; i < 8; ++i)
        bits = (bits << 8) | b[i];
      // notepack writes hi (signed) * 2^32 + lo: the two's complement int64.
      out = iso_date(static_cast<std::int64_t>(bits));
      return true;
    }
    if (type == 0 && !fixext)
      return add_binary(o.via.ext.data(), size, out);
    boost::json::array pair;
    pair.emplace_back(static_cast<std::int64_t>(type));
    if (!add_binary(o.via.ext.data(), size, pair.emplace_back(nullptr)))
      return false;
    out = std::move(pair);
    return true;
  }

  bool to_json(const msgpack::object& o, boost::json::value& out) {
    switch (o.type) {
    case msgpack::type::NIL:
      out = nullptr;
      return true;
    case msgpack::type::BOOLEAN:
      out = o.via.boolean;
      return true;
    case msgpack::type::POSITIVE_INTEGER:
      out = o.via.u64;
      return true;
    case msgpack::type::NEGATIVE_INTEGER:
      out = o.via.i64;
      return true;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      if (std::isfinite(o.via.f64))
        out = o.via.f64;
      else
        out = nullptr; // as JSON.stringify writes them
      return true;
    case msgpack::type::STR: {
      std::string_view s(o.via.str.ptr, o.via.str.size);
      if (!is_utf8(s))
        return fail("a string is not UTF-8");
      out = boost::json::string(s);
      return true;
    }
    case msgpack::type::BIN:
      return add_binary(o.via.bin.ptr, o.via.bin.size, out);
    case msgpack::type::ARRAY: {
      boost::json::array arr;
      arr.reserve(o.via.array.size);
      for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
        if (!to_json(o.via.array.ptr[i], arr.emplace_back(nullptr)))
          return false;
      }
      out = std::move(arr);
      return true;
    }
    case msgpack::type::MAP: {
      boost::json::object obj;
      obj.reserve(o.via.map.size);
      for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
        const auto& kv = o.via.map.ptr[i];
        if (kv.key.type != msgpack::type::STR)
          return fail("a map key is not a string");
        std::string_view key(kv.key.via.str.ptr, kv.key.via.str.size);
        if (!is_utf8(key))
          return fail("a map key is not UTF-8");
        if (key == "_placeholder")
          return fail("a _placeholder key"); // binary is sent as bin, never as a placeholder
        boost::json::value v;
        if (!to_json(kv.val, v))
          return false;
        obj[key] = std::move(v);
      }
      out = std::move(obj);
      return true;
    }
    case msgpack::type::EXT:
      return ext_to_json(o, out);
    }
    return fail("an unknown type");
  }
};

const msgpack::object* field(const msgpack::object& map, std::string_view name) {
  for (std::uint32_t i = 0; i < map.via.map.size; ++i) {
    const auto& kv = map.via.map.ptr[i];
    if (kv.key.type == msgpack::type::STR && std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == name)
      return &kv.val;
  }
  return nullptr;
}

bool is_undefined(const msgpack::object* o) {
  return !o || is_notepack_undefined(*o);
}

} // namespace

std::string encode(const packet& p) {
  msgpack::sbuffer buf;
  packer pk(buf);
  auto type = p.type == packet_type::binary_event ? packet_type::event
              : p.type == packet_type::binary_ack ? packet_type::ack
                                                   : p.type;
  pk.pack_map(2 + (p.has_data ? 1 : 0) + (p.id ? 1 : 0));
  pack_string(pk, "type");
  pk.pack_uint8(static_cast<std::uint8_t>(type));
  if (p.has_data) {
    pack_string(pk, "data");
    pack_value(pk, p.data, p.attachments);
  }
  pack_string(pk, "nsp");
  pack_string(pk, p.nsp);
  if (p.id) {
    pack_string(pk, "id");
    pk.pack_uint64(*p.id);
  }
  return std::string(buf.data(), buf.size());
}

std::variant<packet, parse_error> decode(std::string_view bytes, std::size_t max_attachments) {
  msgpack::object_handle handle;
  try {
    // Every element takes at least a byte: no count may pass the input's size.
    auto n = static_cast<std::size_t>(std::min<std::size_t>(bytes.size(), 0xFFFFFFFFu));
    msgpack::unpack_limit limit(n, n, n, n, n, max_depth);
    std::size_t offset = 0;
    // Strings, binaries and extensions refer into `bytes` (no copies; ext_marker reads the
    // byte before an extension's type).
    auto refer = [](msgpack::type::object_type, std::size_t, void*) { return true; };
    handle = msgpack::unpack(bytes.data(), bytes.size(), offset, refer, nullptr, limit);
    if (offset != bytes.size())
      return parse_error{"bytes after the packet"};
  } catch (const std::exception&) {
    return parse_error{"not MessagePack"};
  }
  const auto& root = handle.get();
  if (root.type != msgpack::type::MAP)
    return parse_error{"the packet is not a map"};
  for (std::uint32_t i = 0; i < root.via.map.size; ++i)
    if (root.via.map.ptr[i].key.type != msgpack::type::STR)
      return parse_error{"a packet key is not a string"};
  packet p;
  const auto* type = field(root, "type");
  if (!type || type->type != msgpack::type::POSITIVE_INTEGER || type->via.u64 > 4)
    return parse_error{"invalid packet type"};
  p.type = static_cast<packet_type>(type->via.u64);
  const auto* nsp = field(root, "nsp");
  if (!nsp || nsp->type != msgpack::type::STR)
    return parse_error{"invalid namespace"};
  p.nsp.assign(nsp->via.str.ptr, nsp->via.str.size);
  if (!valid_namespace(p.nsp))
    return parse_error{"invalid namespace"};
  const auto* id = field(root, "id");
  if (!is_undefined(id)) {
    if (id->type != msgpack::type::POSITIVE_INTEGER)
      return parse_error{"invalid packet id"};
    p.id = id->via.u64;
  }
  const auto* data = field(root, "data");
  if (!is_undefined(data)) {
    converter c{max_attachments, p.attachments};
    if (!c.to_json(*data, p.data))
      return parse_error{c.error};
    p.has_data = true;
  }
  if (!p.attachments.empty()) {
    if (p.type == packet_type::event)
      p.type = packet_type::binary_event;
    else if (p.type == packet_type::ack)
      p.type = packet_type::binary_ack;
    else
      return parse_error{"binary in a packet that cannot carry it"};
  }
  if (!payload_valid(p.type, p.has_data, p.data))
    return parse_error{"invalid payload"};
  return p;
}

std::optional<std::string> from_text(std::string_view text, const std::vector<std::string>& attachments) {
  decoder d(attachments.size() + 1, 0);
  auto r = d.feed_text(text);
  for (std::size_t i = 0; i < attachments.size() && std::holds_alternative<decoder::need_more>(r); ++i)
    r = d.feed_binary(attachments[i]);
  if (auto* p = std::get_if<packet>(&r))
    return msgpack_parser::encode(*p);
  return std::nullopt;
}

} // namespace sio::socketio::msgpack_parser
