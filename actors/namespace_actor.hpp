// Namespace actor: one per namespace. Registry of the namespace's sockets, directory of
// its rooms, and the entry point of every broadcast. It is the one place where membership
// changes are ordered, so it computes each room's exclusions: a socket in several target
// rooms gets the frame from the first of them only.
//
// A small room (every socket's own-id room, a conversation of a few people) is delivered
// by the namespace itself: a room actor per such room would cost an actor per socket and
// a hop per message for nothing. A room that reaches `room_actor_threshold` members gets
// its own room actor, which fans out its broadcasts in parallel with the namespace, until
// it is empty again.
//
// In a cluster it tells its node of every room it gains or loses (room_interest) and
// hands it every broadcast that came from this node (cluster_broadcast), which the node
// sends to the members with sockets in the target rooms.
//
// With connection state recovery, every broadcast it delivers that carries an offset
// (this node's or a member's) goes to the recovery actor too (recovery_append), in the
// order it delivers them.
//
// Takes: socket_add, socket_remove, room_join, room_leave, broadcast_request,
//        (count_atom) -> size_t, (count_atom, rooms_atom) -> (sockets, rooms), (rooms_query) -> room_list,
//        (select_sockets) -> socket_refs (for the server API's socket-set verbs), shutdown_atom.
#pragma once

#include "actors/activity.hpp"
#include "actors/messages.hpp"

#include <unordered_map>
#include <unordered_set>

namespace sio {

/// Members at which a room gets its own actor.
constexpr std::size_t room_actor_threshold = 64;

struct namespace_state {
  struct room_entry {
    caf::actor actor; // null while the room is small
    std::unordered_set<std::uint64_t> members;
    bool own = false; // named by a member's id: not listed by rooms_query
  };
  std::string name;
  std::unordered_map<std::uint64_t, recipient> sockets;
  std::unordered_map<std::string, room_entry> rooms;
  std::unordered_map<std::uint64_t, std::unordered_set<std::string>> socket_rooms;
  deferred_writes writes;
  /// This node's cluster node actor (null without a cluster): told of rooms gained and
  /// lost, and given every broadcast that is not `local`.
  caf::actor cluster;
  /// This node's recovery actor (null without connection state recovery).
  caf::actor recovery;
  static inline const char* name_prefix = "namespace";
};

caf::behavior namespace_actor(caf::stateful_actor<namespace_state>* self, std::string name, caf::actor cluster,
                              std::shared_ptr<const activity_feed> activity, caf::actor recovery = {});

} // namespace sio
