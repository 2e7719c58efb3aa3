// The chat's rate limit: at most `limit` sends per window for each key (a verified user,
// a connection, a client address), counted in fixed windows that start at a key's first
// send. Memory is bounded whatever the clients do: at most `capacity` keys are kept, in
// the order their windows started; an entry whose window has passed counts as absent and
// is dropped as calls come, and a new key that finds every slot taken replaces the key
// whose window started first (it restarts from zero when it comes back).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace chat {

/// Keys the chat keeps: at most ~9 MB (tests/unit/rate_limiter_test.cpp measures it).
inline constexpr std::size_t rate_limit_keys = 65536;

class rate_limiter {
public:
  /// A key and its limit per window.
  struct quota {
    std::string_view key;
    std::int64_t limit;
  };

  rate_limiter(std::size_t capacity, std::int64_t window_ms);

  /// Whether `count` more sends pass every quota at `now_ms`; counted in each of them
  /// only when all pass (a refused send costs nothing). Thread-safe.
  bool allow(std::initializer_list<quota> quotas, std::int64_t now_ms, std::int64_t count = 1);

  /// Keys held (expired ones not yet dropped included).
  std::size_t size() const;

  // -- across nodes (rate_replicator.hpp) --

  /// A key and a count.
  struct sent {
    std::string key;
    std::int64_t count;
  };
  /// Whether allow() keeps what it counts for take_unsent() too (off: nothing kept).
  void track_unsent(bool on);
  /// What allow() counted since the last call, per key (at most `capacity()` keys),
  /// to tell the other nodes.
  std::vector<sent> take_unsent();
  /// Counts another node let through: they weigh on this node's windows like its own
  /// (a key not held starts its window now).
  void add(std::string_view key, std::int64_t count, std::int64_t now_ms);
  std::size_t capacity() const { return capacity_; }

private:
  static constexpr std::uint32_t none = UINT32_MAX;
  struct entry {
    std::string key;
    std::int64_t window_start = 0;
    std::int64_t count = 0;
    std::int64_t unsent = 0;                // counted here, not yet told to the other nodes
    std::uint32_t prev = none, next = none; // in window-start order
  };

  bool expired(const entry& e, std::int64_t now) const { return now - e.window_start >= window_ms_; }
  std::uint32_t find_or_add(std::string_view key, std::int64_t now);
  void unlink(std::uint32_t i);
  void link_newest(std::uint32_t i);
  void remove(std::uint32_t i);

  const std::size_t capacity_;
  const std::int64_t window_ms_;
  mutable std::mutex mutex_;
  std::deque<entry> entries_; // a deque: growing it never moves an entry (index_ views their keys)
  std::vector<std::uint32_t> free_;
  std::unordered_map<std::string_view, std::uint32_t> index_;
  std::uint32_t oldest_ = none, newest_ = none;
  bool track_unsent_ = false;
  std::vector<std::uint32_t> unsent_; // entries whose unsent count went above zero
};

} // namespace chat
