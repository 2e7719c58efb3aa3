// What the persistence actor's tests and the remote store's share: a CAF config with the
// persistence messages announced, a temporary directory for the SQLite file, a request's
// recorded outcome, and a text message to store.
#pragma once

#include "actors/persistence_actor.hpp"

#include <caf/all.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace persistence_support {

struct config : caf::actor_system_config {
  config() { chat::announce_persistence_types(*this); }
};

// A fresh directory under the system's temp directory, removed afterwards.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    auto pattern = (std::filesystem::temp_directory_path() / "persistence_test.XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// One request's outcome, filled in by the requester actor when the answer arrives;
// `answers` counts them where a test checks that one came and no second.
template <class T> struct reply {
  std::optional<T> value;
  std::optional<caf::error> error;
  int answers = 0;
  bool answered() const { return value.has_value() || error.has_value(); }
  bool failed_with(chat::persistence_errc code) const {
    return error && error->category() == chat::persistence_error_category
           && error->code() == static_cast<std::uint8_t>(code);
  }
};

template <class T> using reply_ptr = std::shared_ptr<reply<T>>;

inline chat::persistence::conversation_message text(std::string conversation, std::string sender, std::string content,
                                                    chat::persistence::timestamp_ms at = 0, std::string id = {}) {
  chat::persistence::conversation_message m;
  m.id = std::move(id);
  m.conversation_id = std::move(conversation);
  m.sender_id = std::move(sender);
  m.content = std::move(content);
  m.created_at = at;
  return m;
}

} // namespace persistence_support
