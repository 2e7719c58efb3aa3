#include "transport/http/trusted_proxies.hpp"

#include "transport/http/field_syntax.hpp"

#include <stdexcept>

namespace sio::http {

namespace {

namespace ip = boost::asio::ip;

ip::address_v6::bytes_type as_v6(const ip::address& a) {
  return a.is_v4() ? ip::make_address_v6(ip::v4_mapped, a.to_v4()).to_bytes() : a.to_v6().to_bytes();
}

/// An X-Forwarded-For entry as an address: "1.2.3.4", "1.2.3.4:5678", "[::1]:80", "::1".
std::optional<ip::address> entry_address(std::string_view e) {
  e = trim_ows(e);
  if (!e.empty() && e.front() == '[') {
    auto close = e.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    e = e.substr(1, close - 1);
  } else if (auto colon = e.find(':'); colon != std::string_view::npos && e.find(':', colon + 1) == std::string_view::npos) {
    e = e.substr(0, colon); // IPv4 with a port
  }
  boost::system::error_code ec;
  auto a = ip::make_address(std::string(e), ec);
  if (ec)
    return std::nullopt;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

} // namespace

trusted_proxies::trusted_proxies(const std::vector<std::string>& entries) {
  for (const auto& entry : entries) {
    auto slash = entry.find('/');
    boost::system::error_code ec;
    auto a = ip::make_address(entry.substr(0, slash), ec);
    unsigned bits = a.is_v4() ? 32 : 128;
    unsigned prefix = bits;
    if (!ec && slash != std::string::npos) {
      auto digits = entry.substr(slash + 1);
      if (digits.empty() || digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string::npos)
        ec = make_error_code(boost::system::errc::invalid_argument);
      else
        prefix = static_cast<unsigned>(std::stoul(digits));
    }
    if (ec || prefix > bits)
      throw std::invalid_argument(entry);
    ranges_.push_back({as_v6(a), prefix + (a.is_v4() ? 96 : 0)});
  }
}

bool trusted_proxies::contains(const ip::address& a) const {
  auto bytes = as_v6(a);
  for (const auto& r : ranges_) {
    unsigned full = r.prefix / 8, rest = r.prefix % 8;
    bool match = std::equal(bytes.begin(), bytes.begin() + full, r.bytes.begin());
    if (match && rest != 0) {
      auto mask = static_cast<unsigned char>(0xFF << (8 - rest));
      match = (bytes[full] & mask) == (r.bytes[full] & mask);
    }
    if (match)
      return true;
  }
  return false;
}

std::string trusted_proxies::client_address(const ip::address& peer,
                                            const std::vector<std::string_view>& forwarded_for) const {
  auto client = peer;
  if (contains(client)) {
    // From the last entry back: each one of our proxies wrote is skipped.
    for (auto h = forwarded_for.rbegin(); h != forwarded_for.rend(); ++h) {
      std::string_view list = *h;
      bool done = false;
      while (!done) {
        auto comma = list.rfind(',');
        auto entry = comma == std::string_view::npos ? list : list.substr(comma + 1);
        auto a = entry_address(entry);
        if (!a)
          return client.to_string(); // a malformed entry: the last one we could trust
        client = *a;
        if (!contains(client))
          return client.to_string();
        if (comma == std::string_view::npos)
          done = true;
        else
          list = list.substr(0, comma);
      }
    }
  }
  return client.to_string();
}

} // namespace sio::http
