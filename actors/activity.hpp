// The activity feed: what happens to sockets as it happens (connects, events received with
// their arguments, broadcasts, joins, leaves, disconnects), for whoever watches: the admin
// console's `tail` (apps/chat-server/console_service.hpp), like `reverb:start --debug`.
//
// Nothing is made while nobody watches: a publisher asks activity_feed::admit, which reads
// one relaxed atomic and says no. While someone watches, admit checks the watchers'
// filters and a budget of `max_lines_per_second` items a second per watcher, under a
// short lock, before the publisher serializes anything: past the budget an item costs a
// count, reported to the watchers once a second as a `dropped` item. So a tail of a busy
// server costs about a thousand items a second, not one per event. The hub passes each
// item to the watchers whose filter it matches, within the same budget each.
//
// Kinds: connect (detail: the socket as remote_socket_to_json shows it, auth left out),
// event (received; detail: the arguments), emit (sent to one socket; detail: the
// arguments), broadcast, join, leave, disconnect (name: the reason; detail: the rooms it
// was in, a JSON array), upgrade (name: the new transport), and the hub's own `dropped`.
//
// The hub takes:  (watch_atom, actor sink, activity_filter)
//                 (unwatch_atom, actor sink)
//                 activity                                          from publishers
//                 down_msg of a sink                                 = unwatch
// and sends each sink `activity` messages.
#pragma once

#include <caf/all.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sio {

using watch_atom = caf::atom_constant<caf::atom("watch")>;
using unwatch_atom = caf::atom_constant<caf::atom("unwatch")>;

/// One thing that happened. Crosses nodes (a console tails the whole cluster).
struct activity {
  std::int64_t at_ms = 0; ///< wall clock, ms since the epoch
  std::string node;       ///< where it happened (empty without a cluster)
  /// connect, event, broadcast, join, leave, disconnect; `dropped` (bytes: lines not sent)
  std::string kind;
  std::string nsp;
  std::string socket; ///< the socket's id (empty for a broadcast)
  std::string name;   ///< the event, the room, or the disconnect reason
  std::string detail; ///< the arguments as JSON (cut at max_detail_bytes), or the transport and address
  std::uint64_t bytes = 0;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, activity& x) {
  return f(caf::meta::type_name("activity"), x.at_ms, x.node, x.kind, x.nsp, x.socket, x.name, x.detail, x.bytes);
}

/// The kinds a watcher may ask for (activity_filter::kinds).
enum activity_kind : std::uint32_t {
  activity_connect = 1,
  activity_event = 2,
  activity_emit = 4,
  activity_broadcast = 8,
  activity_join = 16,
  activity_leave = 32,
  activity_disconnect = 64,
  activity_upgrade = 128,
  activity_all = 255,
};
/// The bit of a kind's name (0 for an unknown name).
std::uint32_t activity_kind_bit(std::string_view kind);

/// What one watcher wants. Crosses nodes (a console's tail watches every node's hub).
struct activity_filter {
  std::string nsp;   ///< "" any namespace
  std::string event; ///< "" any; else only event, emit and broadcast items of this event
  std::uint32_t kinds = activity_all;
  /// A namespace whose messages (event, emit, broadcast) are not wanted: the Admin UI's
  /// own, whose traffic would otherwise report itself.
  std::string quiet_nsp;

  bool wants(std::string_view kind, std::string_view nsp, std::string_view name, bool name_known) const;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, activity_filter& x) {
  return f(caf::meta::type_name("activity_filter"), x.nsp, x.event, x.kinds, x.quiet_nsp);
}

class activity_feed {
public:
  static constexpr std::size_t max_detail_bytes = 512;
  static constexpr std::uint32_t max_lines_per_second = 1000;

  /// Whether an item of this kind, namespace and name (the event or room; `name_known`
  /// false for a broadcast whose event is read only when it is made) should be made now:
  /// someone watches, a filter wants it, and the second's budget is not spent.
  bool admit(std::string_view kind, std::string_view nsp, std::string_view name, bool name_known = true) const;
  /// Stamps `a` (time, node) and hands it to the hub.
  void publish(activity a) const;
  /// `text` cut to max_detail_bytes (at a UTF-8 boundary), with "..." when cut.
  static std::string cut(std::string text);

  const caf::actor& hub() const { return hub_; }

  /// Spawns the hub; `node` names this node in the items (empty without a cluster).
  void start(caf::actor_system& sys, std::string node);
  /// Names this node in the items (before the front end starts: publishers read it).
  void set_node(std::string node) { node_ = std::move(node); }
  /// Ends the hub (its watchers see it go).
  ~activity_feed();

  /// What the hub and admit() share: the watchers' filters and this second's budget.
  /// admit() takes no lock on its way: each thread keeps a copy of the filters, taken
  /// again when `generation` says they changed, and the budget is an atomic count (the
  /// mutex is taken once a second, to start the next second's count).
  struct shared_state {
    const std::uint64_t id = next_id(); // names this state in the threads' copies
    std::atomic<int> watchers{0};
    std::atomic<std::uint64_t> generation{0}; // bumped when the filters change
    std::mutex mutex;                         // filters, and starting a second
    std::vector<activity_filter> filters;     // one per watcher
    std::atomic<std::int64_t> second{0};
    std::atomic<std::uint64_t> made{0};
    std::atomic<std::uint64_t> skipped{0}; // not made (budget spent), reported as dropped

    static std::uint64_t next_id();
  };

private:
  std::shared_ptr<shared_state> state_ = std::make_shared<shared_state>();
  caf::actor hub_;
  std::string node_;
};

void announce_activity_types(caf::actor_system_config& cfg);

} // namespace sio
