#define CAF_SUITE connection_limits
#include <caf/test/unit_test_impl.hpp>

#include "transport/http/connection_limits.hpp"

#include <vector>

using sio::http::connection_limits;
using refusal = connection_limits::refusal;

CAF_TEST(caps_per_address_and_in_total) {
  auto limits = std::make_shared<connection_limits>(4, 2);
  std::vector<sio::http::connection_slot> held;
  for (int i = 0; i < 2; ++i) {
    auto a = limits->admit("10.0.0.1");
    CAF_REQUIRE(a.refused == refusal::none);
    held.push_back(std::move(a.slot));
  }
  CAF_CHECK(limits->admit("10.0.0.1").refused == refusal::per_address);
  held.push_back(limits->admit("10.0.0.2").slot);
  held.push_back(limits->admit("10.0.0.3").slot);
  CAF_CHECK_EQUAL(limits->total(), 4u);
  CAF_CHECK(limits->admit("10.0.0.4").refused == refusal::total);
  // A refusal counts nothing.
  CAF_CHECK_EQUAL(limits->total(), 4u);
  CAF_CHECK_EQUAL(limits->from("10.0.0.1"), 2u);
  // Released once, explicitly or by the slot's end; a moved-from slot releases nothing.
  held[0].release();
  held[0].release();
  CAF_CHECK_EQUAL(limits->from("10.0.0.1"), 1u);
  auto moved = std::move(held[1]);
  held.erase(held.begin(), held.begin() + 2);
  CAF_CHECK_EQUAL(limits->from("10.0.0.1"), 1u);
  moved = sio::http::connection_slot{};
  CAF_CHECK_EQUAL(limits->from("10.0.0.1"), 0u);
  CAF_CHECK_EQUAL(limits->total(), 2u);
  held.clear();
  CAF_CHECK_EQUAL(limits->total(), 0u);
  CAF_CHECK(limits->admit("10.0.0.1").refused == refusal::none);
}

CAF_TEST(zero_is_no_cap) {
  auto limits = std::make_shared<connection_limits>(0, 0);
  std::vector<sio::http::connection_slot> held;
  for (int i = 0; i < 5000; ++i) {
    auto a = limits->admit("127.0.0.1");
    CAF_REQUIRE(a.refused == refusal::none);
    held.push_back(std::move(a.slot));
  }
  CAF_CHECK_EQUAL(limits->from("127.0.0.1"), 5000u);
}

CAF_TEST(an_ipv6_client_counts_by_its_64) {
  CAF_CHECK_EQUAL(connection_limits::key_of("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  CAF_CHECK_EQUAL(connection_limits::key_of("::ffff:10.0.0.1"), "::ffff:10.0.0.1");
  CAF_CHECK_EQUAL(connection_limits::key_of("10.0.0.1"), "10.0.0.1");
  auto limits = std::make_shared<connection_limits>(0, 2);
  auto a = limits->admit("2001:db8:1:2::1");
  auto b = limits->admit("2001:db8:1:2:ffff::7");
  CAF_CHECK(a.refused == refusal::none);
  CAF_CHECK(b.refused == refusal::none);
  CAF_CHECK(limits->admit("2001:db8:1:2::99").refused == refusal::per_address);
  CAF_CHECK(limits->admit("2001:db8:1:3::1").refused == refusal::none);
}
