// The Socket.IO decoder with binary attachments. The input is a sequence of Engine.IO
// messages separated by 0xFF (a byte UTF-8 text never holds); a message that starts with
// 0xFE is binary (an attachment), its bytes after that marker. Every decoded packet
// re-encodes to text plus attachments that a fresh decoder turns into the same packet.
#include "tests/fuzz/check.hpp"
#include "transport/socketio/packet.hpp"

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

using namespace sio::socketio;

namespace {

constexpr std::size_t max_attachments = 8;
constexpr std::size_t max_depth = 128; // socketio::parse_json's nesting bound, and a bit

bool same(const packet& a, const packet& b) {
  return a.type == b.type && a.nsp == b.nsp && a.id == b.id && a.has_data == b.has_data && a.data == b.data
         && a.attachments == b.attachments;
}

std::size_t depth(const boost::json::value& v) {
  std::size_t deepest = 0;
  if (auto* arr = v.if_array())
    for (auto& e : *arr)
      deepest = std::max(deepest, depth(e));
  else if (auto* obj = v.if_object())
    for (auto& kv : *obj)
      deepest = std::max(deepest, depth(kv.value()));
  else
    return 0;
  return deepest + 1;
}

/// Every placeholder indexes one of the packet's attachments.
void check_placeholders(const boost::json::value& v, std::size_t count) {
  std::uint64_t num = 0;
  if (is_placeholder(v, num)) {
    FUZZ_CHECK(num < count);
    return;
  }
  if (auto* arr = v.if_array())
    for (auto& e : *arr)
      check_placeholders(e, count);
  else if (auto* obj = v.if_object())
    for (auto& kv : *obj)
      check_placeholders(kv.value(), count);
}

void check_packet(const packet& p) {
  FUZZ_CHECK(valid_namespace(p.nsp));
  FUZZ_CHECK(p.attachments.size() <= max_attachments);
  bool binary = p.type == packet_type::binary_event || p.type == packet_type::binary_ack;
  FUZZ_CHECK(binary == !p.attachments.empty());
  FUZZ_CHECK(p.has_data || p.data.is_null());
  FUZZ_CHECK(depth(p.data) <= max_depth);
  check_placeholders(p.data, p.attachments.size());
  if (p.type == packet_type::event || p.type == packet_type::binary_event) {
    auto& name = p.data.as_array().at(0).as_string();
    FUZZ_CHECK(!is_reserved_event({name.data(), name.size()}));
  }

  // Round trip through a fresh decoder: the text part, then the attachments.
  decoder again{max_attachments};
  auto r = again.feed_text(encode(p));
  for (auto& bytes : p.attachments) {
    FUZZ_CHECK(std::holds_alternative<decoder::need_more>(r));
    r = again.feed_binary(bytes);
  }
  auto* back = std::get_if<packet>(&r);
  FUZZ_CHECK(back != nullptr && same(*back, p));
  FUZZ_CHECK(!again.awaiting_attachments());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  decoder d{max_attachments};
  std::size_t pos = 0;
  while (pos <= input.size()) {
    auto end = input.find('\xFF', pos);
    if (end == std::string_view::npos)
      end = input.size();
    auto message = input.substr(pos, end - pos);
    pos = end + 1;
    bool binary = !message.empty() && message[0] == '\xFE';
    try {
      auto r = binary ? d.feed_binary(std::string(message.substr(1))) : d.feed_text(message);
      if (auto* p = std::get_if<packet>(&r)) {
        FUZZ_CHECK(!d.awaiting_attachments());
        check_packet(*p);
      } else if (std::holds_alternative<decoder::need_more>(r)) {
        FUZZ_CHECK(d.awaiting_attachments());
      } else {
        FUZZ_CHECK(!std::get<parse_error>(r).reason.empty());
        FUZZ_CHECK(!d.awaiting_attachments());
      }
    } catch (...) {
      FUZZ_CHECK(!"the decoder threw");
    }
  }
  return 0;
}
