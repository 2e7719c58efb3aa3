// The cluster node actor: one per chat-server process started with --cluster-listen. It
// publishes itself over CAF's middleman (BASP; libcaf_openssl when a certificate is
// given), joins the members named by --cluster-seeds, admits nodes that prove they know
// the cluster secret, and keeps every member's node actor and services (full mesh: each
// node links to each other). It detects a member's death by CAF's down signal on the link
// and by heartbeats (--cluster-failure-timeout), and tells local subscribers (node_up,
// node_down) so that they can forget what lived there.
//
// Broadcasts: a namespace actor hands every broadcast that did not come from a peer to
// its node (cluster_broadcast); the node sends it once to each member that has sockets in
// one of the target rooms (the room interest table, fed by room_interest from the
// namespace actors and mirrored to every member) or, for a whole-namespace broadcast, to
// every member. A member's node hands it to its own namespace actor as a `local`
// broadcast. So each frame crosses to a node once, and each socket gets it once (a
// socket's rooms live on its own node, where `except` is applied).
//
// Takes (local):  (subscribe_atom, actor)      the subscriber gets node_up for each member,
//                                               then node_up / node_down as they change
//                 register_service              before start_atom: offered to members
//                 start_atom                    publish, then join the seeds
//                 (members_atom) -> std::vector<node_info>, this node first
//                 cluster_broadcast, room_interest
//                 (rooms_query, nsp) -> room_list   this node's rooms (members may ask too)
//                 (leave_atom)  -> ok_atom      tells every member this node leaves (SIGTERM)
//                 (shutdown_atom) -> ok_atom    ends the services offered, then the node
// Takes (from members, after admission):
//                 cluster_broadcast, room_interest, interest_snapshot,
//                 (heartbeat_atom), (leave_atom, name)
// Takes (from anyone): (challenge_atom) -> std::string nonce; join_request -> join_answer
// Everything else from a node that was not admitted is dropped and logged.
#pragma once

#include "actors/core.hpp"
#include "actors/messages.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sio {

using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using members_atom = caf::atom_constant<caf::atom("members")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;
using challenge_atom = caf::atom_constant<caf::atom("challenge")>;
using tick_atom = caf::atom_constant<caf::atom("ctick")>;

struct cluster_options {
  /// This node's name (--node-id); its number (the hash that session ids carry) is
  /// node_number(name).
  std::string node_name;
  /// Where to publish the node actor; port 0 picks one.
  std::string listen_host;
  std::uint16_t listen_port = 0;
  /// host:port of members to join through (any one that answers is enough).
  std::vector<std::pair<std::string, std::uint16_t>> seeds;
  std::string secret;
  /// PEM files: links over TLS (libcaf_openssl) when both are set.
  std::string tls_cert;
  std::string tls_key;
  std::chrono::milliseconds failure_timeout{5000};
};

/// The number a node name maps to (FNV-1a, never 0); session and socket ids carry it.
std::uint32_t node_number(const std::string& name);

/// A member as the others know it.
struct node_info {
  std::string name;
  std::uint32_t number = 0;
  std::string address; // host:port of its published node actor
  caf::actor node;
  /// Actors the node offers to the cluster by name: "store" (the persistence actor of
  /// the node that holds the store), "presence", "sessions", ...
  std::map<std::string, caf::actor> services;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, node_info& x) {
  return f(caf::meta::type_name("node_info"), x.name, x.number, x.address, x.node, x.services);
}

/// To local subscribers: a member joined (or this node, first, on subscribe).
struct node_up {
  node_info info;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, node_up& x) {
  return f(caf::meta::type_name("node_up"), x.info);
}

/// To local subscribers: a member is gone. `reason` is "left" (it said so) or "failed"
/// (link down, or no heartbeat within the failure timeout).
struct node_down {
  std::string name;
  std::uint32_t number = 0;
  std::string reason;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, node_down& x) {
  return f(caf::meta::type_name("node_down"), x.name, x.number, x.reason);
}

struct register_service {
  std::string name;
  caf::actor actor;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, register_service& x) {
  return f(caf::meta::type_name("register_service"), x.name, x.actor);
}

