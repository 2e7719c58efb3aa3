#include "actors/metrics.hpp"

#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

namespace sio {

namespace {

std::size_t thread_stripe() noexcept {
  static std::atomic<std::size_t> next{0};
  thread_local std::size_t mine = next.fetch_add(1, std::memory_order_relaxed);
  return mine;
}

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric value(double v, std::vector<ClientMetric::Label> labels = {}, MetricType type = MetricType::Counter) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter)
    m.counter.value = v;
  else
    m.gauge.value = v;
  return m;
}

MetricFamily one(std::string name, std::string help, MetricType type, double v) {
  auto f = family(std::move(name), std::move(help), type);
  f.metric.push_back(value(v, {}, type));
  return f;
}

} // namespace

void striped_counter::add(std::uint64_t n) noexcept {
  stripes_[thread_stripe() % stripes_.size()].v.fetch_add(n, std::memory_order_relaxed);
}

std::uint64_t striped_counter::value() const noexcept {
  std::uint64_t sum = 0;
  for (auto& s : stripes_)
    sum += s.v.load(std::memory_order_relaxed);
  return sum;
}

metrics& metrics::global() {
  static metrics instance;
  return instance;
}

metrics::metrics()
    // Commit latency: 100 us to 2.5 s (a group commit with fsync is a few ms here).
    : commit_seconds_(std::make_shared<prometheus::Histogram>(prometheus::Histogram::BucketBoundaries{
          0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5})) {}

void metrics::dropped(drop_reason why) noexcept {
  dropped_[static_cast<int>(why)].fetch_add(1, std::memory_order_relaxed);
}

void metrics::http_request(std::string_view route, int status) {
  std::lock_guard<std::mutex> guard(http_mutex_);
  ++http_[{std::string(route), status}];
}

void metrics::commit(double seconds, std::size_t writes) {
  commit_seconds_->Observe(seconds);
  store_writes_.add(writes);
}

metrics::commit_summary metrics::commits() const {
  commit_summary out;
  auto h = commit_seconds_->Collect().histogram;
  out.commits = h.sample_count;
  out.writes = store_writes_.value();
  if (h.sample_count == 0)
    return out;
  out.mean_ms = h.sample_sum * 1000 / static_cast<double>(h.sample_count);
  auto rank = static_cast<std::uint64_t>(0.99 * static_cast<double>(h.sample_count));
  for (auto& b : h.bucket)
    if (b.cumulative_count > rank || b.cumulative_count == h.sample_count) {
      out.p99_ms = b.upper_bound * 1000;
      break;
    }
  return out;
}

std::string metrics::render(const metrics_gauges& g) const {
  std::vector<MetricFamily> out;
  auto gauge = MetricType::Gauge;
  auto counter = MetricType::Counter;

  auto conns = family("chat_connections", "Engine.IO sessions open, by transport and protocol", gauge);
  for (auto& [key, n] : g.connections)
    conns.metric.push_back(value(static_cast<double>(n),
                                 {{"transport", key.first}, {"protocol", std::to_string(key.second)}}, gauge));
  conns.metric.push_back(value(static_cast<double>(g.pusher_connections),
                               {{"transport", "websocket"}, {"protocol", "pusher-7"}}, gauge));
  out.push_back(std::move(conns));

  auto sockets = family("chat_sockets", "Socket.IO sockets connected, by namespace", gauge);
  auto rooms = family("chat_rooms", "rooms with members (sockets' own rooms left out), by namespace", gauge);
  for (auto& [nsp, counts] : g.namespaces) {
    sockets.metric.push_back(value(static_cast<double>(counts.first), {{"namespace", nsp}}, gauge));
    rooms.metric.push_back(value(static_cast<double>(counts.second), {{"namespace", nsp}}, gauge));
  }
  out.push_back(std::move(sockets));
  out.push_back(std::move(rooms));

  out.push_back(one("chat_socket_connects_total", "Socket.IO sockets connected since start", counter,
                    static_cast<double>(connects.value())));
  out.push_back(one("chat_socket_disconnects_total", "Socket.IO sockets disconnected since start", counter,
                    static_cast<double>(disconnects.value())));
  out.push_back(one("chat_events_received_total", "Socket.IO events received from clients", counter,
                    static_cast<double>(events_in.value())));
  out.push_back(one("chat_received_bytes_total", "Engine.IO message bytes received from clients", counter,
                    static_cast<double>(bytes_in.value())));
  out.push_back(one("chat_broadcasts_total", "broadcasts handled by this node", counter,
                    static_cast<double>(broadcasts.value())));
  out.push_back(one("chat_deliveries_total", "frames handed to clients (broadcast deliveries and direct emits)",
                    counter, static_cast<double>(deliveries.value())));
  out.push_back(one("chat_sent_bytes_total", "bytes of the frames handed to clients", counter,
                    static_cast<double>(bytes_out.value())));
  out.push_back(one("chat_ack_timeouts_total", "server emits whose acknowledgement did not come in time", counter,
                    static_cast<double>(ack_timeouts.value())));

  auto dropped = family("chat_clients_dropped_total", "clients disconnected because they did not read", counter);
  dropped.metric.push_back(value(static_cast<double>(dropped_[0].load()), {{"reason", "write_queue"}}));
  dropped.metric.push_back(value(static_cast<double>(dropped_[1].load()), {{"reason", "polling_buffer"}}));
  out.push_back(std::move(dropped));

  auto http = family("chat_http_requests_total", "HTTP requests answered, by route and status", counter);
  {
    std::lock_guard<std::mutex> guard(http_mutex_);
    for (auto& [key, n] : http_)
      http.metric.push_back(value(static_cast<double>(n), {{"route", key.first}, {"status", std::to_string(key.second)}}));
  }
  out.push_back(std::move(http));

  out.push_back(one("chat_store_queue", "store writes waiting for their commit", gauge,
                    static_cast<double>(store_queue_.load())));
  out.push_back(one("chat_store_writes_total", "store writes committed", counter,
                    static_cast<double>(store_writes_.value())));
  auto commits = family("chat_store_commit_seconds", "time of one group commit", MetricType::Histogram);
  commits.metric.push_back(commit_seconds_->Collect());
  out.push_back(std::move(commits));

  auto members = family("chat_cluster_member_up", "cluster members this node sees up (itself included)", gauge);
  for (auto& name : g.members)
    members.metric.push_back(value(1, {{"node", name}}, gauge));
  out.push_back(std::move(members));
  out.push_back(one("chat_cluster_members", "cluster members up, this node included (0: no cluster)", gauge,
                    static_cast<double>(g.members.size())));
  out.push_back(one("chat_draining", "1 while the server drains (refuses new sessions)", gauge, g.draining ? 1 : 0));

  return prometheus::TextSerializer().Serialize(out);
}

} // namespace sio
