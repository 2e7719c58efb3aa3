// State shared by the engine front end and the connection actors: options, the
// namespace registry and the session registry. Lookups take a short lock; nothing on
// the broadcast path does (a socket keeps its namespace actor's handle).
#pragma once

#include "actors/activity.hpp"
#include "actors/api.hpp"
#include "actors/byte_budget.hpp"
#include "actors/pending_sessions.hpp"
#include "actors/recovery.hpp"
#include "transport/http/cors.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <unordered_map>
#include <vector>

namespace sio {

class cluster_directory;

struct server_options {
  std::string path = "/socket.io/";
  std::chrono::milliseconds ping_interval{25000};
  std::chrono::milliseconds ping_timeout{20000};
  std::chrono::milliseconds upgrade_timeout{10000};
  std::chrono::milliseconds connect_timeout{45000};
  std::size_t max_http_buffer_size = 1000000;
  /// Bytes a connection may have queued for its client before it is disconnected.
  std::size_t max_queue_bytes = 8 * 1024 * 1024;
  http::cors_options cors;
  /// A raw Engine.IO echo endpoint (no Socket.IO) at this path when not empty.
  std::string raw_engine_path;
  /// Serve Engine.IO v3 / Socket.IO v2 clients (ElephantIO Version2X, socket.io-client 2.x).
  bool allow_eio3 = true;
  /// Rooms one socket may be in (its own id room included); join() refuses past it.
  std::size_t max_rooms_per_socket = 1000;
  /// Sessions without a Socket.IO CONNECT yet, from one client address and in total; a
  /// handshake past either is refused with 403 (0: no limit).
  std::size_t max_pending_sessions_per_address = 256;
  std::size_t max_pending_sessions = 5000;
  /// Binary attachments one packet may announce; more closes the connection (parse error).
  std::size_t max_attachments = 64;
  /// Bytes of attachments held for incomplete packets, per connection and over the whole
  /// server; past either the connection is closed (0: no limit).
  std::size_t max_attachment_bytes = 8 * 1024 * 1024;
  std::size_t max_attachment_bytes_total = 256 * 1024 * 1024;
  /// Namespaces one connection may join; a CONNECT past it gets CONNECT_ERROR.
  std::size_t max_namespaces_per_connection = 32;
  /// socket.io-msgpack-parser instead of the default (text) parser, for every client.
  bool msgpack_parser = false;
  /// Connection state recovery (socket.io's connectionStateRecovery), off by default.
  recovery_options recovery;
};

/// An event handler a module declared for every socket of a namespace.
struct module_handler {
  std::string module;
  event_handler handler;
};

/// A namespace as the application declared it, before clients connect; read-only once
/// a socket holds it. Several modules may share it: their middlewares, connection and
/// disconnect handlers all run, in the order they were registered; each event name
/// belongs to one module (server::module_builder refuses a second).
struct namespace_def {
  std::string name; ///< the namespace, or the pattern of dynamic ones (for messages)
  std::vector<middleware> middlewares;
  std::vector<connection_handler> on_connection;
  std::unordered_map<std::string, module_handler> events;
  std::vector<disconnect_handler> on_disconnect;
};

enum class transport_kind : int { polling = 0, websocket = 1 };

/// What the front end knows of a session without asking its actor.
struct session_entry {
  caf::actor actor;
  std::atomic<int> transport{0};
  bool raw = false;
  /// Engine.IO protocol revision: 4, or 3 for Socket.IO v2 clients.
  int protocol = 4;
  /// v3 polling client that takes no binary payloads (b64=1).
  bool base64_only = false;
  /// The session's place among those without a CONNECT, until its actor takes it.
  pending_sessions::ticket_ptr pending;
};

struct server_core {
  server_core(caf::actor_system& s, server_options o)
      : sys(s), opts(std::move(o)),
        pending(std::make_shared<pending_sessions>(opts.max_pending_sessions_per_address, opts.max_pending_sessions)),
        attachment_bytes(opts.max_attachment_bytes_total) {}

  caf::actor_system& sys;
  const server_options opts;
  /// Sessions without a CONNECT yet (server::engine admits them).
  std::shared_ptr<pending_sessions> pending;
  /// Attachment bytes held for incomplete packets over every connection.
  byte_budget attachment_bytes;
  /// What happens to sockets, for whoever watches (the console's tail).
  std::shared_ptr<activity_feed> activity = std::make_shared<activity_feed>();

  // -- namespaces --
  struct namespace_entry {
    std::shared_ptr<const namespace_def> def;
    caf::actor actor;
  };
  std::mutex namespaces_mutex;
  std::unordered_map<std::string, std::shared_ptr<namespace_def>> defs;
  std::vector<std::pair<std::regex, std::shared_ptr<namespace_def>>> patterns;
  std::unordered_map<std::string, namespace_entry> namespaces;

  /// The namespace's definition and actor, spawning the actor on first use (exact names
  /// first, then patterns, which create dynamic namespaces). Nothing when unknown.
  std::optional<namespace_entry> find_namespace(const std::string& name);

  // -- the cluster (both empty without --cluster-listen; set before the front end starts) --
  /// This node's cluster node actor (actors/cluster_node.hpp).
  caf::actor cluster;
  /// The members, for threads outside actors (forwarding a session's requests).
  std::shared_ptr<cluster_directory> cluster_members;

  // -- the server API's service (actors/api_service.hpp): this node's half of the socket-set
  // verbs and of server_side_emit, offered to the members as "api". Set by server. --
  caf::actor api;
  /// This node's recovery actor (actors/recovery.hpp) with opts.recovery.enabled; set by server.
  caf::actor recovery;
  /// `recovery` is a store (server::set_recovery_store): connected sockets' records are
  /// written too, for their node's death.
  bool recovery_shared = false;
  std::mutex server_side_mutex;
  /// server::on_server_side's handlers, by namespace + '\n' + event.
  std::unordered_map<std::string, server_side_handler> server_side_handlers;

  // -- sessions --
  std::mutex sessions_mutex;
  std::unordered_map<std::string, std::shared_ptr<session_entry>> sessions;
  std::atomic<std::size_t> session_count{0};
  std::atomic<bool> shutting_down{false};
  /// server::drain(): new sessions and connections are refused (/health says so), the
  /// open ones were asked to move.
  std::atomic<bool> draining{false};

  // -- connections of other protocols (Pusher): closed at shutdown like sessions --
  std::mutex others_mutex;
  std::unordered_map<caf::actor_addr, caf::actor> others;
  void add_other(const caf::actor& a);
  void remove_other(const caf::actor_addr& a);
  std::size_t other_count();

  void add_session(const std::string& sid, std::shared_ptr<session_entry> entry);
  void remove_session(const std::string& sid);
  std::shared_ptr<session_entry> find_session(const std::string& sid);
  std::vector<caf::actor> all_sessions();
};

/// Spawns the connection actor of a new session, answering the handshake over polling.
caf::actor spawn_polling_connection(std::shared_ptr<server_core> core, std::shared_ptr<session_entry> entry,
                                    std::string sid, std::shared_ptr<const handshake_info> hs,
                                    http::reply_ptr handshake_reply);
/// Spawns the connection actor of a new session that starts on WebSocket.
caf::actor spawn_websocket_connection(std::shared_ptr<server_core> core, std::shared_ptr<session_entry> entry,
                                      std::string sid, std::shared_ptr<const handshake_info> hs, std::uint64_t channel,
                                      http::ws_channel_ptr ws);

} // namespace sio
