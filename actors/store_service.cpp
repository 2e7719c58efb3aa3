#include "actors/store_service.hpp"

#include "actors/cluster_node.hpp"
#include "actors/ids.hpp"
#include "actors/persistence_actor.hpp"
#include "actors/remote_store.hpp"

#include <spdlog/spdlog.h>

namespace chat {

namespace {

// Subscribed to the node actor: each node_down closes that member's connections.
caf::behavior connection_closer(caf::event_based_actor* self, caf::actor node, caf::actor persistence) {
  self->send(node, sio::subscribe_atom::value, caf::actor_cast<caf::actor>(self));
  return {
      [](const sio::node_up&) {},
      [self, persistence](const sio::node_down& down) {
        self->request(persistence, persistence_timeout, close_open_connections{0, sio::id_prefix(down.number)})
            .then(
                [name = down.name](std::int64_t closed) {
                  if (closed > 0)
                    spdlog::info("store: {} connections of node {} closed: the node is gone", closed, name);
                },
                [name = down.name](caf::error& err) {
                  spdlog::warn("store: the connections of node {} stay open: {}", name, caf::to_string(err));
                });
      },
  };
}

} // namespace

void offer_store(caf::actor_system& sys, const caf::actor& node, const caf::actor& persistence) {
  caf::anon_send(node, sio::register_service{store_service, persistence});
  close_connections_of_gone_members(sys, node, persistence);
}

void close_connections_of_gone_members(caf::actor_system& sys, const caf::actor& node,
                                       const caf::actor& persistence) {
  sys.spawn(connection_closer, node, persistence);
}

} // namespace chat
