#include "apps/chat-server/rate_limiter.hpp"

#include <algorithm>

namespace chat {

namespace {

// Expired entries dropped per call at most: keeps every call O(1) while the table drains
// as fast as it fills.
constexpr int prune_per_call = 4;

} // namespace

rate_limiter::rate_limiter(std::size_t capacity, std::int64_t window_ms)
    : capacity_(std::clamp<std::size_t>(capacity, 1, none - 1)), window_ms_(std::max<std::int64_t>(window_ms, 1)) {}

std::size_t rate_limiter::size() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return index_.size();
}

bool rate_limiter::allow(std::initializer_list<quota> quotas, std::int64_t now_ms, std::int64_t count) {
  std::lock_guard<std::mutex> guard(mutex_);
  for (int n = 0; n < prune_per_call && oldest_ != none && expired(entries_[oldest_], now_ms); ++n)
    remove(oldest_);
  // A quota's key that is absent (or expired) has a fresh window: count 0.
  for (auto& q : quotas) {
    auto it = index_.find(q.key);
    std::int64_t used = 0;
    if (it != index_.end() && !expired(entries_[it->second], now_ms))
      used = entries_[it->second].count;
    if (used + count > q.limit)
      return false;
  }
  for (auto& q : quotas) {
    auto i = find_or_add(q.key, now_ms);
    auto& e = entries_[i];
    e.count += count;
    if (track_unsent_) {
      if (e.unsent == 0)
        unsent_.push_back(i);
      e.unsent += count;
    }
  }
  return true;
}

void rate_limiter::track_unsent(bool on) {
  std::lock_guard<std::mutex> guard(mutex_);
  track_unsent_ = on;
  if (on)
    return;
  for (auto i : unsent_)
    entries_[i].unsent = 0;
  std::vector<std::uint32_t>().swap(unsent_);
}

std::vector<rate_limiter::sent> rate_limiter::take_unsent() {
  std::lock_guard<std::mutex> guard(mutex_);
  std::vector<sent> out;
  out.reserve(unsent_.size());
  // An index may be listed twice (its entry was dropped and the slot reused): the first
  // visit takes the count, the second finds zero.
  for (auto i : unsent_) {
    auto& e = entries_[i];
    if (e.unsent > 0)
      out.push_back({e.key, e.unsent});
    e.unsent = 0;
  }
  unsent_.clear();
  return out;
}

void rate_limiter::add(std::string_view key, std::int64_t count, std::int64_t now_ms) {
  if (count <= 0)
    return;
  std::lock_guard<std::mutex> guard(mutex_);
  entries_[find_or_add(key, now_ms)].count += count;
}

std::uint32_t rate_limiter::find_or_add(std::string_view key, std::int64_t now) {
  if (auto it = index_.find(key); it != index_.end()) {
    auto i = it->second;
    auto& e = entries_[i];
    if (expired(e, now)) {
      e.window_start = now;
      e.count = 0;
      unlink(i);
      link_newest(i);
    }
    return i;
  }
  if (index_.size() >= capacity_)
    remove(oldest_); // the window closest to its end gives way
  std::uint32_t i;
  if (!free_.empty()) {
    i = free_.back();
    free_.pop_back();
  } else {
    i = static_cast<std::uint32_t>(entries_.size());
    entries_.emplace_back();
  }
  auto& e = entries_[i];
  e.key.assign(key);
  e.window_start = now;
  e.count = 0;
  e.unsent = 0;
  index_.emplace(std::string_view(e.key), i);
  link_newest(i);
  return i;
}

void rate_limiter::unlink(std::uint32_t i) {
  auto& e = entries_[i];
  (e.prev == none ? oldest_ : entries_[e.prev].next) = e.next;
  (e.next == none ? newest_ : entries_[e.next].prev) = e.prev;
  e.prev = e.next = none;
}

void rate_limiter::link_newest(std::uint32_t i) {
  auto& e = entries_[i];
  e.prev = newest_;
  e.next = none;
  (newest_ == none ? oldest_ : entries_[newest_].next) = i;
  newest_ = i;
}

void rate_limiter::remove(std::uint32_t i) {
  auto& e = entries_[i];
  index_.erase(std::string_view(e.key));
  unlink(i);
  e.unsent = 0;              // what is lost with the entry is at most one window's count of one key
  std::string().swap(e.key); // the key's memory goes back too
  free_.push_back(i);
}

} // namespace chat
