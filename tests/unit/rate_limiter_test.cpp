// The chat's rate limiter: limits per window, refused sends that cost nothing, windows
// that expire, and the memory it holds under a million distinct keys, measured by
// counting every byte this test binary allocates (operator new replaced below).
#define CAF_SUITE rate_limiter
#include <caf/test/unit_test_impl.hpp>

#include "apps/chat-server/rate_limiter.hpp"

#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

namespace {

std::atomic<std::int64_t> live_bytes{0};

constexpr std::int64_t minute = 60000;

// A 20-character socket id, distinct for each n (the shape of sio ids).
std::string socket_key(std::uint64_t n) {
  static constexpr char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string key = "c";
  for (int i = 0; i < 20; ++i, n = n * 2654435761u + 12345)
    key += digits[(n >> 7) % 64];
  return key;
}

// An IPv6 address text of one /64, distinct for each n.
std::string address_key(std::uint64_t n) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "a2001:db8:1:2:%x:%x:%x:%x", static_cast<unsigned>((n >> 48) & 0xffff),
                static_cast<unsigned>((n >> 32) & 0xffff), static_cast<unsigned>((n >> 16) & 0xffff),
                static_cast<unsigned>(n & 0xffff));
  return buf;
}

} // namespace

// Every allocation of this binary is counted (malloc_usable_size: what the heap really
// holds for it), so the limiter's memory is measured, not estimated. (GCC takes the free()
// in a replacement operator delete for a mismatch.)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (!p)
    throw std::bad_alloc();
  live_bytes += static_cast<std::int64_t>(malloc_usable_size(p));
  return p;
}
void operator delete(void* p) noexcept {
  if (!p)
    return;
  live_bytes -= static_cast<std::int64_t>(malloc_usable_size(p));
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  operator delete(p);
}

using chat::rate_limiter;

CAF_TEST(limit_per_window_then_a_fresh_window) {
  rate_limiter rl(100, minute);
  for (int i = 0; i < 3; ++i)
    CAF_CHECK(rl.allow({{"u1", 3}}, 1000 + i));
  CAF_CHECK(!rl.allow({{"u1", 3}}, 2000));
  CAF_CHECK(!rl.allow({{"u1", 3}}, 1000 + minute - 1));
  CAF_CHECK(rl.allow({{"u2", 3}}, 2000)); // another key is not affected
  // The window started at the first send (1000): from 1000 + minute on, a fresh one.
  CAF_CHECK(rl.allow({{"u1", 3}}, 1000 + minute));
  CAF_CHECK(rl.allow({{"u1", 3}}, 1000 + minute));
  CAF_CHECK(rl.allow({{"u1", 3}}, 1000 + minute));
  CAF_CHECK(!rl.allow({{"u1", 3}}, 1000 + minute));
}

CAF_TEST(a_refused_send_costs_nothing_in_any_quota) {
  rate_limiter rl(100, minute);
  // A connection (limit 3) and its address (limit 5).
  for (int i = 0; i < 3; ++i)
    CAF_CHECK(rl.allow({{"c-one", 3}, {"a-host", 5}}, 10));
  CAF_CHECK(!rl.allow({{"c-one", 3}, {"a-host", 5}}, 10)); // refused by the connection...
  CAF_CHECK(!rl.allow({{"c-one", 3}, {"a-host", 5}}, 10));
  // ... so the address still has 2 of its 5: a second connection of the host gets them.
  CAF_CHECK(rl.allow({{"c-two", 3}, {"a-host", 5}}, 10));
  CAF_CHECK(rl.allow({{"c-two", 3}, {"a-host", 5}}, 10));
  CAF_CHECK(!rl.allow({{"c-two", 3}, {"a-host", 5}}, 10)); // the address is used up
  CAF_CHECK(rl.allow({{"c-three", 3}, {"a-other", 5}}, 10));
}

CAF_TEST(several_sends_at_once_count_whole_or_not_at_all) {
  rate_limiter rl(100, minute);
  CAF_CHECK(rl.allow({{"u1", 10}}, 10, 4));  // a batch of 4: 6 left
  CAF_CHECK(!rl.allow({{"u1", 10}}, 10, 7)); // 7 do not fit, and cost nothing
  CAF_CHECK(rl.allow({{"u1", 10}}, 10, 6));
  CAF_CHECK(!rl.allow({{"u1", 10}}, 10));
}

CAF_TEST(expired_entries_are_dropped) {
  rate_limiter rl(1000, minute);
  for (int i = 0; i < 100; ++i)
    CAF_CHECK(rl.allow({{"k" + std::to_string(i), 1}}, i));
  CAF_CHECK_EQUAL(rl.size(), 100u);
  // Each call drops a few expired entries; a quiet key space drains.
  for (int i = 0; i < 50; ++i)
    rl.allow({{"late", 1000}}, 10 * minute);
  CAF_CHECK_EQUAL(rl.size(), 1u);
}

CAF_TEST(a_full_table_forgets_the_oldest_window_first) {
  rate_limiter rl(3, minute);
  CAF_CHECK(rl.allow({{"a", 1}}, 1));
  CAF_CHECK(rl.allow({{"b", 1}}, 2));
  CAF_CHECK(rl.allow({{"c", 1}}, 3));
  CAF_CHECK(!rl.allow({{"b", 1}}, 4));
  CAF_CHECK(rl.allow({{"d", 1}}, 5)); // "a" gives way
  CAF_CHECK_EQUAL(rl.size(), 3u);
  CAF_CHECK(!rl.allow({{"b", 1}}, 6)); // still held
  CAF_CHECK(!rl.allow({{"c", 1}}, 6));
  CAF_CHECK(rl.allow({{"a", 1}}, 6)); // forgotten: starts over
}

CAF_TEST(memory_is_bounded_under_a_million_distinct_keys) {
  auto before = live_bytes.load();
  std::int64_t peak = 0;
  {
    rate_limiter rl(chat::rate_limit_keys, minute);
    // A million connections and a million addresses within one window: nothing expires,
    // so only the capacity bounds the table.
    for (std::uint64_t n = 0; n < 1000000; ++n) {
      auto c = socket_key(n), a = address_key(n);
      rl.allow({{c, 10}, {a, 200}}, static_cast<std::int64_t>(n / 100));
      if (n % 4096 == 0)
        peak = std::max(peak, live_bytes.load() - before);
    }
    peak = std::max(peak, live_bytes.load() - before);
    CAF_CHECK_EQUAL(rl.size(), chat::rate_limit_keys);
    std::printf("rate_limiter: %zu keys held after 2,000,000 distinct ones: %.2f MB (peak %.2f MB), %.0f bytes a key\n",
                rl.size(), static_cast<double>(live_bytes.load() - before) / 1e6, static_cast<double>(peak) / 1e6,
                static_cast<double>(peak) / static_cast<double>(rl.size()));
  }
  // Bounded by the capacity, whatever the number of keys seen (~140 bytes a key).
  CAF_CHECK_LESS(peak, 12'000'000);
  CAF_CHECK_EQUAL(live_bytes.load(), before); // and all of it is returned
}
