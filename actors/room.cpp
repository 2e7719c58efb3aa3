#include "actors/room.hpp"

#include <algorithm>

namespace sio {

caf::behavior room_actor(caf::stateful_actor<room_state>* self, std::string name) {
  self->state.name = std::move(name);
  return {
      [=](member_add& m) { self->state.members[m.key] = std::move(m.to); },
      [=](member_remove& m) { self->state.members.erase(m.key); },
      [=](room_deliver& d) {
        {
          http::write_batch::scope collect(self->state.writes.batch); // see finish_broadcast
          for (auto& [key, to] : self->state.members) {
            if (!d.exclude.empty() && std::binary_search(d.exclude.begin(), d.exclude.end(), key))
              continue;
            deliver_to(self, key, to, d.frame, d.is_volatile);
          }
        }
        finish_broadcast(self, self->state.writes);
      },
      [=](wflush_atom) { self->state.writes.flush_now(); },
      [=](shutdown_atom) { self->quit(); },
  };
}

} // namespace sio
