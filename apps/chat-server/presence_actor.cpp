#include "apps/chat-server/presence_actor.hpp"

#include "actors/persistence_actor.hpp"
#include "apps/chat-server/chat_util.hpp"
#include "apps/chat-server/cluster_peers.hpp"
#include "apps/chat-server/node_counts.hpp"
#include "transport/socketio/packet.hpp"

#include <map>
#include <utility>

namespace chat {

namespace {

using member_key = std::pair<std::string, std::string>; // room, user

/// What a node lists of a present member, taken from the socket (or delta) that made it
/// appear in this node's copy.
struct member_meta {
  json::value info;
  std::string info_text;
  std::string connected_at;
  std::string nsp; // where its user.left goes when its node goes down
};

/// This node's own counts are under the origin "" (its name may come later).
const std::string local_origin;

struct presence_state {
  presence_config cfg;
  cluster_peers peers{presence_service};
  node_counts<member_key> rooms;
  std::map<member_key, member_meta> members; // the present ones, by room then user
  node_counts<std::string> online;
  static inline const char* name = "presence";
};

using self_ptr = caf::stateful_actor<presence_state>*;

json::value parse_info(const std::string& text) {
  auto v = sio::socketio::parse_json(text);
  return v ? std::move(*v) : json::value(nullptr);
}

json::object member_json(const member_key& key, const member_meta& m) {
  return json::object{{"user_id", key.second}, {"user_info", m.info}, {"connected_at", m.connected_at}};
}

// Announcements reach this node's sockets only: every node announces what its own copy
// saw (see the header).
void announce(presence_state& st, const std::string& nsp, const std::string& room, std::string_view event,
              json::object member, const std::string& except = {}) {
  auto b = st.cfg.nsp(nsp).to(room).local();
  if (!except.empty())
    b = b.except(except);
  b.emit(event, {std::move(member)});
}

void appeared(presence_state& st, const member_key& key, member_meta meta, const std::string& except = {}) {
  auto& m = st.members[key] = std::move(meta);
  announce(st, m.nsp, key.first, "user.joined", member_json(key, m), except);
}

void disappeared(presence_state& st, const member_key& key, const std::string& nsp) {
  auto it = st.members.find(key);
  if (it == st.members.end())
    return;
  announce(st, nsp.empty() ? it->second.nsp : nsp, key.first, "user.left", member_json(key, it->second));
  st.members.erase(it);
}

presence_list list(const presence_state& st, const std::string& room) {
  presence_list out{room, {}};
  for (auto it = st.members.lower_bound({room, std::string()}); it != st.members.end() && it->first.first == room; ++it)
    out.members.push_back({it->first.second, it->second.info_text, it->second.connected_at});
  return out;
}

std::uint64_t count(const presence_state& st, const std::string& room) {
  std::uint64_t n = 0;
  for (auto it = st.members.lower_bound({room, std::string()}); it != st.members.end() && it->first.first == room; ++it)
    ++n;
  return n;
}

// `user.status.changed` {user:{id, is_online, last_seen}} to every Socket.IO socket of the
// conversations namespace, and to the Pusher channel named by `pusher-status-channel`
// (seed 004's presence-users), whose Socket.IO members get it once.
void emit_status(presence_state& st, const std::string& user, bool online, std::int64_t at) {
  sio::message m{
      json::object{{"user", json::object{{"id", user}, {"is_online", online}, {"last_seen", iso_time(at)}}}}};
  auto nsp = st.cfg.nsp(st.cfg.status_nsp).local();
  auto& channel = st.cfg.status_channel;
  if (channel.empty())
    return nsp.emit("user.status.changed", std::move(m));
  nsp.except(channel).emit("user.status.changed", m);
  nsp.to(channel).emit("user.status.changed", std::move(m));
}

void store_last_seen(presence_state& st, const std::string& user, std::int64_t at) {
  if (st.cfg.persistence)
    caf::anon_send(st.cfg.persistence, update_last_seen{user, at}); // the store keeps the latest
}

// A delta's diff is one socket; anything else from a peer is taken as its sign.
int unit(std::int32_t diff) {
  return diff > 0 ? 1 : diff < 0 ? -1 : 0;
}

presence_snapshot snapshot(const presence_state& st, bool answer_wanted) {
  presence_snapshot out;
  out.origin = st.peers.self_name();
  out.answer_wanted = answer_wanted;
  for (auto& [key, n] : st.rooms.of_node(local_origin)) {
    auto m = st.members.find(key);
    if (m != st.members.end())
      out.rooms.push_back({m->second.nsp, key.first, key.second, m->second.info_text, m->second.connected_at, n});
  }
  for (auto& [user, n] : st.online.of_node(local_origin))
    out.online.push_back({user, n});
  return out;
}

// -- this node's sockets --------------------------------------------------------------------

presence_list enter(self_ptr self, presence_enter& m) {
  auto& st = self->state;
  member_key key{m.room, m.user};
  if (st.rooms.add(local_origin, key, 1) == count_change::first)
    appeared(st, key, {parse_info(m.info), m.info, iso_now(), m.nsp}, m.except);
  auto& meta = st.members[key];
  st.peers.send_all(self,
                    presence_delta{st.peers.self_name(), m.nsp, m.room, m.user, meta.info_text, meta.connected_at, 1});
  return list(st, m.room);
}

void exit(self_ptr self, presence_exit& m) {
  auto& st = self->state;
  member_key key{m.room, m.user};
  int moved = 0;
  if (st.rooms.add(local_origin, key, -1, &moved) == count_change::last)
    disappeared(st, key, m.nsp);
  if (moved != 0)
    st.peers.send_all(self, presence_delta{st.peers.self_name(), m.nsp, m.room, m.user, {}, {}, -1});
}

void user_enter(self_ptr self, const std::string& user) {
  auto& st = self->state;
  auto at = now_ms();
  if (st.online.add(local_origin, user, 1) == count_change::first)
    emit_status(st, user, true, at);
  st.peers.send_all(self, online_delta{st.peers.self_name(), user, 1, at});
}

void user_exit(self_ptr self, const std::string& user) {
  auto& st = self->state;
  auto at = now_ms();
  int moved = 0;
  auto change = st.online.add(local_origin, user, -1, &moved);
  if (moved == 0)
    return;
  // The user's last socket on this node: each node writes its own, the latest stays.
  if (st.online.of(local_origin, user) == 0)
    store_last_seen(st, user, at);
  if (change == count_change::last)
    emit_status(st, user, false, at);
  st.peers.send_all(self, online_delta{st.peers.self_name(), user, -1, at});
}

// -- the other nodes ------------------------------------------------------------------------

void take_delta(self_ptr self, presence_delta& d) {
  auto& st = self->state;
  if (!st.peers.accepts(d.origin))
    return;
  member_key key{d.room, d.user};
  auto change = st.rooms.add(d.origin, key, unit(d.diff));
  if (change == count_change::first)
    appeared(st, key, {parse_info(d.info), d.info, d.connected_at, d.nsp});
  else if (change == count_change::last)
    disappeared(st, key, d.nsp);
}

void take_delta(self_ptr self, online_delta& d) {
  auto& st = self->state;
  if (!st.peers.accepts(d.origin))
    return;
  auto change = st.online.add(d.origin, d.user, unit(d.diff));
  if (change != count_change::none)
    emit_status(st, d.user, change == count_change::first, d.at_ms);
}

void take_snapshot(self_ptr self, presence_snapshot& s) {
  auto& st = self->state;
  if (s.origin.empty() || s.origin == st.peers.self_name())
    return;
  st.peers.back(s.origin);
  std::map<member_key, int> counts;
  std::map<member_key, const presence_count*> entries;
  for (auto& c : s.rooms) {
    member_key key{c.room, c.user};
    counts[key] = c.sockets;
    entries[key] = &c;
  }
  for (auto& [key, change] : st.rooms.replace(s.origin, counts)) {
    if (change == count_change::last) {
      disappeared(st, key, {});
    } else {
      auto& c = *entries.at(key);
      appeared(st, key, {parse_info(c.info), c.info, c.connected_at, c.nsp});
    }
  }
  std::map<std::string, int> online;
  for (auto& c : s.online)
    online[c.user] = c.sockets;
  auto at = now_ms();
  for (auto& [user, change] : st.online.replace(s.origin, online))
    emit_status(st, user, change == count_change::first, at);
  if (s.answer_wanted)
    self->send(caf::actor_cast<caf::actor>(self->current_sender()), snapshot(st, false));
}

void node_gone(self_ptr self, const sio::node_down& d) {
  auto& st = self->state;
  if (!st.peers.down(d))
    return;
  for (auto& key : st.rooms.drop(d.name))
    disappeared(st, key, {});
  auto at = now_ms();
  for (auto& user : st.online.drop(d.name)) {
    emit_status(st, user, false, at);
    store_last_seen(st, user, at);
  }
}

caf::behavior presence_actor(self_ptr self, presence_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.peers.join(self, self->state.cfg.cluster);
  return {
      [=](presence_enter& m) { return enter(self, m); },
      [=](presence_exit& m) {
        exit(self, m);
        return caf::ok_atom::value;
      },
      [=](presence_query& q) { return list(self->state, q.room); },
      [=](presence_count_query& q) {
        presence_counts out;
        out.users.reserve(q.rooms.size());
        for (auto& room : q.rooms)
          out.users.push_back(count(self->state, room));
        return out;
      },
      [=](online_enter& m) { user_enter(self, m.user); },
      [=](online_exit& m) { user_exit(self, m.user); },
      [=](online_query& q) {
        return online_state{q.user, self->state.online.total(q.user) > 0};
      },
      [=](presence_delta& d) { take_delta(self, d); },
      [=](online_delta& d) { take_delta(self, d); },
      [=](presence_snapshot& s) { take_snapshot(self, s); },
      [=](const sio::node_up& up) {
        if (auto peer = self->state.peers.up(self, up))
          self->send(peer, snapshot(self->state, true));
      },
      [=](const sio::node_down& down) { node_gone(self, down); },
  };
}

} // namespace

caf::actor spawn_presence(caf::actor_system& sys, presence_config cfg) {
  auto node = cfg.cluster;
  auto actor = sys.spawn(presence_actor, std::move(cfg));
  cluster_peers::offer(node, presence_service, actor);
  return actor;
}

void announce_presence_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<presence_member>("chat::presence_member");
  cfg.add_message_type<presence_list>("chat::presence_list");
  cfg.add_message_type<presence_enter>("chat::presence_enter");
  cfg.add_message_type<presence_exit>("chat::presence_exit");
  cfg.add_message_type<presence_query>("chat::presence_query");
  cfg.add_message_type<presence_count_query>("chat::presence_count_query");
  cfg.add_message_type<presence_counts>("chat::presence_counts");
  cfg.add_message_type<online_enter>("chat::online_enter");
  cfg.add_message_type<online_exit>("chat::online_exit");
  cfg.add_message_type<online_query>("chat::online_query");
  cfg.add_message_type<online_state>("chat::online_state");
  cfg.add_message_type<presence_delta>("chat::presence_delta");
  cfg.add_message_type<online_delta>("chat::online_delta");
  cfg.add_message_type<presence_count>("chat::presence_count");
  cfg.add_message_type<online_count>("chat::online_count");
  cfg.add_message_type<presence_snapshot>("chat::presence_snapshot");
}

} // namespace chat
