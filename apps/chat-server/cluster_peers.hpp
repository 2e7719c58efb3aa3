// What an actor of the chat's replicated state (presence, room chat users, rate limit)
// knows of the cluster: its own node's name, the same service's instance on every other
// member, and the members seen going down, whose messages still in flight are dropped
// until the member is back (its next snapshot says so). Without a cluster it is empty and
// the actor works alone.
#pragma once

#include "actors/cluster_node.hpp"

#include <caf/all.hpp>

#include <map>
#include <set>
#include <string>

namespace chat {

class cluster_peers {
public:
  explicit cluster_peers(std::string service) : service_(std::move(service)) {}

  /// Offers `actor` to the members as this node's `service`. Called where it is spawned,
  /// so that the offer reaches the node actor before main's start_atom does (the node
  /// takes offers until it starts). Nothing without a node actor (one node).
  static void offer(const caf::actor& node, const std::string& service, const caf::actor& actor);

  /// Subscribes `self` to node_up / node_down. Nothing without a node actor.
  void join(caf::event_based_actor* self, caf::actor node);

  /// A member is up (again): the service's instance there when it is another node (send
  /// it a snapshot); null for this node (whose name it learns) or a member without the
  /// service.
  caf::actor up(const caf::event_based_actor* self, const sio::node_up& up);
  /// A member is down: whether it is another node (then forget what came from it, which
  /// may have come before its node_up did).
  bool down(const sio::node_down& down);

  /// Whether to take a message from `origin`: a member, not this node, not seen going down.
  bool accepts(const std::string& origin) const;
  /// `origin` sent a snapshot: it is (back) up, whatever was said of it before (its
  /// node_up may come after its snapshot).
  void back(const std::string& origin);

  /// This node's name (empty until the node actor said it, and without a cluster).
  const std::string& self_name() const { return self_name_; }
  const std::map<std::string, caf::actor>& peers() const { return peers_; }

  template <class Msg> void send_all(caf::event_based_actor* self, const Msg& m) const {
    for (auto& peer : peers_)
      self->send(peer.second, m);
  }

private:
  std::string service_;
  caf::actor node_;
  std::string self_name_;
  std::map<std::string, caf::actor> peers_;
  std::set<std::string> gone_;
};

} // namespace chat
