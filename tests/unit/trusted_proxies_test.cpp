#define CAF_SUITE trusted_proxies
#include <caf/test/unit_test_impl.hpp>

#include "transport/http/trusted_proxies.hpp"

#include <stdexcept>

using sio::http::trusted_proxies;
namespace ip = boost::asio::ip;

namespace {

ip::address addr(const char* s) {
  return ip::make_address(s);
}

} // namespace

CAF_TEST(addresses_and_ranges) {
  trusted_proxies p({"127.0.0.1", "10.0.0.0/8", "fd00::/8", "::1"});
  CAF_CHECK(p.contains(addr("127.0.0.1")));
  CAF_CHECK(!p.contains(addr("127.0.0.2")));
  CAF_CHECK(p.contains(addr("10.200.3.4")));
  CAF_CHECK(!p.contains(addr("11.0.0.1")));
  CAF_CHECK(p.contains(addr("fd12::1")));
  CAF_CHECK(!p.contains(addr("fe80::1")));
  CAF_CHECK(p.contains(addr("::1")));
  CAF_CHECK(p.contains(addr("::ffff:10.1.1.1"))); // a v4-mapped peer of a dual-stack socket
  trusted_proxies odd({"192.168.1.128/25"});
  CAF_CHECK(odd.contains(addr("192.168.1.200")));
  CAF_CHECK(!odd.contains(addr("192.168.1.100")));
  CAF_CHECK(trusted_proxies({"0.0.0.0/0"}).contains(addr("8.8.8.8")));
  CAF_CHECK(trusted_proxies().empty());
}

CAF_TEST(bad_entries_are_named) {
  for (const char* bad : {"localhost", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/x", "1.2.3", ""}) {
    try {
      trusted_proxies p({bad});
      CAF_FAIL("accepted " << bad);
    } catch (const std::invalid_argument& e) {
      CAF_CHECK_EQUAL(std::string(e.what()), bad);
    }
  }
}

CAF_TEST(client_address_behind_named_proxies_only) {
  trusted_proxies p({"127.0.0.1", "10.0.0.0/8"});
  // Not from a proxy: the header is anyone's words.
  CAF_CHECK_EQUAL(p.client_address(addr("203.0.113.9"), {"1.2.3.4"}), "203.0.113.9");
  // From our proxy: the last entry it added.
  CAF_CHECK_EQUAL(p.client_address(addr("127.0.0.1"), {"198.51.100.7"}), "198.51.100.7");
  // A client that forged an entry first: the proxy's appended one wins.
  CAF_CHECK_EQUAL(p.client_address(addr("127.0.0.1"), {"6.6.6.6, 198.51.100.7"}), "198.51.100.7");
  // Two of our proxies in a row: skipped from the end.
  CAF_CHECK_EQUAL(p.client_address(addr("127.0.0.1"), {"198.51.100.7, 10.1.2.3"}), "198.51.100.7");
  // Several headers are one list, in order.
  CAF_CHECK_EQUAL(p.client_address(addr("127.0.0.1"), {"6.6.6.6", "198.51.100.7"}), "198.51.100.7");
  // Ports and brackets.
  CAF_CHECK_EQUAL(p.client_address(addr("127.0.0.1"), {"198.51.100.7:5555"}), "198.51.100.7");
  CAF_CHECK_EQUAL(p.client_address(addr("127.0.0.1"), {"[2001:db8::1]:443"}), "2001:db8::1");
  CAF_CHECK_EQUAL(p.client_address(addr("127.0.0.1"), {"2001:db8::2"}), "2001:db8::2");
  // No header, or garbage: the last address we could trust.
  CAF_CHECK_EQUAL(p.client_address(addr("127.0.0.1"), {}), "127.0.0.1");
  CAF_CHECK_EQUAL(p.client_address(addr("127.0.0.1"), {"not an address"}), "127.0.0.1");
  CAF_CHECK_EQUAL(p.client_address(addr("127.0.0.1"), {"198.51.100.7, garbage, 10.0.0.1"}), "10.0.0.1");
  // Only proxies: the first of them.
  CAF_CHECK_EQUAL(p.client_address(addr("127.0.0.1"), {"10.0.0.5, 10.0.0.1"}), "10.0.0.5");
}
