// TEMPORARY (branch t10-papi): a minimal pusher_server and server::rooms so that the
// Pusher HTTP API links before the lead's actors/pusher_server.cpp and server.cpp's rooms
// exist. No WebSocket route, no connections (terminate_user ends none), no rooms listed.
// DELETE this file when the real implementations are merged.
#include "actors/pusher_server.hpp"

namespace sio {

struct pusher_server::state {
  pusher::app_registry apps;
  std::string default_nsp;
};

pusher_server::pusher_server(server&, caf::actor_system&, pusher::app_registry apps, std::string default_nsp,
                             pusher_hooks)
    : state_(std::make_shared<state>(state{std::move(apps), std::move(default_nsp)})) {}

pusher_server::~pusher_server() = default;

const pusher::app_registry& pusher_server::apps() const {
  return state_->apps;
}

const std::string& pusher_server::nsp_of(const pusher::app& a) const {
  return a.nsp.empty() ? state_->default_nsp : a.nsp;
}

std::size_t pusher_server::terminate_user(const std::string&, const std::string&) {
  return 0;
}

void server::rooms(const std::string&, std::string, std::function<void(std::vector<room_summary>)> done) {
  done({});
}

} // namespace sio
