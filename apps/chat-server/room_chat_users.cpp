#include "apps/chat-server/room_chat_users.hpp"

#include "apps/chat-server/cluster_peers.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

namespace chat {

namespace json = boost::json;

json::array users_json(const std::vector<room_chat_user>& users) {
  json::array out;
  out.reserve(users.size());
  for (auto& u : users) {
    json::object o{{"username", u.username}, {"socketId", u.socket_id}};
    if (!u.room.empty())
      o["room"] = u.room;
    out.push_back(std::move(o));
  }
  return out;
}

namespace {

/// This node's own users are under the origin "" (its name may come later).
const std::string local_origin;

struct user_entry {
  std::string username;
  std::string room;
  std::set<std::string> rooms;
  std::string origin;
};

struct room_chat_users_state {
  room_chat_users_config cfg;
  cluster_peers peers{room_chat_users_service};
  std::unordered_map<std::string, user_entry> users;  // socket id -> user
  std::vector<std::string> order;                     // socket ids, in join order
  std::map<std::string, std::set<std::string>> rooms; // room -> socket ids
  static inline const char* name = "room_chat_users";
};

using self_ptr = caf::stateful_actor<room_chat_users_state>*;

room_chat_user user_of(const std::string& id, const user_entry& u) {
  return {id, u.username, u.room};
}

std::vector<room_chat_user> everyone(const room_chat_users_state& st) {
  std::vector<room_chat_user> out;
  out.reserve(st.order.size());
  for (auto& id : st.order)
    if (auto it = st.users.find(id); it != st.users.end())
      out.push_back(user_of(id, it->second));
  return out;
}

std::vector<room_chat_user> members(const room_chat_users_state& st, const std::string& room) {
  std::vector<room_chat_user> out;
  if (auto r = st.rooms.find(room); r != st.rooms.end())
    for (auto& id : r->second)
      if (auto it = st.users.find(id); it != st.users.end())
        out.push_back(user_of(id, it->second));
  return out;
}

// -- the changes, wherever they were made ---------------------------------------------------

void join(room_chat_users_state& st, const std::string& origin, const std::string& id, const std::string& name) {
  auto it = st.users.find(id);
  if (it == st.users.end()) {
    st.order.push_back(id);
    it = st.users.emplace(id, user_entry{}).first;
  }
  // Joining again renames the user and clears its room; its rooms keep it (seed 003).
  it->second.username = name;
  it->second.room.clear();
  it->second.origin = origin;
}

void join_room(room_chat_users_state& st, const std::string& id, const std::string& room) {
  auto it = st.users.find(id);
  if (it == st.users.end())
    return;
  it->second.room = room;
  it->second.rooms.insert(room);
  st.rooms[room].insert(id);
}

void leave_room(room_chat_users_state& st, const std::string& id, const std::string& room) {
  if (auto r = st.rooms.find(room); r != st.rooms.end()) {
    r->second.erase(id);
    if (r->second.empty())
      st.rooms.erase(r);
  }
  if (auto it = st.users.find(id); it != st.users.end()) {
    it->second.rooms.erase(room);
    if (it->second.room == room)
      it->second.room.clear();
  }
}

// The user's name when it was there.
std::optional<std::string> gone(room_chat_users_state& st, const std::string& id) {
  auto it = st.users.find(id);
  if (it == st.users.end())
    return std::nullopt;
  for (auto& room : std::set<std::string>(it->second.rooms))
    leave_room(st, id, room);
  auto name = std::move(it->second.username);
  st.users.erase(it);
  st.order.erase(std::remove(st.order.begin(), st.order.end(), id), st.order.end());
  return name;
}

void announce_gone(const sio::broadcast& to, const std::string& name) {
  to.emit("user-disconnected", {json::object{{"username", name}, {"message", name + " left the chat"}}});
}

void announce_list(room_chat_users_state& st, const sio::broadcast& to) {
  to.emit("users-list", {users_json(everyone(st))});
}

// -- cluster ---------------------------------------------------------------------------------

void share(self_ptr self, chat_users_delta d) {
  auto& st = self->state;
  if (st.peers.peers().empty())
    return;
  d.origin = st.peers.self_name();
  st.peers.send_all(self, d);
}

void take_delta(room_chat_users_state& st, const chat_users_delta& d) {
  if (!st.peers.accepts(d.origin))
    return;
  switch (d.op) {
  case chat_users_delta::join:
    return join(st, d.origin, d.socket_id, d.username);
  case chat_users_delta::join_room:
    return join_room(st, d.socket_id, d.room);
  case chat_users_delta::leave_room:
    return leave_room(st, d.socket_id, d.room);
  case chat_users_delta::gone:
    gone(st, d.socket_id);
    return;
  default:
    return;
  }
}

std::vector<std::string> users_of(const room_chat_users_state& st, const std::string& origin) {
  std::vector<std::string> out;
  for (auto& id : st.order)
    if (auto it = st.users.find(id); it != st.users.end() && it->second.origin == origin)
      out.push_back(id);
  return out;
}

chat_users_snapshot snapshot(const room_chat_users_state& st, bool answer_wanted) {
  chat_users_snapshot out{st.peers.self_name(), {}, answer_wanted};
  for (auto& id : users_of(st, local_origin)) {
    auto& u = st.users.at(id);
    out.users.push_back({user_of(id, u), std::vector<std::string>(u.rooms.begin(), u.rooms.end())});
  }
  return out;
}

// Replaces what came from `s.origin`. No announcement: its users joined and left where
// they were, and those nodes told the namespace.
void take_snapshot(self_ptr self, chat_users_snapshot& s) {
  auto& st = self->state;
  if (s.origin.empty() || s.origin == st.peers.self_name())
    return;
  st.peers.back(s.origin);
  for (auto& id : users_of(st, s.origin))
    gone(st, id);
  for (auto& e : s.users) {
    join(st, s.origin, e.user.socket_id, e.user.username);
    for (auto& room : e.rooms)
      join_room(st, e.user.socket_id, room);
    st.users[e.user.socket_id].room = e.user.room; // the room joined last
  }
  if (s.answer_wanted)
    self->send(caf::actor_cast<caf::actor>(self->current_sender()), snapshot(st, false));
}

// A member went down: its users left, as this node's sockets hear it.
void node_gone(room_chat_users_state& st, const sio::node_down& d) {
  if (!st.peers.down(d))
    return;
  auto ids = users_of(st, d.name);
  if (ids.empty())
    return;
  auto to = st.cfg.nsp().local();
  for (auto& id : ids)
    if (auto name = gone(st, id))
      announce_gone(to, *name);
  announce_list(st, to);
}

caf::behavior room_chat_users_actor(self_ptr self, room_chat_users_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.peers.join(self, self->state.cfg.cluster);
  return {
      [=](chat_user_join& m) {
        join(self->state, local_origin, m.socket_id, m.username);
        share(self, {{}, chat_users_delta::join, m.socket_id, m.username, {}});
        return room_chat_users{everyone(self->state)};
      },
      [=](chat_user_join_room& m) {
        join_room(self->state, m.socket_id, m.room);
        share(self, {{}, chat_users_delta::join_room, m.socket_id, {}, m.room});
        return room_chat_users{members(self->state, m.room)};
      },
      [=](chat_user_leave_room& m) {
        leave_room(self->state, m.socket_id, m.room);
        share(self, {{}, chat_users_delta::leave_room, m.socket_id, {}, m.room});
      },
      [=](chat_user_gone& m) {
        auto& st = self->state;
        auto name = gone(st, m.socket_id);
        if (!name)
          return;
        share(self, {{}, chat_users_delta::gone, m.socket_id, {}, {}});
        auto to = st.cfg.nsp();
        announce_gone(to, *name);
        announce_list(st, to);
      },
      [=](chat_user_find& m) {
        room_chat_users out;
        if (auto it = self->state.users.find(m.socket_id); it != self->state.users.end())
          out.users.push_back(user_of(m.socket_id, it->second));
        return out;
      },
      [=](chat_users_delta& d) { take_delta(self->state, d); },
      [=](chat_users_snapshot& s) { take_snapshot(self, s); },
      [=](const sio::node_up& up) {
        if (auto peer = self->state.peers.up(self, up))
          self->send(peer, snapshot(self->state, true));
      },
      [=](const sio::node_down& down) { node_gone(self->state, down); },
  };
}

} // namespace

caf::actor spawn_room_chat_users(caf::actor_system& sys, room_chat_users_config cfg) {
  auto node = cfg.cluster;
  auto actor = sys.spawn(room_chat_users_actor, std::move(cfg));
  cluster_peers::offer(node, room_chat_users_service, actor);
  return actor;
}

void announce_room_chat_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<room_chat_user>("chat::room_chat_user");
  cfg.add_message_type<room_chat_users>("chat::room_chat_users");
  cfg.add_message_type<chat_user_join>("chat::chat_user_join");
  cfg.add_message_type<chat_user_join_room>("chat::chat_user_join_room");
  cfg.add_message_type<chat_user_leave_room>("chat::chat_user_leave_room");
  cfg.add_message_type<chat_user_gone>("chat::chat_user_gone");
  cfg.add_message_type<chat_user_find>("chat::chat_user_find");
  cfg.add_message_type<chat_users_delta>("chat::chat_users_delta");
  cfg.add_message_type<room_chat_entry>("chat::room_chat_entry");
  cfg.add_message_type<chat_users_snapshot>("chat::chat_users_snapshot");
}

} // namespace chat
