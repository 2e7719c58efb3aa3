#include "apps/chat-server/rate_replicator.hpp"

#include "apps/chat-server/chat_util.hpp"
#include "apps/chat-server/cluster_peers.hpp"

namespace chat {

namespace {

using rate_tick_atom = caf::atom_constant<caf::atom("ratetick")>;

/// Longest key taken from a peer: the keys are "u" + a user id, "c" + a socket id or
/// "a" + an address, all far shorter.
constexpr std::size_t max_key_bytes = 1024;

struct rate_replicator_state {
  std::shared_ptr<rate_limiter> limiter;
  cluster_peers peers{rate_limit_service};
  bool ticking = false;
  static inline const char* name = "rate_replicator";
};

using self_ptr = caf::stateful_actor<rate_replicator_state>*;

void tick_later(self_ptr self) {
  self->state.ticking = true;
  self->delayed_send(self, rate_replication_interval, rate_tick_atom::value);
}

void tick(self_ptr self) {
  auto& st = self->state;
  st.ticking = false;
  if (st.peers.peers().empty()) {
    st.limiter->track_unsent(false); // alone: nothing to keep
    return;
  }
  auto unsent = st.limiter->take_unsent();
  if (!unsent.empty()) {
    rate_counts out{st.peers.self_name(), {}, {}};
    out.keys.reserve(unsent.size());
    out.counts.reserve(unsent.size());
    for (auto& u : unsent) {
      out.keys.push_back(std::move(u.key));
      out.counts.push_back(u.count);
    }
    st.peers.send_all(self, out);
  }
  tick_later(self);
}

void take(self_ptr self, const rate_counts& c) {
  auto& st = self->state;
  if (!st.peers.accepts(c.origin) || c.keys.size() != c.counts.size() || c.keys.size() > st.limiter->capacity())
    return;
  auto now = now_ms();
  for (std::size_t i = 0; i < c.keys.size(); ++i)
    if (c.keys[i].size() <= max_key_bytes)
      st.limiter->add(c.keys[i], c.counts[i], now);
}

caf::behavior rate_replicator(self_ptr self, std::shared_ptr<rate_limiter> limiter, caf::actor cluster) {
  self->state.limiter = std::move(limiter);
  self->state.peers.join(self, std::move(cluster));
  return {
      [=](rate_tick_atom) { tick(self); },
      [=](const rate_counts& c) { take(self, c); },
      [=](const sio::node_up& up) {
        if (!self->state.peers.up(self, up))
          return;
        self->state.limiter->track_unsent(true);
        if (!self->state.ticking)
          tick_later(self);
      },
      // The counts a dead node sent stay until their windows pass: they were let through.
      [=](const sio::node_down& down) { self->state.peers.down(down); },
  };
}

} // namespace

caf::actor spawn_rate_replicator(caf::actor_system& sys, std::shared_ptr<rate_limiter> limiter, caf::actor cluster) {
  auto actor = sys.spawn(rate_replicator, std::move(limiter), cluster);
  cluster_peers::offer(cluster, rate_limit_service, actor);
  return actor;
}

void announce_rate_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<rate_counts>("chat::rate_counts");
}

} // namespace chat