/// Admission: `proof` is HMAC-SHA256(secret, "join|" + nonce the member gave + "|" +
/// who.name), hex; `nonce` is the joiner's challenge to the member.
struct join_request {
  node_info who;
  std::string nonce;
  std::string proof;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, join_request& x) {
  return f(caf::meta::type_name("join_request"), x.who, x.nonce, x.proof);
}

/// The member's answer: itself, its proof (HMAC(secret, "welcome|" + joiner's nonce +
/// "|" + self.name)) and every member it knows, which the joiner joins in turn.
struct join_answer {
  node_info self;
  std::string proof;
  std::vector<node_info> members;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, join_answer& x) {
  return f(caf::meta::type_name("join_answer"), x.self, x.proof, x.members);
}

/// A broadcast that leaves its node: from a namespace actor to its node, and from node
/// to node.
struct cluster_broadcast {
  std::string nsp;
  broadcast_request req;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, cluster_broadcast& x) {
  return f(caf::meta::type_name("cluster_broadcast"), x.nsp, x.req);
}

/// This node got its first socket in `room` of `nsp` (add) or lost its last.
struct room_interest {
  std::string nsp;
  std::string room;
  bool add = false;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, room_interest& x) {
  return f(caf::meta::type_name("room_interest"), x.nsp, x.room, x.add);
}

/// Every (namespace, room) a node has members in, sent to a member when it is admitted.
struct interest_snapshot {
  std::map<std::string, std::vector<std::string>> rooms;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, interest_snapshot& x) {
  return f(caf::meta::type_name("interest_snapshot"), x.rooms);
}

/// The members as threads outside actors see them (the HTTP front end forwards a
/// session's requests to the node its id names). Written by the node actor only.
class cluster_directory {
public:
  void put(const node_info& n);
  void remove(std::uint32_t number);
  std::optional<node_info> find(std::uint32_t number) const;
  /// Every live member, this node included.
  std::vector<node_info> members() const;
  /// Whether `number` was ever a member (a node gone for a while keeps its ids' meaning:
  /// a socket id of it is still no room for anyone else to join). At most one entry per
  /// admitted node name.
  bool ever_member(std::uint32_t number) const;
  std::uint32_t self_number() const { return self_; }
  void set_self(std::uint32_t n) { self_ = n; }

private:
  mutable std::mutex mutex_;
  std::map<std::uint32_t, node_info> members_;
  std::set<std::uint32_t> ever_;
  std::uint32_t self_ = 0;
};

/// Spawns the node actor (it does nothing until start_atom). `core` gives it the
/// namespaces peers' broadcasts go to and receives the directory (core->cluster*).
caf::actor spawn_cluster_node(caf::actor_system& sys, std::shared_ptr<server_core> core, cluster_options opts);

/// Answers being collected from `left` requests: `done` runs once, with those that came,
/// when the last one came in or failed (gather, and the API service's per-socket asks).
template <class Reply> struct pending_answers {
  std::vector<Reply> answers;
  std::size_t left = 0;
  std::function<void(std::vector<Reply>)> done;
  void one_less() {
    if (--left == 0)
      done(std::move(answers));
  }
};

/// Asks `targets` the same request and calls `done` once, on an actor thread, with the
/// answers that came within `timeout` (failures and late ones left out).
template <class Reply, class Request>
void gather(caf::actor_system& sys, std::vector<caf::actor> targets, Request req, std::chrono::milliseconds timeout,
            std::function<void(std::vector<Reply>)> done) {
  using pending = pending_answers<Reply>;
  // Arguments go through spawn: CAF 0.17 binds a null tuple for an argument-less spawn.
  sys.spawn(
      [](caf::event_based_actor* self, std::vector<caf::actor> targets, Request req, std::chrono::milliseconds timeout,
         std::function<void(std::vector<Reply>)> done) {
        if (targets.empty())
          return done({});
        auto p = std::make_shared<pending>();
        p->left = targets.size();
        p->done = std::move(done);
        for (auto& t : targets)
          self->request(t, timeout, req).then([p](Reply& r) {
            p->answers.push_back(std::move(r));
            p->one_less();
          },
                                              [p](caf::error&) { p->one_less(); });
      },
      std::move(targets), std::move(req), timeout, std::move(done));
}

void announce_cluster_types(caf::actor_system_config& cfg);

} // namespace sio
