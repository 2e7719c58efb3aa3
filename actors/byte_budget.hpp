// A server-wide budget of bytes, shared by every connection without a lock: the binary
// attachments that connections hold for packets not complete yet. Each connection also
// has its own cap; this one bounds their sum, so many connections that each stay under
// their cap still cannot fill the server's memory.
#pragma once

#include <atomic>
#include <cstddef>

namespace sio {

class byte_budget {
public:
  /// 0: no limit (the bytes are still counted).
  explicit byte_budget(std::size_t limit) : limit_(limit) {}

  /// Takes `n` bytes when they fit under the limit; false, taking nothing, when not.
  bool try_reserve(std::size_t n);
  void release(std::size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  std::size_t used() const { return used_.load(std::memory_order_relaxed); }

  /// What one holder has taken, given back when it is destroyed.
  class hold {
  public:
    explicit hold(byte_budget& budget) : budget_(&budget) {}
    ~hold() { reset(); }
    hold(const hold&) = delete;
    hold& operator=(const hold&) = delete;

    /// Takes `n` more bytes; false (taking nothing) when the budget has no room.
    bool grow(std::size_t n);
    /// Gives back everything held.
    void reset();
    std::size_t size() const { return held_; }

  private:
    byte_budget* budget_;
    std::size_t held_ = 0;
  };

private:
  const std::size_t limit_;
  std::atomic<std::size_t> used_{0};
};

} // namespace sio
