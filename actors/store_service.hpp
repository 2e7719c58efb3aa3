// The store node's side of one store for a cluster (actors/remote_store.hpp is the
// members' side): a node started with --store sqlite and --cluster-listen offers its
// persistence actor to the members as the service "store", and closes in the store the
// connections of a member that is gone. Those sockets went with their node (SIGKILL, a
// lost machine) and nobody else would record their end; without this they would stay
// "active" in /api/connections for good. A member's socket ids share a prefix
// (sio::id_prefix of its node number), so one write closes them all.
#pragma once

#include <caf/all.hpp>

namespace chat {

/// Registers `persistence` as the service "store" with the node actor `node` (call
/// before the node's start_atom: the service goes out with every join) and spawns the
/// actor that closes a gone member's connections.
void offer_store(caf::actor_system& sys, const caf::actor& node, const caf::actor& persistence);

/// Only the second half of offer_store: for a node whose store every member reaches by
/// itself (--store mongodb://, one database for all), nothing is offered, and each such
/// node closes a gone member's connections (the same write from several nodes closes
/// them once).
void close_connections_of_gone_members(caf::actor_system& sys, const caf::actor& node,
                                       const caf::actor& persistence);

} // namespace chat
