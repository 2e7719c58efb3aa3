// The relay actor: a client's WebSocket accepted on this node for a session that lives on
// another (an upgrade from polling whose request landed here). It owns the client's
// connection and carries it over the cluster link:
// - asks the owner's "sessions" service to attach (relay_attach); the client's messages
//   wait here until the owner's endpoint is known (flow control holds the client meanwhile:
//   a message counts as handled only once the owner's session says so, relay_consumed);
// - the client's messages go to the endpoint (relay_in), its end too (relay_gone);
// - the owner's frames (relay_frames) go to the client's write queue; the owner's close and
//   abort close or drop the connection;
// - a refused attach, the owner's death (its node's link down) or this node's shutdown
//   closes the client's WebSocket, so the client reconnects.
//
// Takes ws_in, ws_gone (from its actor_sink), close_request (shutdown) and, from the
// owner's node only, relay_frames, relay_close, relay_abort_atom, relay_consumed.
#pragma once

#include "actors/core.hpp"
#include "actors/forwarding_messages.hpp"

#include <caf/actor.hpp>

#include <memory>

namespace sio {

/// The sink for the accepted WebSocket `ws`: its messages go to a new relay actor that
/// attaches it to the session the upgrade request `upgrade` names on `owner` (a
/// "sessions" service).
std::shared_ptr<http::ws_sink> relay_websocket(std::shared_ptr<server_core> core, caf::actor owner,
                                               forwarded_request upgrade, http::ws_channel_ptr ws);

} // namespace sio
