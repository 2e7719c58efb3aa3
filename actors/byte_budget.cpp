#include "actors/byte_budget.hpp"

namespace sio {

bool byte_budget::try_reserve(std::size_t n) {
  auto used = used_.load(std::memory_order_relaxed);
  do {
    if (limit_ != 0 && (n > limit_ || used > limit_ - n))
      return false;
  } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
  return true;
}

bool byte_budget::hold::grow(std::size_t n) {
  if (!budget_->try_reserve(n))
    return false;
  held_ += n;
  return true;
}

void byte_budget::hold::reset() {
  budget_->release(held_);
  held_ = 0;
}

} // namespace sio
