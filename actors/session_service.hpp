// The "sessions" cluster service: serves requests and WebSockets that other nodes
// accepted for this node's Engine.IO sessions (a session id carries its node's number,
// so any node knows where to forward). It runs each one through the engine exactly as a
// request of this node's own front end (session_host):
// - forwarded_request -> forwarded_response: the engine answers through a reply whose
//   send() answers the CAF request (a long-polling GET answers when the session has
//   something to send, up to pingInterval later);
// - relay_attach -> relay_answer: the engine decides the upgrade; on yes, an endpoint
//   actor attaches a remote_ws_channel to the session and hands the client's messages
//   (relay_in) to it; it watches the relay and reports its end as the WebSocket's end.
//
// Takes only what admitted members send (it follows the node actor's node_up/node_down);
// anything else is refused.
#pragma once

#include "actors/core.hpp"

#include <caf/all.hpp>

#include <memory>

namespace sio {

/// The engine as the sessions service uses it (server::engine).
class session_host {
public:
  virtual ~session_host() = default;
  /// A polling request of the Engine.IO path, served as the front end serves its own
  /// (the front node applied CORS).
  virtual void serve_forwarded(http::request req, http::reply_ptr r) = 0;
  /// The decision on a WebSocket upgrade of the Engine.IO path that another node accepted.
  virtual http::handler::upgrade_decision decide_forwarded(const http::request& req) = 0;
};

/// Spawns the service; offer it to the cluster as "sessions" (register_service) before
/// the node actor starts.
caf::actor spawn_session_service(std::shared_ptr<server_core> core, std::shared_ptr<session_host> host);

} // namespace sio
