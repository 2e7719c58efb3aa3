// The rate limit across nodes (issue 11): each node keeps deciding at once, on its own
// counts (a request per message to a shared counter would cost a round trip on the hot
// path of every send), and its rate replicator tells the other nodes, every
// `rate_replication_interval`, what it let through since the last time; their limiters
// add it to their own counts. So the limit holds for the whole cluster up to what the
// nodes let through within one interval before hearing of each other (at most one
// interval's worth of sends per node over the limit). Windows stay each node's own: a
// count from elsewhere joins the receiving node's current window for that key.
//
// Takes: rate_counts (from the other nodes' replicators); sio::node_up, sio::node_down
// (from the node actor); its own tick. Without a cluster nothing spawns it.
#pragma once

#include "apps/chat-server/rate_limiter.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace chat {

inline constexpr std::chrono::milliseconds rate_replication_interval{250};

/// The name the replicators offer each other under (node_info::services).
inline constexpr const char* rate_limit_service = "rate-limit";

/// What node `origin` let through per key since its last rate_counts.
struct rate_counts {
  std::string origin;
  std::vector<std::string> keys;
  std::vector<std::int64_t> counts;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, rate_counts& x) {
  return f(caf::meta::type_name("rate_counts"), x.origin, x.keys, x.counts);
}

/// `limiter` is shared with the handlers that call allow(); `cluster` is the node actor.
caf::actor spawn_rate_replicator(caf::actor_system& sys, std::shared_ptr<rate_limiter> limiter, caf::actor cluster);

void announce_rate_types(caf::actor_system_config& cfg);

} // namespace chat
