// Connection actor: one per Engine.IO session. It composes the Engine.IO session
// (actors/engineio_session: handshake, heartbeat, polling outbox, upgrade, close) and the
// Socket.IO client (actors/socketio_client: sockets, dispatch, acks), so one client's
// events stay in order while different clients run in parallel.
//
// Takes: ws_in, ws_gone, ws_attach, poll_get, poll_post (from the front end);
//        deliver, close_request (from namespaces, rooms and the server);
//        (describe_socket) -> remote_socket, (update_socket) -> ok_atom (the server API);
//        its own timers: ping_atom, ping_timeout_atom, connect_timeout_atom,
//        ack_timeout_atom, upgrade_timeout_atom, probe_tick_atom, close_timeout_atom,
//        flush_atom;
//        overcap_atom (from a delivery sink whose write queue passed its cap).
#pragma once

#include "actors/core.hpp"
#include "actors/engineio_session.hpp"
#include "actors/messages.hpp"
#include "actors/socketio_client.hpp"

namespace sio {

class connection_state {
public:
  using self_ptr = caf::stateful_actor<connection_state>*;
  static inline const char* name = "connection";

  explicit connection_state(self_ptr self) : client_(self, session_), session_(self, client_) {}

  caf::behavior start(std::shared_ptr<server_core> core, std::shared_ptr<session_entry> entry, std::string sid,
                      std::shared_ptr<const handshake_info> hs);

  engineio_session& session() { return session_; }

private:
  // The session reports to the client and the client writes through the session; each
  // holds a reference to the other, set up here before either runs. The client comes
  // first: the session binds it as its `owner` base, which needs a constructed object.
  socketio_client client_;
  engineio_session session_;
};

} // namespace sio
