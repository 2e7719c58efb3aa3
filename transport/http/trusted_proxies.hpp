// The proxies whose X-Forwarded-For we believe, and the client address a request has
// behind them. Pure (Asio's address types, no sockets).
//
// Only a proxy we name may tell us who the client is: anyone else could write any
// address into the header. Walking the header from its end (the entry our peer added),
// each entry made by one of our proxies is skipped; the first that is not ours is the
// client, as nginx's real_ip_recursive and Express's "trust proxy" do.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sio::http {

class trusted_proxies {
public:
  /// Addresses ("10.0.0.5", "::1") or CIDR ranges ("10.0.0.0/8", "fd00::/8").
  /// Throws std::invalid_argument naming the first entry that is neither.
  explicit trusted_proxies(const std::vector<std::string>& entries);
  trusted_proxies() = default;

  bool empty() const { return ranges_.empty(); }
  bool contains(const boost::asio::ip::address& a) const;

  /// The client's address for a request from `peer` carrying X-Forwarded-For values
  /// `forwarded_for` (every header of that name, in order; may be empty): `peer` itself
  /// unless it is one of ours.
  std::string client_address(const boost::asio::ip::address& peer,
                             const std::vector<std::string_view>& forwarded_for) const;

private:
  struct range {
    boost::asio::ip::address_v6::bytes_type bytes; // IPv4 as v4-mapped IPv6
    unsigned prefix;                               // bits, of the 128
  };
  std::vector<range> ranges_;
};

} // namespace sio::http
