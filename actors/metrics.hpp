// The server's figures for Prometheus (GET /metrics, README "Watching the server"): counters
// that the actors and the front end bump as things happen, and a render of them together
// with the gauges the scrape reads at that moment (connections, sockets, rooms, members).
//
// Process-wide, as Prometheus' own client registries are: one server per process.
// Counters are striped per thread (one cache line each), so a delivery costs one
// uncontended add; the scrape sums the stripes.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prometheus {
class Histogram;
}

namespace sio {

/// A counter that threads bump without sharing a cache line.
class striped_counter {
public:
  void add(std::uint64_t n = 1) noexcept;
  std::uint64_t value() const noexcept;

private:
  struct alignas(64) stripe {
    std::atomic<std::uint64_t> v{0};
  };
  std::array<stripe, 16> stripes_;
};

/// Why a client was disconnected for not reading (label `reason`).
enum class drop_reason : int { write_queue = 0, polling_buffer = 1 };

/// What only the scrape can know: read from the server when /metrics is asked.
struct metrics_gauges {
  /// Engine.IO sessions by (transport, Engine.IO protocol).
  std::map<std::pair<std::string, int>, std::uint64_t> connections;
  std::uint64_t pusher_connections = 0;
  /// Per namespace: sockets and rooms (own-id rooms left out), this node's.
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> namespaces;
  /// Cluster members this node sees as up, itself included (empty: no cluster).
  std::vector<std::string> members;
  bool draining = false;
};

class metrics {
public:
  static metrics& global();

  striped_counter events_in;   ///< Socket.IO events from clients
  striped_counter bytes_in;    ///< Engine.IO message bytes from clients
  striped_counter broadcasts;  ///< broadcasts handled by this node's namespace actors
  striped_counter deliveries;  ///< frames handed to a client (broadcasts and direct emits)
  striped_counter bytes_out;   ///< bytes of those frames
  striped_counter ack_timeouts;
  striped_counter connects;    ///< Socket.IO sockets connected
  striped_counter disconnects;

  void dropped(drop_reason why) noexcept;
  /// An HTTP request answered: `route` is the route's pattern ("/api/*"), "engine.io", or
  /// "other" (404s), so that the label's values stay few whatever clients ask.
  void http_request(std::string_view route, int status);
  /// One store commit (group commit: a batch of writes) and how long it took.
  void commit(double seconds, std::size_t writes);
  /// The persistence actor's queue of writes waiting for their commit.
  void store_queue(std::size_t n) noexcept { store_queue_.store(n, std::memory_order_relaxed); }

  /// The store's commits so far, for the console's `status`.
  struct commit_summary {
    std::uint64_t commits = 0;
    std::uint64_t writes = 0;
    double mean_ms = 0;
    double p99_ms = 0; ///< the upper bound of the bucket that holds the 99th percentile
  };
  commit_summary commits() const;
  std::uint64_t store_queue() const noexcept { return store_queue_.load(std::memory_order_relaxed); }

  /// The text exposition format, version 0.0.4.
  std::string render(const metrics_gauges& g) const;

private:
  metrics();
  std::array<std::atomic<std::uint64_t>, 2> dropped_{};
  std::atomic<std::uint64_t> store_queue_{0};
  striped_counter store_writes_;
  mutable std::mutex http_mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> http_;
  std::shared_ptr<prometheus::Histogram> commit_seconds_;
};

} // namespace sio
