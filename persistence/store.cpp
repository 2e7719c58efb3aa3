#include "persistence/store.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <random>

namespace chat::persistence {

timestamp_ms now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {

struct id_source {
  std::array<std::uint8_t, 5> process_bytes{};
  std::atomic<std::uint32_t> counter{0};

  id_source() {
    std::random_device rd;
    for (auto& b : process_bytes)
      b = static_cast<std::uint8_t>(rd());
    counter = rd();
  }
};

} // namespace

std::string make_message_id() {
  static id_source source;
  static constexpr char hex[] = "0123456789abcdef";
  using namespace std::chrono;
  auto seconds =
      static_cast<std::uint32_t>(duration_cast<std::chrono::seconds>(system_clock::now().time_since_epoch()).count());
  auto count = source.counter.fetch_add(1, std::memory_order_relaxed);
  std::array<std::uint8_t, 12> bytes{};
  for (int i = 0; i < 4; ++i)
    bytes[i] = static_cast<std::uint8_t>(seconds >> (24 - 8 * i));
  for (int i = 0; i < 5; ++i)
    bytes[4 + i] = source.process_bytes[i];
  for (int i = 0; i < 3; ++i)
    bytes[9 + i] = static_cast<std::uint8_t>(count >> (16 - 8 * i));
  std::string id;
  id.reserve(24);
  for (auto b : bytes) {
    id += hex[b >> 4];
    id += hex[b & 0xf];
  }
  return id;
}

bool valid_message_type(std::string_view type) {
  return type == "text" || type == "file" || type == "image";
}

std::optional<std::string> invalid_message_reason(const conversation_message& msg) {
  if (msg.conversation_id.empty())
    return "missing conversation id";
  if (msg.sender_id.empty())
    return "missing sender id";
  if (!valid_message_type(msg.type))
    return "invalid message type '" + msg.type + "' (text, file or image)";
  return std::nullopt;
}

} // namespace chat::persistence
