// The server facade: namespace registration, HTTP routes beside /socket.io/, broadcast
// handles usable from any thread, and a graceful shutdown.
#pragma once

#include "actors/api.hpp"
#include "actors/core.hpp"
#include "transport/http/server.hpp"

#include <memory>

namespace sio {

class server {
public:
  server(caf::actor_system& sys, server_options opts);
  ~server();

  /// One module's share of a namespace: its event handlers are declared once for every
  /// socket (nothing is registered per connection), and checked against the other
  /// modules' when declared.
  class module_builder {
  public:
    module_builder(std::shared_ptr<namespace_def> def, std::string module)
        : def_(std::move(def)), module_(std::move(module)) {}
    module_builder& use(middleware mw);
    module_builder& on_connection(connection_handler h);
    /// Throws handler_conflict when a module (this one included) already handles `event`
    /// on this namespace, std::invalid_argument for a reserved name ("connect", ...).
    module_builder& on(std::string event, event_handler h);
    module_builder& on_disconnect(disconnect_handler h);
    const std::string& name() const { return module_; }

  private:
    std::shared_ptr<namespace_def> def_;
    std::string module_;
  };

  class namespace_builder {
  public:
    explicit namespace_builder(std::shared_ptr<namespace_def> def) : def_(std::move(def)) {}
    namespace_builder& use(middleware mw);
    namespace_builder& on_connection(connection_handler h);
    /// A named module of this namespace (see module_builder).
    module_builder module(std::string name) const { return module_builder(def_, std::move(name)); }
    /// The module that handles `event` here, or nothing.
    std::optional<std::string> handler_of(const std::string& event) const;

  private:
    std::shared_ptr<namespace_def> def_;
  };

  /// Registers (or extends) a namespace. Register everything before clients connect.
  namespace_builder of(const std::string& name);
  /// Dynamic namespaces: every name matching the ECMAScript regex gets its own
  /// namespace actor, created on first connection, with these handlers.
  namespace_builder of_pattern(const std::string& regex);

  /// A broadcast to the whole namespace (narrow it with .to / .except). Empty when no
  /// such namespace is registered.
  broadcast in(const std::string& nsp);

  using route_handler = std::function<void(const http::request&, http::reply_ptr)>;
  /// An HTTP route beside the Engine.IO path ("GET", "/health"); a path ending in '*'
  /// matches every path with that prefix. The first matching route answers.
  void route(std::string method, std::string path, route_handler h);

  /// A WebSocket route beside the Engine.IO path: upgrades whose path starts with
  /// `prefix` are decided by `decide` (on the I/O thread, without blocking).
  using ws_route_handler = std::function<http::handler::upgrade_decision(const http::request&)>;
  void ws_route(std::string prefix, ws_route_handler decide);

  /// One room of a namespace as seen from outside: its name and member count.
  struct room_summary {
    std::string name;
    std::size_t members = 0;
  };
  /// The rooms of `nsp` whose names start with `prefix`, sockets' own-id rooms left out;
  /// `done` runs once, on an actor thread (empty when `nsp` is not registered). In a
  /// cluster: every member's rooms, members summed per room name; a member that does not
  /// answer within `timeout` is left out.
  void rooms(const std::string& nsp, std::string prefix, std::function<void(std::vector<room_summary>)> done,
             std::chrono::milliseconds timeout = default_api_timeout);

  // -- server-side events: between the nodes of a cluster, never to a client --

  /// Handles the server_side_emit(nsp, event, ...) of the other nodes (socket.io's
  /// `io.of(nsp).on(event, ...)` for serverSideEmit). One handler per namespace and event:
  /// a second throws handler_conflict; a reserved name throws std::invalid_argument.
  void on_server_side(const std::string& nsp, const std::string& event, server_side_handler h);
  /// socket.io's serverSideEmit: `event` with `m` to the handlers of every OTHER node
  /// (none without a cluster). With `done`, each handler's ack is awaited: `done` runs
  /// once, on an actor thread, with the answers that came within `timeout` (a node with no
  /// handler, a dead or slow one, or a handler that did not ack, is missing from them).
  using server_side_fn = std::function<void(std::vector<server_side_answer>)>;
  void server_side_emit(const std::string& nsp, const std::string& event, message m, server_side_fn done = {},
                        std::chrono::milliseconds timeout = default_api_timeout);

  /// Joins this server to its cluster node (actors/cluster_node.hpp), before the node
  /// starts: broadcasts go through it, and the API service is offered to the members.
  void join_cluster(caf::actor node);
  /// This node's name in the activity feed's items (a console tails every node).
  void set_node_name(std::string name);
  /// With connection state recovery on: keep its packets and sockets in `store` (the
  /// chat app's persistence actor, or its stand-in on a --store cluster node) instead of
  /// this node's memory, so recovery survives a restart and works on every node that
  /// reaches the store. Before any client connects.
  void set_recovery_store(caf::actor store);

  /// Whether `id` is a socket id made by another member of this node's cluster (its node
  /// part names a node that is or was a member): that socket's room is not a room anyone else may join, and a
  /// message to it crosses to its node. False without a cluster.
  bool is_member_socket_id(const std::string& id) const;

  /// The state the actors share, for other protocols' connections (Pusher).
  const std::shared_ptr<server_core>& core() const { return core_; }

  /// What to give to http::server.
  std::shared_ptr<http::handler> handler();

  /// With a cluster (core()->cluster set): offers this node's sessions to the members as
  /// the "sessions" service, so that a client's requests may land on any node (no sticky
  /// sessions). Call before the node actor's start_atom.
  void serve_cluster_sessions();

  /// Serves GET `path` in Prometheus' text format (actors/metrics.hpp).
  void serve_metrics(std::string path = "/metrics");

  /// Stops taking new sessions and Pusher connections (HTTP 403 / pusher:error 4200) and
  /// closes the open ones with an Engine.IO close, so that their clients reconnect, to
  /// another node behind a load balancer. The server keeps answering HTTP. Idempotent.
  void drain();
  bool draining() const;

  std::size_t connection_count() const;
  const server_options& options() const;

  /// Closes every session with "server shutting down" and waits (bounded) for them to end.
  void shutdown(std::chrono::milliseconds grace);

private:
  void cluster_rooms(const std::string& nsp, std::string prefix, std::function<void(std::vector<room_summary>)> done,
                     std::chrono::milliseconds timeout);

  class engine;
  std::shared_ptr<server_core> core_;
  std::shared_ptr<engine> engine_;
};

} // namespace sio
