// The server's count and byte limits in plain code: pending sessions per address and in
// total (actors/pending_sessions), the attachment byte budget (actors/byte_budget).
#define CAF_SUITE limits
#include <caf/test/unit_test_impl.hpp>

#include "actors/byte_budget.hpp"
#include "actors/pending_sessions.hpp"

#include <vector>

using sio::byte_budget;
using sio::pending_sessions;

CAF_TEST(pending_sessions_per_address) {
  auto pending = std::make_shared<pending_sessions>(2, 100);
  pending_sessions::verdict why;
  auto a1 = pending->admit("10.0.0.1", why);
  auto a2 = pending->admit("10.0.0.1", why);
  CAF_CHECK(a1 && a2);
  CAF_CHECK(why == pending_sessions::verdict::admitted);
  CAF_CHECK(!pending->admit("10.0.0.1", why));
  CAF_CHECK(why == pending_sessions::verdict::too_many_from_address);
  // Another address is not affected.
  auto b1 = pending->admit("10.0.0.2", why);
  CAF_CHECK(b1 != nullptr);
  CAF_CHECK_EQUAL(pending->count(), 3u);
  CAF_CHECK_EQUAL(pending->count("10.0.0.1"), 2u);
  // A place comes back when its ticket goes.
  a1.reset();
  CAF_CHECK_EQUAL(pending->count("10.0.0.1"), 1u);
  CAF_CHECK(pending->admit("10.0.0.1", why) != nullptr); // a temporary: back at once
  CAF_CHECK_EQUAL(pending->count("10.0.0.1"), 1u);
  a2.reset();
  b1.reset();
  CAF_CHECK_EQUAL(pending->count(), 0u);
  CAF_CHECK_EQUAL(pending->count("10.0.0.1"), 0u);
}

CAF_TEST(pending_sessions_total) {
  auto pending = std::make_shared<pending_sessions>(10, 3);
  pending_sessions::verdict why;
  std::vector<pending_sessions::ticket_ptr> held;
  for (auto address : {"a", "b", "c"})
    held.push_back(pending->admit(address, why));
  CAF_CHECK(!pending->admit("d", why));
  CAF_CHECK(why == pending_sessions::verdict::too_many);
  CAF_CHECK_EQUAL(pending->count("d"), 0u);
  held.pop_back();
  CAF_CHECK(pending->admit("d", why) != nullptr);
}

CAF_TEST(pending_sessions_unlimited) {
  auto pending = std::make_shared<pending_sessions>(0, 0);
  pending_sessions::verdict why;
  std::vector<pending_sessions::ticket_ptr> held;
  for (int i = 0; i < 1000; ++i)
    held.push_back(pending->admit("a", why));
  CAF_CHECK(held.back() != nullptr);
  CAF_CHECK_EQUAL(pending->count(), 1000u);
}

CAF_TEST(byte_budget_refuses_past_limit) {
  byte_budget budget(100);
  CAF_CHECK(budget.try_reserve(60));
  CAF_CHECK(!budget.try_reserve(41));
  CAF_CHECK(budget.try_reserve(40));
  CAF_CHECK_EQUAL(budget.used(), 100u);
  CAF_CHECK(!budget.try_reserve(1));
  budget.release(100);
  CAF_CHECK(!budget.try_reserve(101));
  CAF_CHECK(!budget.try_reserve(static_cast<std::size_t>(-1)));
  CAF_CHECK_EQUAL(budget.used(), 0u);
}

CAF_TEST(byte_budget_holds_give_back) {
  byte_budget budget(100);
  {
    byte_budget::hold a(budget), b(budget);
    CAF_CHECK(a.grow(50));
    CAF_CHECK(a.grow(30));
    CAF_CHECK(!b.grow(30)); // one holder's bytes count against the other
    CAF_CHECK_EQUAL(b.size(), 0u);
    CAF_CHECK(b.grow(20));
    a.reset();
    CAF_CHECK_EQUAL(budget.used(), 20u);
    CAF_CHECK(b.grow(80));
  } // both destroyed
  CAF_CHECK_EQUAL(budget.used(), 0u);
}
