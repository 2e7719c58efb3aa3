#include "transport/http/connection_limits.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace sio::http {

connection_slot::connection_slot(std::shared_ptr<connection_limits> limits, std::string key, std::string address)
    : limits_(std::move(limits)), key_(std::move(key)), address_(std::move(address)) {}

connection_slot& connection_slot::operator=(connection_slot&& other) noexcept {
  if (this != &other) {
    release();
    limits_ = std::move(other.limits_);
    key_ = std::move(other.key_);
    address_ = std::move(other.address_);
  }
  return *this;
}

void connection_slot::release() {
  if (auto limits = std::move(limits_))
    limits->release(key_);
}

std::string connection_limits::key_of(const std::string& address) {
  in6_addr a6;
  if (address.find(':') == std::string::npos || inet_pton(AF_INET6, address.c_str(), &a6) != 1)
    return address;
  static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a6.s6_addr, v4_mapped, sizeof v4_mapped) == 0)
    return address; // an IPv4 client on a dual-stack socket: one address
  std::memset(a6.s6_addr + 8, 0, 8);
  char text[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &a6, text, sizeof text);
  return std::string(text) + "/64";
}

connection_limits::admission connection_limits::admit(const std::string& address) {
  auto key = key_of(address);
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (max_total_ && total_ >= max_total_)
      return {refusal::total, {}};
    auto& n = per_key_[key];
    if (max_per_address_ && n >= max_per_address_)
      return {refusal::per_address, {}};
    ++n;
    ++total_;
  }
  return {refusal::none, connection_slot(shared_from_this(), std::move(key), address)};
}

void connection_limits::release(const std::string& key) {
  std::lock_guard<std::mutex> guard(mutex_);
  --total_;
  auto it = per_key_.find(key);
  if (it != per_key_.end() && --it->second == 0)
    per_key_.erase(it);
}

std::size_t connection_limits::total() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return total_;
}

std::size_t connection_limits::from(const std::string& address) const {
  std::lock_guard<std::mutex> guard(mutex_);
  auto it = per_key_.find(key_of(address));
  return it == per_key_.end() ? 0 : it->second;
}

} // namespace sio::http
