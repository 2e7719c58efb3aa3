// Says how many connections were refused, and why, without a line per refusal: a flood
// of refusals (a client over its cap, the server out of file descriptors) must not turn
// into a flood of log lines. Internal to transport/http; pure (the caller gives the
// time), so its rules are unit-tested.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace sio::http {

class refusal_log {
public:
  using clock = std::chrono::steady_clock;

  explicit refusal_log(clock::duration interval) : interval_(interval) {}

  /// Counts `n` refusals for `cause`. The first after a quiet interval is reported at once
  /// (the returned line); the rest wait for due(). Empty when nothing is to be logged now.
  /// `detail` (the client's address) ends the line: the last one of the interval.
  std::string refused(const std::string& cause, clock::time_point now, std::size_t n = 1, std::string detail = {});

  /// The lines whose interval has ended by `now`, one per cause with refusals in it
  /// ("refused N connections in the last 10 s: cause"). A cause with none goes quiet.
  std::vector<std::string> due(clock::time_point now);

  /// Whether some cause waits for its interval to end (the caller keeps a timer).
  bool waiting() const { return !open_.empty(); }
  clock::duration interval() const { return interval_; }

private:
  struct window {
    clock::time_point start;
    std::size_t count = 0; // refused since the window's start, not yet logged
    std::string detail;
  };
  clock::duration interval_;
  std::map<std::string, window> open_;
};

} // namespace sio::http
