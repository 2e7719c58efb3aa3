#include "actors/gauges.hpp"

#include "actors/cluster_node.hpp"

namespace sio {

void read_gauges(caf::event_based_actor* self, const std::shared_ptr<server_core>& core,
                 std::function<void(metrics_gauges)> done) {
  metrics_gauges g;
  // Every series a scrape may show is there from the start, at 0: a series that comes
  // and goes reads as "no data" in Prometheus.
  for (const char* transport : {"polling", "websocket"}) {
    g.connections[{transport, 4}] = 0;
    if (core->opts.allow_eio3)
      g.connections[{transport, 3}] = 0;
  }
  {
    std::lock_guard<std::mutex> guard(core->sessions_mutex);
    for (auto& [sid, entry] : core->sessions)
      if (!entry->raw)
        ++g.connections[{entry->transport.load() == 1 ? "websocket" : "polling", entry->protocol}];
  }
  g.pusher_connections = core->other_count();
  g.draining = core->draining;
  if (auto& dir = core->cluster_members)
    for (auto& n : dir->members())
      g.members.push_back(n.name);
  std::vector<std::pair<std::string, caf::actor>> namespaces;
  {
    std::lock_guard<std::mutex> guard(core->namespaces_mutex);
    for (auto& [name, entry] : core->namespaces)
      namespaces.emplace_back(name, entry.actor);
  }
  struct pending {
    metrics_gauges g;
    std::size_t left;
    std::function<void(metrics_gauges)> done;
    void one_less() {
      if (--left == 0)
        done(std::move(g));
    }
  };
  auto p = std::make_shared<pending>(pending{std::move(g), namespaces.size() + 1, std::move(done)});
  for (auto& [name, actor] : namespaces)
    self->request(actor, std::chrono::seconds(1), count_atom::value, rooms_atom::value)
        .then(
            [p, name = name](std::uint64_t sockets, std::uint64_t rooms) {
              p->g.namespaces[name] = {sockets, rooms};
              p->one_less();
            },
            [p](caf::error&) { p->one_less(); });
  p->one_less();
}

} // namespace sio
