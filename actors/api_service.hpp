// The server API's service: one actor per node that answers for this node's share of the
// C++ API's cluster-wide verbs (actors/api.hpp), as socket.io's adapters answer
// fetchSockets, addSockets, delSockets, disconnectSockets and serverSideEmit for theirs.
// The calling node asks every member's service (gather, actors/cluster_node.hpp) and merges
// the answers; without a cluster, or for a `local()` broadcast, it asks only its own.
// Offered to the members as the cluster service "api".
//
// For the socket-set verbs it asks the namespace actor which sockets match (select_sockets:
// rooms and except evaluated here, as for a broadcast), then each socket's connection
// actor (describe_socket, update_socket), which owns the socket's rooms. Each of those two
// steps waits at most a third of the caller's timeout, so this node's answer reaches the
// caller in time even when one connection does not answer (that socket is left out).
//
// Takes (from this node or an admitted member; others get an error):
//   fetch_sockets_request  -> remote_socket_list   this node's matching sockets
//   update_sockets_request -> std::uint64_t        sockets that did it
//   server_side_request    -> server_side_reply    once the handler acks (an error when
//                                                  this node has no handler for it)
// Takes (from this node): server_side_ack, (expire_atom, id)
#pragma once

#include "actors/api.hpp"
#include "actors/core.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sio {

/// The sockets a verb is about, as a broadcast names them.
struct socket_selector {
  std::string nsp;
  std::vector<std::string> rooms;
  std::vector<std::string> except;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, socket_selector& x) {
  return f(caf::meta::type_name("socket_selector"), x.nsp, x.rooms, x.except);
}

struct fetch_sockets_request {
  socket_selector sockets;
  std::int64_t timeout_ms = 0; // the caller's: this node answers within it
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, fetch_sockets_request& x) {
  return f(caf::meta::type_name("fetch_sockets_request"), x.sockets, x.timeout_ms);
}

struct remote_socket_list {
  std::vector<remote_socket> sockets;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, remote_socket_list& x) {
  return f(caf::meta::type_name("remote_socket_list"), x.sockets);
}

/// sockets_join / sockets_leave (`rooms`) or disconnect_sockets (`close`).
struct update_sockets_request {
  socket_selector sockets;
  socket_update_kind kind = socket_update_kind::join;
  std::vector<std::string> rooms;
  bool close = false;
  std::int64_t timeout_ms = 0;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, update_sockets_request& x) {
  return f(caf::meta::type_name("update_sockets_request"), x.sockets, x.kind, x.rooms, x.close, x.timeout_ms);
}

/// server_side_emit's event: `args` is the arguments' JSON array as text, with the binary
/// attachments its placeholders index.
struct server_side_request {
  std::string nsp;
  std::string event;
  std::string args;
  std::vector<std::string> attachments;
  bool wants_ack = false;
  std::int64_t timeout_ms = 0; // how long the receiver keeps waiting for its handler's ack
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, server_side_request& x) {
  return f(caf::meta::type_name("server_side_request"), x.nsp, x.event, x.args, x.attachments, x.wants_ack,
           x.timeout_ms);
}

struct server_side_reply {
  std::string node;
  std::string args; // JSON array as text
  std::vector<std::string> attachments;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, server_side_reply& x) {
  return f(caf::meta::type_name("server_side_reply"), x.node, x.args, x.attachments);
}

/// A handler's ack, back in the service from wherever the handler called it.
struct server_side_ack {
  std::uint64_t id = 0;
  server_side_reply reply;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, server_side_ack& x) {
  return f(caf::meta::type_name("server_side_ack"), x.id, x.reply);
}

/// A message as server_side_request / server_side_reply carry it (args not a JSON array
/// text: no args).
message message_of(const std::string& args, std::vector<std::string> attachments);

/// The service holds the core weakly: the core holds the service.
caf::actor spawn_api_service(caf::actor_system& sys, std::weak_ptr<server_core> core);

/// The service `name` of every other member (none without a cluster).
std::vector<caf::actor> member_services(const server_core& core, const std::string& name);

/// The API services to ask: this node's (with `self`) and every other member's (with
/// `others`, in a cluster).
std::vector<caf::actor> api_services(server_core& core, bool self, bool others);

/// This node's name in the cluster (empty without one).
std::string node_name(const server_core& core);

/// Whether the message `self` handles comes from an actor of this node or of an admitted
/// member (an anonymous message is from neither).
bool from_member(caf::local_actor* self, const server_core& core);

void announce_api_types(caf::actor_system_config& cfg);

} // namespace sio
