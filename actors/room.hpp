// Room actor: one per room of a namespace that has reached room_actor_threshold members
// (smaller rooms are delivered by the namespace). Holds the room's members and hands
// a broadcast's shared frame to each of them, minus the exclusions the namespace computed.
//
// Takes: member_add, member_remove, room_deliver, shutdown_atom.
#pragma once

#include "actors/messages.hpp"

#include <unordered_map>

namespace sio {

struct room_state {
  std::string name;
  std::unordered_map<std::uint64_t, recipient> members;
  deferred_writes writes;
  static inline const char* name_prefix = "room";
};

caf::behavior room_actor(caf::stateful_actor<room_state>* self, std::string name);

} // namespace sio
