#include "actors/pending_sessions.hpp"

namespace sio {

pending_sessions::ticket_ptr pending_sessions::admit(const std::string& address, verdict& why) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (max_total_ != 0 && total_ >= max_total_) {
      why = verdict::too_many;
      return nullptr;
    }
    auto& n = by_address_[address];
    if (max_per_address_ != 0 && n >= max_per_address_) {
      why = verdict::too_many_from_address;
      return nullptr;
    }
    ++n;
    ++total_;
  }
  why = verdict::admitted;
  return std::make_shared<ticket>(shared_from_this(), address);
}

void pending_sessions::release(const std::string& address) {
  std::lock_guard<std::mutex> guard(mutex_);
  --total_;
  auto it = by_address_.find(address);
  if (it != by_address_.end() && --it->second == 0)
    by_address_.erase(it);
}

std::size_t pending_sessions::count() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return total_;
}

std::size_t pending_sessions::count(const std::string& address) const {
  std::lock_guard<std::mutex> guard(mutex_);
  auto it = by_address_.find(address);
  return it == by_address_.end() ? 0 : it->second;
}

} // namespace sio
