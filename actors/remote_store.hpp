// The persistence handle of a node started with `--store cluster`: this node opens no
// database; the store is the persistence actor of the one member that offers it to the
// cluster as the service "store" (`--store sqlite` on a node with --cluster-listen). The
// chat app holds this actor where it would hold the persistence actor and sends it the
// same requests (actors/persistence_actor.hpp); each is forwarded to the store member and
// its answer goes back to the requester unchanged, so an ack still means the write is
// committed on the store node.
//
// While no member offers a store, or once the store member is down (its node_down, or
// CAF's down signal for its actor), every request is answered at once with
// `persistence_errc::unavailable` ("the store is unreachable"), never dropped and never
// acknowledged. Requests in flight when the store goes down are answered with that error
// too: the actor keeps each one until its answer comes, and a request left unanswered for
// `request_timeout` (a last resort: a store that hangs) gets the error as well.
//
// Takes:
//   every persistence request -> the store member's answer, or `unavailable`
//     (fire and forget, caf::anon_send: forwarded the same way, nothing answers; lost
//      while the store is unreachable)
//   shutdown_atom -> caf::ok_atom, then the actor quits; never forwarded: the store
//     belongs to its own node, which commits and closes it when that node stops
//   node_up / node_down from the node actor it subscribes to at start; at the first store
//     found, it sends that store close_open_connections for this node's own id prefix
//     (what its previous run left open)
//   internal: store_sweep_atom (the request timeout's check)
#pragma once

#include "actors/cluster_node.hpp"
#include "actors/persistence_actor.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

namespace chat {

using store_sweep_atom = caf::atom_constant<caf::atom("storesweep")>;

/// The name under which a store node offers its persistence actor to the cluster.
inline constexpr const char* store_service = "store";

struct remote_store_options {
  /// A forwarded request unanswered this long is answered with `unavailable`.
  caf::timespan request_timeout = persistence_timeout;
};

class remote_store : public caf::event_based_actor {
public:
  remote_store(caf::actor_config& cfg, caf::actor node, remote_store_options opts);

  const char* name() const override { return "remote_store"; }
  caf::behavior make_behavior() override;
  void on_exit() override;

private:
  struct store_member {
    std::string node_name;
    std::uint32_t node_number = 0;
    caf::actor actor;
  };
  struct in_flight {
    caf::response_promise promise;
    caf::actor_clock::time_point deadline;
  };

  caf::result<caf::message> forward(caf::message_view& x);
  void answer(std::uint64_t id, caf::message reply);
  void answer(std::uint64_t id, caf::error err);
  void on_node_up(const sio::node_info& member);
  /// The store is gone: every request in flight is answered with `unavailable`.
  void lose_store(const std::string& why);
  void sweep();

  caf::actor node_;
  remote_store_options opts_;
  std::optional<store_member> store_;
  std::unordered_map<std::uint64_t, in_flight> in_flight_;
  std::uint64_t next_id_ = 0;
  bool sweep_scheduled_ = false;
  /// This node's previous run's connections were closed in the store (at the first store).
  bool closed_own_ = false;
};

/// Spawns the remote store; it subscribes to `node` (the cluster node actor) at once.
caf::actor spawn_remote_store(caf::actor_system& sys, caf::actor node, remote_store_options opts = {});

} // namespace chat
