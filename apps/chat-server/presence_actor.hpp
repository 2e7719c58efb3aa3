// The presence actor (docs/chat-protocol.md §5, §8): presence rooms (one member list per
// room, whichever protocol its members came by) and online status (a user's first socket
// or Pusher connection, and its last). One per node; it owns the state, so no handler
// takes a lock, and it makes the announcements itself: `user.joined` / `user.left` to the
// room, `user.status.changed` to the conversations namespace (and the Pusher status
// channel), and the last_seen write to the store.
//
// In a cluster (apps/chat-server, docs/architecture.md) every node's instance keeps every
// node's counts: a change on this node is applied here and sent to the instance of every
// member as a delta tagged with this node's name; a member that comes up gets a snapshot.
// A user is present while the sum over the nodes is above zero, so a user with sockets on
// two nodes is one member. Each instance announces the transitions of its own copy to its
// own node's sockets only (broadcast::local()): every socket hears each joined / left /
// online / offline once, in an order consistent with the lists its node answers, and two
// nodes that see a user's first (or last) socket at the same moment cannot announce it
// twice (or not at all). A member that goes down is forgotten: its users whose count fell
// to zero leave (`user.left`, offline) on every surviving node, each for its own sockets.
//
// Takes (from this node's handlers):
//   presence_enter        -> presence_list (the room afterwards)   one more socket of a user in a room
//   presence_exit         -> caf::ok_atom                          one fewer
//   presence_query        -> presence_list
//   presence_count_query  -> presence_counts                       distinct users per room
//   online_enter, online_exit                                      a user's socket or Pusher connection
//   online_query          -> online_state
// Takes (from the other nodes' instances): presence_delta, online_delta, presence_snapshot.
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

/// A member of a presence room: user_info as JSON text (it crosses nodes as text).
struct presence_member {
  std::string user;
  std::string info;
  std::string connected_at; // when the user's first socket or connection entered
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, presence_member& x) {
  return f(caf::meta::type_name("presence_member"), x.user, x.info, x.connected_at);
}

struct presence_list {
  std::string room;
  std::vector<presence_member> members; // by user id
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, presence_list& x) {
  return f(caf::meta::type_name("presence_list"), x.room, x.members);
}

/// One more socket (or Pusher subscription) of `user` in presence room `room` of
/// namespace `nsp`; `except` is its own room, left out of the user.joined it may cause.
struct presence_enter {
  std::string nsp;
  std::string room;
  std::string user;
  std::string info; // user_info, JSON text
  std::string except;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, presence_enter& x) {
  return f(caf::meta::type_name("presence_enter"), x.nsp, x.room, x.user, x.info, x.except);
}

struct presence_exit {
  std::string nsp;
  std::string room;
  std::string user;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, presence_exit& x) {
  return f(caf::meta::type_name("presence_exit"), x.nsp, x.room, x.user);
}

struct presence_query {
  std::string room;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, presence_query& x) {
  return f(caf::meta::type_name("presence_query"), x.room);
}

struct presence_count_query {
  std::vector<std::string> rooms;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, presence_count_query& x) {
  return f(caf::meta::type_name("presence_count_query"), x.rooms);
}

/// Distinct users of each room asked, in the order asked.
struct presence_counts {
  std::vector<std::uint64_t> users;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, presence_counts& x) {
  return f(caf::meta::type_name("presence_counts"), x.users);
}

struct online_enter {
  std::string user;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, online_enter& x) {
  return f(caf::meta::type_name("online_enter"), x.user);
}

struct online_exit {
  std::string user;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, online_exit& x) {
  return f(caf::meta::type_name("online_exit"), x.user);
}

struct online_query {
  std::string user;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, online_query& x) {
  return f(caf::meta::type_name("online_query"), x.user);
}

struct online_state {
  std::string user;
  bool online = false;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, online_state& x) {
  return f(caf::meta::type_name("online_state"), x.user, x.online);
}

/// A presence room change on node `origin` (diff +1 / -1), with what a node that has not
/// seen the member yet needs to list it.
struct presence_delta {
  std::string origin;
  std::string nsp;
  std::string room;
  std::string user;
  std::string info;
  std::string connected_at;
  std::int32_t diff = 0;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, presence_delta& x) {
  return f(caf::meta::type_name("presence_delta"), x.origin, x.nsp, x.room, x.user, x.info, x.connected_at, x.diff);
}

/// An online count change on node `origin`, at `at_ms` (the last_seen an offline carries).
struct online_delta {
  std::string origin;
  std::string user;
  std::int32_t diff = 0;
  std::int64_t at_ms = 0;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, online_delta& x) {
  return f(caf::meta::type_name("online_delta"), x.origin, x.user, x.diff, x.at_ms);
}

/// A member's count on the node that sends a snapshot.
struct presence_count {
  std::string nsp;
  std::string room;
  std::string user;
  std::string info;
  std::string connected_at;
  std::int32_t sockets = 0;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, presence_count& x) {
  return f(caf::meta::type_name("presence_count"), x.nsp, x.room, x.user, x.info, x.connected_at, x.sockets);
}

struct online_count {
  std::string user;
  std::int32_t sockets = 0;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, online_count& x) {
  return f(caf::meta::type_name("online_count"), x.user, x.sockets);
}

/// Everything node `origin` counts, replacing what the receiver had from it. Sent to a
/// member when it comes up, with `answer_wanted` (the member answers with its own, so
/// both sides hold each other's counts whichever saw the other first).
struct presence_snapshot {
  std::string origin;
  std::vector<presence_count> rooms;
  std::vector<online_count> online;
  bool answer_wanted = false;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, presence_snapshot& x) {
  return f(caf::meta::type_name("presence_snapshot"), x.origin, x.rooms, x.online, x.answer_wanted);
}

// -- the actor -----------------------------------------------------------------------------

/// The name the instances offer each other under (node_info::services).
inline constexpr const char* presence_service = "presence";

struct presence_config {
  /// A namespace's broadcast handle (server::in), for the announcements.
  std::function<sio::broadcast(const std::string& nsp)> nsp;
  /// Where user.status.changed goes: the conversations namespace, and the Pusher channel
  /// that gets it too (empty: none).
  std::string status_nsp;
  std::string status_channel;
  /// The persistence actor (last_seen writes); may be null.
  caf::actor persistence;
  /// This node's cluster node actor; null on one node.
  caf::actor cluster;
};

caf::actor spawn_presence(caf::actor_system& sys, presence_config cfg);

/// Announces the presence messages to CAF (they cross nodes).
void announce_presence_types(caf::actor_system_config& cfg);

} // namespace chat
