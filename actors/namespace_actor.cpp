#include "actors/namespace_actor.hpp"
#include "actors/metrics.hpp"

#include "actors/cluster_node.hpp"
#include "actors/recovery.hpp"
#include "actors/room.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

namespace sio {

namespace {

using self_ptr = caf::stateful_actor<namespace_state>*;

void join(self_ptr self, std::uint64_t key, const std::string& room) {
  auto& st = self->state;
  auto sock = st.sockets.find(key);
  if (sock == st.sockets.end())
    return;
  auto& entry = st.rooms[room];
  if (!entry.members.insert(key).second)
    return;
  if (st.cluster && entry.members.size() == 1)
    self->send(st.cluster, room_interest{st.name, room, true});
  st.socket_rooms[key].insert(room);
  if (entry.actor) {
    self->send(entry.actor, member_add{key, sock->second});
  } else if (entry.members.size() >= room_actor_threshold) {
    // Big enough to fan out on its own: hand the room to a room actor from now on.
    entry.actor = self->spawn(room_actor, room);
    for (auto member : entry.members)
      if (auto m = st.sockets.find(member); m != st.sockets.end())
        self->send(entry.actor, member_add{member, m->second});
  }
}

void leave(self_ptr self, std::uint64_t key, const std::string& room) {
  auto& st = self->state;
  auto entry = st.rooms.find(room);
  if (entry == st.rooms.end() || entry->second.members.erase(key) == 0)
    return;
  auto sr = st.socket_rooms.find(key);
  if (sr != st.socket_rooms.end())
    sr->second.erase(room);
  if (entry->second.members.empty()) {
    if (st.cluster)
      self->send(st.cluster, room_interest{st.name, room, false});
    if (entry->second.actor)
      self->send(entry->second.actor, shutdown_atom::value);
    st.rooms.erase(entry);
  } else if (entry->second.actor) {
    self->send(entry->second.actor, member_remove{key});
  }
}

void add_members(const namespace_state& st, const std::string& room, std::vector<std::uint64_t>& out) {
  auto entry = st.rooms.find(room);
  if (entry != st.rooms.end())
    out.insert(out.end(), entry->second.members.begin(), entry->second.members.end());
}

void sort_unique(std::vector<std::uint64_t>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

void deliver_broadcast(self_ptr self, broadcast_request& req) {
  auto& st = self->state;
  http::write_batch::scope collect(st.writes.batch); // see finish_broadcast
  std::vector<std::uint64_t> exclude;
  for (auto& room : req.except)
    add_members(st, room, exclude);
  sort_unique(exclude);
  if (req.rooms.empty()) {
    for (auto& [key, to] : st.sockets) {
      if (to.rooms_only || (!exclude.empty() && std::binary_search(exclude.begin(), exclude.end(), key)))
        continue;
      deliver_to(self, key, to, req.frame, req.is_volatile);
    }
    return;
  }
  // Each target room skips the members of the rooms before it: once per socket.
  std::vector<std::string> seen;
  for (auto& room : req.rooms) {
    if (std::find(seen.begin(), seen.end(), room) != seen.end())
      continue;
    auto entry = st.rooms.find(room);
    if (entry != st.rooms.end() && entry->second.actor) {
      self->send(entry->second.actor, room_deliver{req.frame, exclude, req.is_volatile});
    } else if (entry != st.rooms.end()) {
      for (auto key : entry->second.members) {
        if (!exclude.empty() && std::binary_search(exclude.begin(), exclude.end(), key))
          continue;
        if (auto to = st.sockets.find(key); to != st.sockets.end())
          deliver_to(self, key, to->second, req.frame, req.is_volatile);
      }
    }
    seen.push_back(room);
    if (&room != &req.rooms.back()) {
      add_members(st, room, exclude);
      sort_unique(exclude);
    }
  }
}

// The sockets a broadcast with these rooms and exceptions would reach here, each once.
socket_refs select(const namespace_state& st, const select_sockets& q) {
  std::vector<std::uint64_t> exclude;
  for (auto& room : q.except)
    add_members(st, room, exclude);
  sort_unique(exclude);
  socket_refs out;
  auto take = [&](std::uint64_t key, const recipient& to) {
    if (!to.rooms_only && !std::binary_search(exclude.begin(), exclude.end(), key))
      out.sockets.push_back({key, to.connection});
  };
  if (q.rooms.empty()) {
    for (auto& [key, to] : st.sockets)
      take(key, to);
    return out;
  }
  std::vector<std::uint64_t> keys;
  for (auto& room : q.rooms)
    add_members(st, room, keys);
  sort_unique(keys);
  for (auto key : keys)
    if (auto to = st.sockets.find(key); to != st.sockets.end())
      take(key, to->second);
  return out;
}

/// A broadcast as the activity feed shows it: its event (read back from the encoded
/// packet, only while someone watches), rooms and size.
void report_broadcast(const activity_feed& feed, const std::string& nsp, const broadcast_request& req) {
  activity a;
  a.kind = "broadcast";
  a.nsp = nsp;
  a.bytes = req.frame.bytes();
  const auto& text = req.frame ? req.frame->text : std::string{};
  if (auto open = text.find('['); open != std::string::npos) {
    boost::system::error_code ec;
    auto args = json::parse(std::string_view(text).substr(open), ec);
    if (!ec && args.is_array() && !args.as_array().empty() && args.as_array()[0].is_string()) {
      a.name = std::string(args.as_array()[0].as_string());
      args.as_array().erase(args.as_array().begin());
      a.detail = activity_feed::cut(json::serialize(args));
    }
  }
  std::string to;
  for (auto& room : req.rooms)
    to += (to.empty() ? "to " : ",") + room;
  for (auto& room : req.except)
    to += (to.empty() ? "except " : " except ") + room;
  a.socket = to.empty() ? "*" : activity_feed::cut(to);
  feed.publish(std::move(a));
}

} // namespace

caf::behavior namespace_actor(caf::stateful_actor<namespace_state>* self, std::string name, caf::actor cluster,
                              std::shared_ptr<const activity_feed> activity, caf::actor recovery) {
  self->state.name = std::move(name);
  self->state.cluster = std::move(cluster);
  self->state.recovery = std::move(recovery);
  return {
      [=](socket_add& s) {
        self->state.sockets[s.key] = recipient{std::move(s.connection), std::move(s.sink), s.rooms_only};
        join(self, s.key, s.id);
        if (auto own = self->state.rooms.find(s.id); own != self->state.rooms.end())
          own->second.own = true;
      },
      [=](socket_remove& s) {
        auto& st = self->state;
        auto sr = st.socket_rooms.find(s.key);
        if (sr != st.socket_rooms.end()) {
          auto rooms = std::move(sr->second);
          for (auto& room : rooms)
            leave(self, s.key, room);
          st.socket_rooms.erase(s.key);
        }
        st.sockets.erase(s.key);
      },
      [=](room_join& j) { join(self, j.key, j.room); },
      [=](room_leave& l) { leave(self, l.key, l.room); },
      [=](broadcast_request& req) {
        metrics::global().broadcasts.add();
        if (activity->admit("broadcast", self->state.name, {}, false))
          report_broadcast(*activity, self->state.name, req);
        if (self->state.cluster && !req.local)
          self->send(self->state.cluster, cluster_broadcast{self->state.name, req});
        if (self->state.recovery && !req.offset.empty())
          caf::anon_send(self->state.recovery,
                         recovery_append{self->state.name, req.offset, req.rooms, req.except, req.frame});
        deliver_broadcast(self, req);
        finish_broadcast(self, self->state.writes);
      },
      [=](wflush_atom) { self->state.writes.flush_now(); },
      [=](count_atom) { return self->state.sockets.size(); },
      [=](count_atom, rooms_atom) {
        std::uint64_t rooms = 0;
        for (auto& [name, entry] : self->state.rooms)
          rooms += entry.own ? 0 : 1;
        return std::make_tuple(static_cast<std::uint64_t>(self->state.sockets.size()), rooms);
      },
      [=](const rooms_query& q) {
        room_list out;
        for (auto& [name, entry] : self->state.rooms)
          if (!entry.own && name.compare(0, q.prefix.size(), q.prefix) == 0)
            out.rooms.push_back({name, entry.members.size()});
        return out;
      },
      [=](const select_sockets& q) { return select(self->state, q); },
      [=](shutdown_atom) {
        for (auto& [name, entry] : self->state.rooms)
          if (entry.actor)
            self->send(entry.actor, shutdown_atom::value);
        self->state.rooms.clear();
        self->quit();
      },
  };
}

} // namespace sio
