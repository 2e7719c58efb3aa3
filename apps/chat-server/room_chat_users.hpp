// The room chat's users actor (docs/chat-protocol.md §3, seed 003): who joined the chat
// under which name, in join order, and who is in which of its rooms, for `users-list`,
// `room-members` and private messages. One per node; it owns the lists, so no handler
// takes a lock. Whether a socket joined, and its name, the socket keeps itself (its data),
// so the events that only check it ask nobody.
//
// In a cluster every node's instance holds every node's users: a change here is applied
// here and sent to every member's instance as a delta tagged with this node's name, a
// member that comes up gets a snapshot, and the lists answer for the whole cluster. The
// node where a user disconnects announces it (`user-disconnected`, `users-list`) to the
// whole namespace; when a member goes down, every surviving node forgets its users and
// announces their departure to its own sockets (broadcast::local()), so each socket hears
// it once.
//
// Takes (from this node's handlers):
//   chat_user_join        -> room_chat_users (every user, in join order)
//   chat_user_join_room   -> room_chat_users (the room's members)
//   chat_user_leave_room
//   chat_user_gone           announces user-disconnected and users-list
//   chat_user_find        -> room_chat_users (that user, or nobody)
// Takes (from the other nodes' instances): chat_users_delta, chat_users_snapshot.
// Takes (from the node actor): sio::node_up, sio::node_down.
#pragma once

#include "actors/api.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace chat {

// -- messages ------------------------------------------------------------------------------

struct room_chat_user {
  std::string socket_id;
  std::string username;
  std::string room; // the room joined last, "" when none
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, room_chat_user& x) {
  return f(caf::meta::type_name("room_chat_user"), x.socket_id, x.username, x.room);
}

struct room_chat_users {
  std::vector<room_chat_user> users;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, room_chat_users& x) {
  return f(caf::meta::type_name("room_chat_users"), x.users);
}

/// `join` {username}: the socket joins the chat (again: under a new name, out of its room).
struct chat_user_join {
  std::string socket_id;
  std::string username;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, chat_user_join& x) {
  return f(caf::meta::type_name("chat_user_join"), x.socket_id, x.username);
}

struct chat_user_join_room {
  std::string socket_id;
  std::string room;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, chat_user_join_room& x) {
  return f(caf::meta::type_name("chat_user_join_room"), x.socket_id, x.room);
}

struct chat_user_leave_room {
  std::string socket_id;
  std::string room;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, chat_user_leave_room& x) {
  return f(caf::meta::type_name("chat_user_leave_room"), x.socket_id, x.room);
}

struct chat_user_gone {
  std::string socket_id;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, chat_user_gone& x) {
  return f(caf::meta::type_name("chat_user_gone"), x.socket_id);
}

struct chat_user_find {
  std::string socket_id;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, chat_user_find& x) {
  return f(caf::meta::type_name("chat_user_find"), x.socket_id);
}

/// One of the four changes above, made on node `origin`.
struct chat_users_delta {
  enum op_code : std::uint8_t { join, join_room, leave_room, gone };
  std::string origin;
  std::uint8_t op = join;
  std::string socket_id;
  std::string username; // join
  std::string room;     // join_room, leave_room
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, chat_users_delta& x) {
  return f(caf::meta::type_name("chat_users_delta"), x.origin, x.op, x.socket_id, x.username, x.room);
}

/// A user as a snapshot carries it: its rooms too.
struct room_chat_entry {
  room_chat_user user;
  std::vector<std::string> rooms;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, room_chat_entry& x) {
  return f(caf::meta::type_name("room_chat_entry"), x.user, x.rooms);
}

/// Every user of node `origin`, replacing what the receiver had from it (see
/// presence_snapshot for `answer_wanted`).
struct chat_users_snapshot {
  std::string origin;
  std::vector<room_chat_entry> users;
  bool answer_wanted = false;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, chat_users_snapshot& x) {
  return f(caf::meta::type_name("chat_users_snapshot"), x.origin, x.users, x.answer_wanted);
}

/// {username, socketId, room?} each: how users-list and room-members list them.
boost::json::array users_json(const std::vector<room_chat_user>& users);

// -- the actor -----------------------------------------------------------------------------

/// The name the instances offer each other under (node_info::services).
inline constexpr const char* room_chat_users_service = "room-chat-users";

struct room_chat_users_config {
  /// The room chat namespace's broadcast handle (server::in), for the announcements.
  std::function<sio::broadcast()> nsp;
  /// This node's cluster node actor; null on one node.
  caf::actor cluster;
};

caf::actor spawn_room_chat_users(caf::actor_system& sys, room_chat_users_config cfg);

void announce_room_chat_types(caf::actor_system_config& cfg);

} // namespace chat
