#include "persistence/store.hpp"

#include <algorithm>
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

std::optional<std::vector<std::string>> named_participants(std::string_view conversation_id) {
  constexpr std::string_view user_prefix = "private-user.", chat_prefix = "private-chat.";
  std::vector<std::string> users;
  if (conversation_id.substr(0, user_prefix.size()) == user_prefix) {
    users.emplace_back(conversation_id.substr(user_prefix.size()));
  } else if (conversation_id.substr(0, chat_prefix.size()) == chat_prefix) {
    auto rest = conversation_id.substr(chat_prefix.size());
    for (std::size_t start = 0; start <= rest.size();) {
      auto end = std::min(rest.find_first_of("-_", start), rest.size());
      users.emplace_back(rest.substr(start, end - start));
      start = end + 1;
    }
  } else {
    return std::nullopt;
  }
  // An empty part names nobody (private-chat.a- admits a alone).
  users.erase(std::remove(users.begin(), users.end(), std::string()), users.end());
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  return users;
}

void require_participant(store& s, const std::string& conversation_id, const std::string& user_id) {
  if (!s.is_participant(conversation_id, user_id))
    throw rejected(rejected::reason::not_participant, user_id + " is not a participant of " + conversation_id);
}

std::optional<participant_list> named_participant_list(const std::string& conversation_id) {
  auto named = named_participants(conversation_id);
  if (!named)
    return std::nullopt;
  return participant_list{conversation_id, false, std::move(*named)};
}

// Each item as its length (decimal), ':' and its bytes: rooms and attachments may hold any
// byte, so no separator would do.
std::string encode_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += std::to_string(item.size());
    out += ':';
    out += item;
  }
  return out;
}

std::vector<std::string> decode_list(std::string_view blob) {
  std::vector<std::string> out;
  while (!blob.empty()) {
    auto colon = blob.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 12)
      throw std::runtime_error("a malformed list in the store");
    std::size_t n = 0;
    for (std::size_t i = 0; i < colon; ++i) {
      if (blob[i] < '0' || blob[i] > '9')
        throw std::runtime_error("a malformed list in the store");
      n = n * 10 + static_cast<std::size_t>(blob[i] - '0');
    }
    if (n > blob.size() - colon - 1)
      throw std::runtime_error("a malformed list in the store");
    out.emplace_back(blob.substr(colon + 1, n));
    blob.remove_prefix(colon + 1 + n);
  }
  return out;
}

} // namespace chat::persistence
