// The front node's side of serving a session that lives on another node (no sticky
// sessions): which member owns a request's session, and a polling request sent there.
// WebSockets are relayed by actors/ws_relay; the owner's side is actors/session_service.
#pragma once

#include "actors/core.hpp"

#include <caf/actor.hpp>

#include <memory>

namespace sio {

/// The "sessions" service of the member whose number the request's sid carries, when
/// that is another live member; null otherwise (no sid, this node's session, no cluster,
/// or a member that is gone: the engine then answers as it does for any unknown sid).
caf::actor session_owner(const server_core& core, const http::request& req);

/// Sends the request to `owner` and answers `r` with the owner's answer. A long-polling
/// GET waits as long as the owner keeps it (up to pingInterval); past pingInterval +
/// pingTimeout, or when the owner dies first, the answer is the engine's "Session ID
/// unknown" (the client reconnects).
void forward_request(const std::shared_ptr<server_core>& core, caf::actor owner, http::request req, http::reply_ptr r);

/// The engine's answer for a session that is gone (400, code 1).
http::response session_gone();

} // namespace sio
