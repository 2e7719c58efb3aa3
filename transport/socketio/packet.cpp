#include "transport/socketio/packet.hpp"

#include <boost/json/array.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value_stack.hpp>

#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

namespace sio::socketio {

namespace {

constexpr std::size_t max_namespace_length = 256;

/// Boost.JSON's default nesting limit (32) is lower than what JSON.parse accepts; raise it
/// to something generous but still bounded (the placeholder walk below is recursive).
constexpr std::size_t max_json_depth = 128;

constexpr std::string_view reserved_events[] = {
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
};

bool is_binary_type(packet_type t) {
  return t == packet_type::binary_event || t == packet_type::binary_ack;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// Appends [<nsp>,] — omitted for the main namespace.
void append_nsp(std::string& out, std::string_view nsp) {
  if (!nsp.empty() && nsp != "/") {
    out += nsp;
    out.push_back(',');
  }
}

parse_error make_error(std::string reason) {
  return parse_error{std::move(reason)};
}

bool marked_as_placeholder(const boost::json::object& obj) {
  auto it = obj.find("_placeholder");
  return it != obj.end() && it->value().is_bool() && it->value().get_bool();
}

/// Every object marked {"_placeholder":true} must be a well-formed placeholder whose num
/// indexes one of the `count` announced attachments (count is 0 for non-binary packets).
bool placeholders_valid(const boost::json::value& v, std::size_t count) {
  if (v.is_array()) {
    for (const auto& e : v.get_array())
      if (!placeholders_valid(e, count))
        return false;
    return true;
  }
  if (v.is_object()) {
    const auto& obj = v.get_object();
    if (marked_as_placeholder(obj)) {
      std::uint64_t num = 0;
      return is_placeholder(v, num) && num < count;
    }
    for (const auto& kv : obj)
      if (!placeholders_valid(kv.value(), count))
        return false;
    return true;
  }
  return true;
}

/// Builds values as boost::json::parse does, except numbers with a fraction or exponent:
/// Boost.JSON 1.81 rounds some of those to a neighbour of the nearest double (991e199
/// reads as 9.910000000000001e201, which reads back as yet another double), so a relayed
/// number would change on its way. std::from_chars rounds correctly, as JSON.parse does.
class precise_handler {
public:
  static constexpr std::size_t max_object_size = boost::json::object::max_size();
  static constexpr std::size_t max_array_size = boost::json::array::max_size();
  static constexpr std::size_t max_key_size = boost::json::string::max_size();
  static constexpr std::size_t max_string_size = boost::json::string::max_size();

  using string_view = boost::json::string_view;
  using error_code = boost::json::error_code;

  /// The value stack starts in `temp`, as boost::json::parse's does on its stack.
  precise_handler(unsigned char* temp, std::size_t size) : st({}, temp, size) {}

  boost::json::value_stack st;

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) { return true; }
  bool on_object_end(std::size_t n, error_code&) {
    st.push_object(n);
    return true;
  }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(std::size_t n, error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(string_view s, std::size_t, error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(string_view s, std::size_t, error_code&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(string_view s, std::size_t, error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(string_view s, std::size_t, error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(string_view s, error_code&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, string_view, error_code&) {
    number_.clear();
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, string_view, error_code&) {
    number_.clear();
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, string_view s, error_code&) {
    number_.append(s.data(), s.size());
    double precise = 0;
    auto [end, err] = std::from_chars(number_.data(), number_.data() + number_.size(), precise);
    // Out of range (1e999, 1e-999) keeps Boost's infinity or zero, as JSON.parse's.
    if (err == std::errc() && end == number_.data() + number_.size())
      d = precise;
    number_.clear();
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }

private:
  std::string number_; // the text of the number being read
};

/// JSON has no infinities or NaN; Boost.JSON parses 1e999 to an infinity and would write
/// it back as a bare `Infinity`, which no client parses.
void replace_non_finite(boost::json::value& v) {
  switch (v.kind()) {
  case boost::json::kind::double_:
    if (!std::isfinite(v.get_double()))
      v = nullptr;
    return;
  case boost::json::kind::array:
    for (auto& e : v.get_array())
      replace_non_finite(e);
    return;
  case boost::json::kind::object:
    for (auto& kv : v.get_object())
      replace_non_finite(kv.value());
    return;
  default:
    return;
  }
}

} // namespace

bool is_reserved_event(std::string_view name) {
  for (auto r : reserved_events)
    if (name == r)
      return true;
  return false;
}

bool payload_valid(packet_type type, bool has_data, const boost::json::value& data) {
  switch (type) {
  case packet_type::connect:
    return !has_data || data.is_object();
  case packet_type::disconnect:
    return !has_data;
  case packet_type::connect_error:
    return !has_data || data.is_string() || data.is_object();
  case packet_type::event:
  case packet_type::binary_event: {
    if (!has_data || !data.is_array())
      return false;
    const auto& arr = data.get_array();
    if (arr.empty() || !arr[0].is_string())
      return false;
    const auto& name = arr[0].get_string();
    return !is_reserved_event({name.data(), name.size()});
  }
  case packet_type::ack:
  case packet_type::binary_ack:
    return has_data && data.is_array();
  }
  return false;
}

std::optional<boost::json::value> parse_json(std::string_view text) {
  boost::json::parse_options opts;
  opts.max_depth = max_json_depth;
  unsigned char temp[BOOST_JSON_STACK_BUFFER_SIZE];
  boost::json::basic_parser<precise_handler> parser(opts, temp, sizeof temp);
  parser.handler().st.reset();
  boost::json::error_code ec;
  auto n = parser.write_some(false, text.data(), text.size(), ec);
  if (ec || n < text.size() || !parser.done())
    return std::nullopt;
  auto v = parser.handler().st.release();
  replace_non_finite(v);
  return v;
}

std::string encode(const packet& p) {
  auto type = p.type;
  if (!p.attachments.empty()) {
    if (type == packet_type::event)
      type = packet_type::binary_event;
    else if (type == packet_type::ack)
      type = packet_type::binary_ack;
  } else {
    // A binary type without attachments would announce "0-", which no decoder accepts.
    if (type == packet_type::binary_event)
      type = packet_type::event;
    else if (type == packet_type::binary_ack)
      type = packet_type::ack;
  }
  std::string out;
  out.push_back(static_cast<char>('0' + static_cast<int>(type)));
  if (is_binary_type(type)) {
    out += std::to_string(p.attachments.size());
    out.push_back('-');
  }
  append_nsp(out, p.nsp);
  if (p.id)
    out += std::to_string(*p.id);
  if (p.has_data)
    out += boost::json::serialize(p.data);
  return out;
}

std::string encode_connect_ok(std::string_view nsp, std::string_view sid, std::string_view pid) {
  std::string out = "0";
  append_nsp(out, nsp);
  boost::json::object obj;
  obj.emplace("sid", boost::json::string(sid.data(), sid.size()));
  if (!pid.empty())
    obj.emplace("pid", boost::json::string(pid.data(), pid.size()));
  out += boost::json::serialize(obj);
  return out;
}

std::string encode_connect_error(std::string_view nsp, std::string_view message, const boost::json::value* data) {
  std::string out = "4";
  append_nsp(out, nsp);
  boost::json::object obj;
  obj.emplace("message", boost::json::string(message.data(), message.size()));
  if (data != nullptr)
    obj.emplace("data", *data);
  out += boost::json::serialize(obj);
  return out;
}

std::string encode_disconnect(std::string_view nsp) {
  std::string out = "1";
  append_nsp(out, nsp);
  return out;
}

std::string encode_connect_ok_v2(std::string_view nsp) {
  std::string out = "0";
  if (nsp != "/")
    out += nsp;
  return out;
}

std::string encode_connect_error_v2(std::string_view nsp, std::string_view message, const boost::json::value* data) {
  std::string out = "4";
  append_nsp(out, nsp);
  out += data ? boost::json::serialize(*data)
              : boost::json::serialize(boost::json::string(message.data(), message.size()));
  return out;
}

bool valid_namespace(std::string_view nsp) {
  if (nsp.empty() || nsp.size() > max_namespace_length || nsp[0] != '/')
    return false;
  for (auto ch : nsp.substr(1)) {
    auto c = static_cast<unsigned char>(ch);
    if (c == ',')
      return false;
    if (c < 0x21 || c == 0x7F)
      return false;
  }
  return true;
}

boost::json::value add_attachment(std::vector<std::string>& attachments, std::string bytes) {
  auto num = static_cast<std::uint64_t>(attachments.size());
  attachments.push_back(std::move(bytes));
  boost::json::object obj;
  obj.emplace("_placeholder", true);
  obj.emplace("num", num);
  return boost::json::value(std::move(obj));
}

bool is_placeholder(const boost::json::value& v, std::uint64_t& num) {
  const auto* obj = v.if_object();
  if (obj == nullptr || !marked_as_placeholder(*obj))
    return false;
  auto it = obj->find("num");
  if (it == obj->end())
    return false;
  const auto& n = it->value();
  if (n.is_uint64()) {
    num = n.get_uint64();
    return true;
  }
  if (n.is_int64() && n.get_int64() >= 0) {
    num = static_cast<std::uint64_t>(n.get_int64());
    return true;
  }
  return false;
}

decoder::result decoder::feed_text(std::string_view text) {
  if (pending_) {
    reset();
    return make_error("unexpected text while awaiting attachments");
  }
  if (text.empty())
    return make_error("empty packet");
  if (text[0] < '0' || text[0] > '6')
    return make_error("unknown packet type");

  packet p;
  p.type = static_cast<packet_type>(text[0] - '0');
  std::size_t i = 1;

  // <attachments>- for binary types only
  std::size_t count = 0;
  if (is_binary_type(p.type)) {
    auto start = i;
    while (i < text.size() && is_digit(text[i])) {
      auto d = static_cast<std::size_t>(text[i] - '0');
      if (count > (std::numeric_limits<std::size_t>::max() - d) / 10)
        return make_error("illegal attachments");
      count = count * 10 + d;
      ++i;
    }
    if (i == start || i >= text.size() || text[i] != '-')
      return make_error("illegal attachments");
    if (count < 1)
      return make_error("illegal attachments");
    if (count > max_attachments_)
      return make_error("too many attachments");
    ++i; // '-'
  }

  // <nsp>[,] — the namespace runs up to the next ',' or to the end
  if (i < text.size() && text[i] == '/') {
    auto comma = text.find(',', i);
    auto end = comma == std::string_view::npos ? text.size() : comma;
    auto nsp = text.substr(i, end - i);
    if (!valid_namespace(nsp))
      return make_error("invalid namespace");
    p.nsp.assign(nsp);
    i = comma == std::string_view::npos ? text.size() : comma + 1;
  }

  // <id>
  if (i < text.size() && is_digit(text[i])) {
    std::uint64_t id = 0;
    constexpr auto max_id = std::numeric_limits<std::uint64_t>::max();
    while (i < text.size() && is_digit(text[i])) {
      auto d = static_cast<std::uint64_t>(text[i] - '0');
      if (id > (max_id - d) / 10)
        return make_error("ack id out of range");
      id = id * 10 + d;
      ++i;
    }
    p.id = id;
  }

  // <json>
  if (i < text.size()) {
    auto v = parse_json(text.substr(i));
    if (!v)
      return make_error("invalid json");
    p.data = std::move(*v);
    p.has_data = true;
  }

  if (!payload_valid(p.type, p.has_data, p.data))
    return make_error("invalid payload");
  if (p.has_data && !placeholders_valid(p.data, count))
    return make_error("illegal attachments");

  if (count == 0)
    return p;
  p.attachments.reserve(count);
  expected_ = count;
  pending_ = std::move(p);
  return need_more{};
}

decoder::result decoder::feed_binary(std::string bytes) {
  if (!pending_)
    return make_error("unexpected binary data");
  if (max_pending_bytes_ != 0 && bytes.size() > max_pending_bytes_ - pending_bytes_) {
    reset();
    return make_error("attachments too large");
  }
  pending_bytes_ += bytes.size();
  pending_->attachments.push_back(std::move(bytes));
  if (pending_->attachments.size() < expected_)
    return need_more{};
  packet p = std::move(*pending_);
  reset();
  return p;
}

} // namespace sio::socketio
