// Connection state recovery (socket.io 4.6's `connectionStateRecovery`): a client whose
// connection dropped comes back with its private id (`pid`) and the offset of the last
// event it got, and gets the same socket id, its rooms, its data and every event it
// missed, with `socket.recovered` true.
//
// The wire (README, "Connection state recovery"): with recovery on, the CONNECT answer
// carries {"sid", "pid"}; every EVENT without an ack id that is not volatile (broadcasts
// and a socket's own emits) carries a unique offset as its last argument; a client sends
// {pid, offset} in its CONNECT payload when it reconnects.
//
// The recovery actor (one per node) keeps what a restore needs: the packets that carried
// an offset (per namespace, in the order this node delivered them) and the sessions of
// sockets that left for a reason they may come back from (transport close or error, ping
// timeout, the server shutting down). Both are bounded: packets older than the window
// or past the byte budget are dropped (a client whose offset is gone starts afresh), as
// are sessions past the window or past the session budget (oldest first).
//
// The chat app's store can stand in for it (server::set_recovery_store): the persistence
// actor takes the same messages and keeps both in the database, so recovery survives a
// restart and works on every node that reaches that store (actors/persistence_actor.hpp).
// Then the connection also writes a connected socket's record (recovery_live) at its
// connect and at each join or leave, with its node's id prefix, so a socket whose node
// died can come back elsewhere: when a node is gone (at its node_down on the others, or at
// its own restart) the store parks its connected sockets (chat::close_open_connections),
// and only parked sockets can be claimed: a client back before its old socket left gets
// a fresh one, never the id of a socket still connected.
//
// Takes (sent with anon_send: nothing answers but the claim):
//   recovery_append -> (nothing)         a packet that went out with an offset
//   recovery_park   -> (nothing)         a socket that may come back
//   recovery_live   -> (nothing)         a connected socket's record (a store keeps it;
//                                        this actor, whose node dies with its sockets, not)
//   recovery_forget -> (nothing)         a socket that will not come back
//   recovery_claim  -> recovery_claimed  its session and missed packets, once; an error
//                                        when there is nothing to restore
#pragma once

#include "actors/messages.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sio {

struct recovery_options {
  bool enabled = false;
  /// How long a socket that left may come back (socket.io's maxDisconnectionDuration).
  std::chrono::milliseconds max_disconnection{120000};
  /// A restored socket skips the namespace's middlewares (socket.io's skipMiddlewares).
  bool skip_middlewares = true;
  /// Bytes of packets kept for restores over all namespaces; the oldest go first.
  std::size_t max_log_bytes = 64 * 1024 * 1024;
  /// Sessions kept; the oldest go first.
  std::size_t max_sessions = 100000;
  /// Packets one restore may replay; more and the client starts afresh.
  std::size_t max_replay = 10000;
  /// Packets a store keeps at most (the oldest go first), over all namespaces.
  std::size_t max_stored_packets = 1000000;
};

/// What a parked socket had: enough to be the same socket again.
struct recovery_session {
  std::string pid;
  std::string nsp;
  std::string sid;
  std::vector<std::string> rooms;
  std::string data; ///< the socket's data, serialized JSON
  std::int64_t disconnected_at_ms = 0;
  /// recovery_live only: the id prefix (id_prefix) of the node that holds the socket. A
  /// store parks a node's connected sockets when the node is gone (close_open_connections).
  std::string node{};
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, recovery_session& x) {
  return f(caf::meta::type_name("recovery_session"), x.pid, x.nsp, x.sid, x.rooms, x.data, x.disconnected_at_ms,
           x.node);
}

/// A packet sent with `offset`: to the namespace (no rooms) or to the union of `rooms`,
/// minus the members of `except`, as the broadcast that made it.
struct recovery_append {
  std::string nsp;
  std::string offset;
  std::vector<std::string> rooms;
  std::vector<std::string> except;
  shared_frame frame;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, recovery_append& x) {
  return f(caf::meta::type_name("recovery_append"), x.nsp, x.offset, x.rooms, x.except, x.frame);
}

struct recovery_park {
  recovery_session session;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, recovery_park& x) {
  return f(caf::meta::type_name("recovery_park"), x.session);
}

/// A connected socket's record, for a store shared by several nodes.
struct recovery_live {
  recovery_session session; ///< disconnected_at_ms 0
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, recovery_live& x) {
  return f(caf::meta::type_name("recovery_live"), x.session);
}

struct recovery_forget {
  std::string pid;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, recovery_forget& x) {
  return f(caf::meta::type_name("recovery_forget"), x.pid);
}

/// A CONNECT that names a session: `offset` is the last one the client got.
struct recovery_claim {
  std::string nsp;
  std::string pid;
  std::string offset;
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, recovery_claim& x) {
  return f(caf::meta::type_name("recovery_claim"), x.nsp, x.pid, x.offset);
}

struct recovery_claimed {
  recovery_session session;
  std::vector<shared_frame> missed; ///< in the order they were sent
};
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, recovery_claimed& x) {
  return f(caf::meta::type_name("recovery_claimed"), x.session, x.missed);
}

/// Why a claim found nothing to restore (the client then connects afresh, as in socket.io).
enum class recovery_errc : std::uint8_t { unknown_session = 1, expired, offset_unknown, too_many };
std::string to_string(recovery_errc x);
caf::error make_error(recovery_errc x);

/// Whether a socket in `session_rooms` gets a packet sent to `rooms` except `except`
/// (socket.io-adapter's shouldIncludePacket).
bool recovery_includes(const std::vector<std::string>& session_rooms, const std::vector<std::string>& rooms,
                       const std::vector<std::string>& except);

/// Whether a socket that left for `reason` may come back (socket.io's
/// RECOVERABLE_DISCONNECT_REASONS, in our words for them).
bool recoverable_disconnect(std::string_view reason);

caf::actor spawn_recovery(caf::actor_system& sys, recovery_options opts);

void announce_recovery_types(caf::actor_system_config& cfg);

} // namespace sio
