#include "apps/chat-server/cluster_peers.hpp"

namespace chat {

void cluster_peers::offer(const caf::actor& node, const std::string& service, const caf::actor& actor) {
  if (node)
    caf::anon_send(node, sio::register_service{service, actor});
}

void cluster_peers::join(caf::event_based_actor* self, caf::actor node) {
  node_ = std::move(node);
  // With a sender: the node takes subscriptions only from actors of its own process (it
  // answers none, so nothing lands in our behavior).
  if (node_)
    self->send(node_, sio::subscribe_atom::value, caf::actor_cast<caf::actor>(self));
}

caf::actor cluster_peers::up(const caf::event_based_actor* self, const sio::node_up& up) {
  auto& info = up.info;
  auto service = info.services.find(service_);
  bool mine = service != info.services.end() && service->second.address() == self->address();
  if ((node_ && info.node == node_) || mine) {
    self_name_ = info.name;
    return {};
  }
  gone_.erase(info.name);
  if (service == info.services.end() || !service->second)
    return {};
  peers_[info.name] = service->second;
  return service->second;
}

bool cluster_peers::down(const sio::node_down& down) {
  if (down.name == self_name_)
    return false;
  gone_.insert(down.name);
  peers_.erase(down.name);
  return true;
}

bool cluster_peers::accepts(const std::string& origin) const {
  return !origin.empty() && origin != self_name_ && !gone_.count(origin);
}

void cluster_peers::back(const std::string& origin) {
  gone_.erase(origin);
}

} // namespace chat
