// The Pusher protocol decoder, and the Socket.IO-to-Pusher translation of broadcast
// frames. Whatever a client sends decodes to a message or a reason, never a throw; a
// decoded message re-encodes (as the server relays a client event) to valid JSON whose
// data decodes to the same value; a frame read as a room event re-encodes to JSON too.
#include "tests/fuzz/check.hpp"
#include "transport/pusher/message.hpp"

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

using namespace pusher;
namespace json = boost::json;

namespace {

void check_reencoded(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  FUZZ_CHECK(!ec);
  FUZZ_CHECK(v.is_object() && v.as_object().at("event").is_string() && v.as_object().at("data").is_string());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    auto r = decode(input);
    if (auto* m = std::get_if<client_message>(&r)) {
      FUZZ_CHECK(!m->event.empty());
      auto channel = m->channel && valid_channel_name(*m->channel) ? std::optional<std::string_view>(*m->channel)
                                                                   : std::nullopt;
      auto text = encode_event(m->event, channel, m->data, std::string_view("u"));
      check_reencoded(text);
      // What a subscriber receives decodes back to the same event and data.
      auto back = decode(text);
      auto* again = std::get_if<client_message>(&back);
      FUZZ_CHECK(again != nullptr && again->event == m->event);
      FUZZ_CHECK(again->data == m->data);
    } else {
      FUZZ_CHECK(!std::get<bad_message>(r).reason.empty());
    }
    if (auto e = from_socketio(input)) {
      check_reencoded(encode_event(e->event, std::string_view("c"), e->data));
    }
    (void)kind_of(input);
    if (valid_channel_name(input))
      FUZZ_CHECK(input.size() >= 1 && input.size() <= 164);
    (void)valid_socket_id(input);
  } catch (...) {
    FUZZ_CHECK(!"the pusher codec threw");
  }
  return 0;
}
