#include "actors/server.hpp"
#include "actors/gauges.hpp"
#include "actors/metrics.hpp"

#include "actors/actor_sink.hpp"
#include "actors/api_service.hpp"
#include "actors/cluster_node.hpp"
#include "actors/connection.hpp"
#include "actors/forwarding.hpp"
#include "actors/ids.hpp"
#include "actors/namespace_actor.hpp"
#include "actors/session_service.hpp"
#include "actors/ws_relay.hpp"
#include "transport/engineio/packet.hpp"
#include "transport/socketio/packet.hpp"

#include <spdlog/spdlog.h>

#include <thread>

namespace sio {

namespace eio = engineio;

// -- server_core -------------------------------------------------------------------

std::optional<server_core::namespace_entry> server_core::find_namespace(const std::string& name) {
  std::lock_guard<std::mutex> guard(namespaces_mutex);
  auto it = namespaces.find(name);
  if (it != namespaces.end())
    return it->second;
  std::shared_ptr<namespace_def> def;
  if (auto d = defs.find(name); d != defs.end()) {
    def = d->second;
  } else {
    for (auto& [pattern, pdef] : patterns) {
      if (std::regex_match(name, pattern)) {
        def = pdef;
        break;
      }
    }
  }
  if (!def || shutting_down)
    return std::nullopt;
  namespace_entry entry{def, sys.spawn(namespace_actor, name, cluster, activity, recovery)};
  namespaces.emplace(name, entry);
  return entry;
}

void server_core::add_other(const caf::actor& a) {
  std::lock_guard<std::mutex> guard(others_mutex);
  others.emplace(a.address(), a);
}

void server_core::remove_other(const caf::actor_addr& a) {
  std::lock_guard<std::mutex> guard(others_mutex);
  others.erase(a);
}

std::size_t server_core::other_count() {
  std::lock_guard<std::mutex> guard(others_mutex);
  return others.size();
}

void server_core::add_session(const std::string& sid, std::shared_ptr<session_entry> entry) {
  std::lock_guard<std::mutex> guard(sessions_mutex);
  if (sessions.emplace(sid, std::move(entry)).second)
    ++session_count;
}

void server_core::remove_session(const std::string& sid) {
  std::lock_guard<std::mutex> guard(sessions_mutex);
  if (sessions.erase(sid))
    --session_count;
}

std::shared_ptr<session_entry> server_core::find_session(const std::string& sid) {
  std::lock_guard<std::mutex> guard(sessions_mutex);
  auto it = sessions.find(sid);
  return it == sessions.end() ? nullptr : it->second;
}

std::vector<caf::actor> server_core::all_sessions() {
  std::lock_guard<std::mutex> guard(sessions_mutex);
  std::vector<caf::actor> out;
  out.reserve(sessions.size());
  for (auto& [sid, entry] : sessions)
    out.push_back(entry->actor);
  return out;
}

namespace {

// Spawned with arguments rather than captures: CAF 0.17 dereferences a null argument
// tuple for argument-less spawns, which UBSan reports. CAF keeps the arguments for the
// actor's lifetime, so they are small: the handshake is shared, and the polling reply
// travels in a box the actor empties (else it would hold the HTTP session).
using reply_box = std::shared_ptr<http::reply_ptr>;

caf::behavior polling_connection(caf::stateful_actor<connection_state>* self, std::shared_ptr<server_core> core,
                                 std::shared_ptr<session_entry> entry, std::string sid,
                                 std::shared_ptr<const handshake_info> hs, reply_box handshake_reply) {
  auto behavior = self->state.start(std::move(core), std::move(entry), std::move(sid), std::move(hs));
  self->state.session().answer_handshake(std::move(*handshake_reply));
  handshake_reply->reset();
  return behavior;
}

caf::behavior websocket_connection(caf::stateful_actor<connection_state>* self, std::shared_ptr<server_core> core,
                                   std::shared_ptr<session_entry> entry, std::string sid,
                                   std::shared_ptr<const handshake_info> hs, std::uint64_t channel,
                                   http::ws_channel_ptr ws) {
  auto behavior = self->state.start(std::move(core), std::move(entry), std::move(sid), std::move(hs));
  self->state.session().start_websocket(channel, std::move(ws));
  return behavior;
}

} // namespace

caf::actor spawn_polling_connection(std::shared_ptr<server_core> core, std::shared_ptr<session_entry> entry,
                                    std::string sid, std::shared_ptr<const handshake_info> hs,
                                    http::reply_ptr handshake_reply) {
  auto& sys = core->sys;
  return sys.spawn(polling_connection, std::move(core), std::move(entry), std::move(sid), std::move(hs),
                   std::make_shared<http::reply_ptr>(std::move(handshake_reply)));
}

caf::actor spawn_websocket_connection(std::shared_ptr<server_core> core, std::shared_ptr<session_entry> entry,
                                      std::string sid, std::shared_ptr<const handshake_info> hs, std::uint64_t channel,
                                      http::ws_channel_ptr ws) {
  auto& sys = core->sys;
  return sys.spawn(websocket_connection, std::move(core), std::move(entry), std::move(sid), std::move(hs), channel,
                   std::move(ws));
}

// -- engine: the front end's handler -----------------------------------------------------

namespace {

/// Adds the CORS headers of the request being answered.
class cors_reply final : public http::reply {
public:
  cors_reply(http::reply_ptr inner, const http::cors_options& opts, const http::request& req)
      : inner_(std::move(inner)), opts_(opts) {
    if (auto* origin = req.header("origin"))
      probe_.headers.emplace_back("origin", *origin);
  }
  void send(http::response r) override {
    http::apply_cors(opts_, probe_, r);
    inner_->send(std::move(r));
  }
  bool closed() const override { return inner_->closed(); }

private:
  http::reply_ptr inner_;
  const http::cors_options& opts_;
  http::request probe_;
};

/// Forwards a WebSocket's messages to its connection actor.
int protocol_of(const http::request& req) {
  auto* v = req.param("EIO");
  return v && *v == "3" ? 3 : 4;
}

http::response refusal(eio::error_code code) {
  return http::response::json(eio::error_status(code), eio::error_body(code));
}

/// A handshake past a pending-session limit, refused as engine.io's `allowRequest` would.
http::response refusal(pending_sessions::verdict why) {
  auto message = why == pending_sessions::verdict::too_many_from_address ? "Too many pending sessions from this address"
                                                                         : "Too many pending sessions";
  return http::response::json(eio::error_status(eio::error_code::forbidden),
                              eio::error_body(eio::error_code::forbidden, message));
}

handshake_info make_handshake(const http::request& req) {
  handshake_info hs;
  hs.address = req.remote_address;
  hs.headers = req.headers;
  hs.query = req.query;
  hs.url = req.target;
  hs.issued_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  return hs;
}

} // namespace

/// Counts the answer by route and status for /metrics (actors/metrics.hpp).
class counted_reply final : public http::reply {
public:
  counted_reply(http::reply_ptr inner, std::string_view route) : inner_(std::move(inner)), route_(route) {}
  void send(http::response r) override {
    metrics::global().http_request(route_, r.status);
    inner_->send(std::move(r));
  }
  bool closed() const override { return inner_->closed(); }

private:
  http::reply_ptr inner_;
  std::string_view route_; // a route's pattern, alive as long as the server
};

class server::engine final : public http::handler, public session_host {
public:
  explicit engine(std::shared_ptr<server_core> core) : core_(std::move(core)) {}

  struct route {
    std::string method;
    std::string path;
    route_handler fn;
  };
  std::vector<route> routes;

  void on_request(http::request req, http::reply_ptr r) override {
    auto& opts = core_->opts;
    if (auto pre = http::preflight(opts.cors, req))
      return r->send(std::move(*pre));
    bool raw = !opts.raw_engine_path.empty() && req.path == opts.raw_engine_path;
    if (req.path == opts.path || raw)
      return on_engine_request(std::move(req),
                               std::make_shared<cors_reply>(std::make_shared<counted_reply>(std::move(r), "engine.io"),
                                                            opts.cors, req),
                               raw);
    // HEAD is GET without the body (HEAD /health for load balancers; the front end sends
    // the headers only).
    bool head = req.method == "HEAD";
    for (auto& rt : routes) {
      bool path_ok = !rt.path.empty() && rt.path.back() == '*'
                         ? req.path.compare(0, rt.path.size() - 1, rt.path, 0, rt.path.size() - 1) == 0
                         : rt.path == req.path;
      if (path_ok && (rt.method == req.method || (head && rt.method == "GET"))) {
        r = std::make_shared<counted_reply>(std::move(r), rt.path);
        auto wrapped = std::make_shared<cors_reply>(std::move(r), opts.cors, req);
        try {
          return rt.fn(req, wrapped);
        } catch (const std::exception& e) {
          spdlog::error("route {} threw: {}", rt.path, e.what());
          return wrapped->send(http::response::json(500, R"({"error":"internal error"})"));
        }
      }
    }
    metrics::global().http_request("other", 404);
    r->send(http::response::json(404, R"({"error":"not found"})"));
  }

  struct ws_route {
    std::string prefix;
    ws_route_handler decide;
  };
  std::vector<ws_route> ws_routes;

  upgrade_decision on_upgrade(const http::request& req) override {
    bool raw = false;
    if (!engine_path(req, raw)) {
      for (auto& rt : ws_routes)
        if (req.path.compare(0, rt.prefix.size(), rt.prefix) == 0)
          return rt.decide(req);
      return not_found_upgrade();
    }
    if (auto owner = session_owner(*core_, req))
      return relay_upgrade(req, std::move(owner));
    return decide_upgrade(req, raw);
  }

  // -- session_host: what other nodes forward here for this node's sessions --

  void serve_forwarded(http::request req, http::reply_ptr r) override {
    bool raw = false;
    if (!engine_path(req, raw))
      return r->send(not_found());
    serve(std::move(req), std::move(r), raw);
  }

  upgrade_decision decide_forwarded(const http::request& req) override {
    bool raw = false;
    if (!engine_path(req, raw))
      return not_found_upgrade();
    return decide_upgrade(req, raw);
  }

private:
  static http::response not_found() { return http::response::json(404, R"({"error":"not found"})"); }
  static upgrade_decision not_found_upgrade() {
    upgrade_decision d;
    d.refuse = not_found();
    return d;
  }

  /// Whether `req` is for the Engine.IO path, or (`raw`) the raw echo endpoint's.
  bool engine_path(const http::request& req, bool& raw) const {
    auto& opts = core_->opts;
    raw = !opts.raw_engine_path.empty() && req.path == opts.raw_engine_path;
    return raw || req.path == opts.path;
  }

  /// A WebSocket for a session of another node: accepted here and relayed. What needs no
  /// session is checked here, as verify() and on_upgrade() would; the owner decides the rest
  /// (a refusal there closes the WebSocket).
  upgrade_decision relay_upgrade(const http::request& req, caf::actor owner) {
    upgrade_decision d;
    auto* transport = req.param("transport");
    if (!transport || (*transport != "polling" && *transport != "websocket"))
      d.refuse = refusal(eio::error_code::unknown_transport);
    else if (core_->shutting_down || !http::origin_allowed(core_->opts.cors, req))
      d.refuse = refusal(eio::error_code::forbidden);
    if (d.refuse)
      return d;
    d.answer_alone = protocol_of(req) == 3;
    d.attach = [core = core_, owner = std::move(owner),
                upgrade = forwarded_from(req)](http::ws_channel_ptr ws) -> std::shared_ptr<http::ws_sink> {
      return relay_websocket(core, owner, upgrade, std::move(ws));
    };
    return d;
  }

  /// on_upgrade() for the Engine.IO path, on the node that owns the session.
  upgrade_decision decide_upgrade(const http::request& req, bool raw) {
    upgrade_decision d;
    auto& opts = core_->opts;
    if (auto err = verify(req, true, raw)) {
      d.refuse = refusal(*err);
      return d;
    }
    // Browsers do not apply CORS to WebSockets: a listed origin is checked here instead.
    if (!http::origin_allowed(opts.cors, req)) {
      d.refuse = refusal(eio::error_code::forbidden);
      return d;
    }
    auto channel = next_key();
    // Engine.IO v3 clients (the official v3 suite's among them) listen for the open packet
    // only once the WebSocket is open, as engine.io's separate writes let them.
    d.answer_alone = protocol_of(req) == 3;
    if (auto* sid = req.param("sid")) {
      auto entry = core_->find_session(*sid);
      if (!entry) { // ended since verify()
        d.refuse = refusal(eio::error_code::unknown_sid);
        return d;
      }
      // Accepted even when the session is upgrading or upgraded already: its actor closes
      // the extra WebSocket, as the reference does (a client takes an HTTP 400 for an error).
      d.attach = [entry, channel](http::ws_channel_ptr ws) -> std::shared_ptr<http::ws_sink> {
        caf::anon_send(entry->actor, ws_attach{channel, ws});
        return std::make_shared<actor_sink>(entry->actor, channel);
      };
      return d;
    }
    pending_sessions::ticket_ptr ticket;
    if (auto why = admit(req, raw, ticket); why != pending_sessions::verdict::admitted) {
      d.refuse = refusal(why);
      return d;
    }
    auto hs = std::make_shared<const handshake_info>(make_handshake(req));
    int protocol = protocol_of(req);
    // An upgrade that fails before attach() drops this function, and the ticket with it.
    d.attach = [core = core_, hs, channel, raw, protocol,
                ticket](http::ws_channel_ptr ws) mutable -> std::shared_ptr<http::ws_sink> {
      auto entry = std::make_shared<session_entry>();
      entry->raw = raw;
      entry->protocol = protocol;
      entry->pending = std::move(ticket);
      auto a = spawn_websocket_connection(core, entry, make_id(), hs, channel, std::move(ws));
      return std::make_shared<actor_sink>(a, channel);
    };
    return d;
  }

  // engine.io's Server#verify, in its order.
  std::optional<eio::error_code> verify(const http::request& req, bool upgrade, bool raw) {
    auto* transport = req.param("transport");
    if (!transport || (*transport != "polling" && *transport != "websocket"))
      return eio::error_code::unknown_transport;
    if (core_->shutting_down)
      return eio::error_code::forbidden;
    if (auto* sid = req.param("sid")) {
      auto entry = core_->find_session(*sid);
      if (!entry || entry->raw != raw) // the raw echo endpoint has sessions of its own
        return eio::error_code::unknown_sid;
      int current = entry->transport.load();
      if (upgrade) {
        if (*transport != "websocket")
          return eio::error_code::bad_request;
      } else if (current != (*transport == "websocket" ? 1 : 0)) {
        return eio::error_code::bad_request; // transport mismatch
      }
      return std::nullopt;
    }
    if (req.method != "GET")
      return eio::error_code::bad_handshake_method;
    if (core_->draining) // a new session: elsewhere (the client's next try finds another node)
      return eio::error_code::forbidden;
    auto* eio_version = req.param("EIO");
    bool v4 = eio_version && *eio_version == "4";
    bool v3 = eio_version && *eio_version == "3" && core_->opts.allow_eio3;
    if (!v4 && !v3)
      return eio::error_code::unsupported_protocol_version;
    if (upgrade != (*transport == "websocket"))
      return eio::error_code::bad_request;
    return std::nullopt;
  }

  /// A new session's place among those without a CONNECT (the raw echo endpoint has no
  /// Socket.IO, so no CONNECT to wait for: its sessions are not counted).
  pending_sessions::verdict admit(const http::request& req, bool raw, pending_sessions::ticket_ptr& ticket) {
    auto why = pending_sessions::verdict::admitted;
    if (raw)
      return why;
    ticket = core_->pending->admit(req.remote_address, why);
    if (why != pending_sessions::verdict::admitted)
      log_refusal(why, req.remote_address);
    return why;
  }

  /// A flood is refused thousands of times a second: one line per 10 s is enough.
  void log_refusal(pending_sessions::verdict why, const std::string& address) {
    auto now =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
    auto last = last_refusal_log_ms_.load();
    if (now - last < 10000 || !last_refusal_log_ms_.compare_exchange_strong(last, now))
      return;
    if (why == pending_sessions::verdict::too_many_from_address)
      spdlog::warn("refusing handshakes from {}: {} sessions without a CONNECT (max-pending-sessions-per-address)",
                   address, core_->pending->count(address));
    else
      spdlog::warn("refusing handshakes: {} sessions without a CONNECT (max-pending-sessions)",
                   core_->pending->count());
  }

  void on_engine_request(http::request req, http::reply_ptr r, bool raw) {
    // Another node's session: its node answers, whatever the request is (no sticky sessions).
    if (auto owner = session_owner(*core_, req))
      return forward_request(core_, std::move(owner), std::move(req), std::move(r));
    serve(std::move(req), std::move(r), raw);
  }

  void serve(http::request req, http::reply_ptr r, bool raw) {
    if (req.websocket_upgrade)
      return r->send(refusal(eio::error_code::bad_request));
    if (auto err = verify(req, false, raw))
      return r->send(refusal(*err));
    if (*req.param("transport") == "websocket")
      return r->send(refusal(eio::error_code::bad_request)); // a WebSocket needs an upgrade
    if (auto* sid = req.param("sid")) {
      auto entry = core_->find_session(*sid);
      if (!entry) // ended since verify()
        return r->send(refusal(eio::error_code::unknown_sid));
      if (req.method == "GET")
        return caf::anon_send(entry->actor, poll_get{std::move(r)});
      if (req.method == "POST") {
        bool binary_body = false;
        if (auto* type = req.header("content-type"))
          binary_body = type->rfind("application/octet-stream", 0) == 0;
        return caf::anon_send(entry->actor, poll_post{std::move(req.body), binary_body, std::move(r)});
      }
      return r->send(refusal(eio::error_code::bad_request));
    }
    pending_sessions::ticket_ptr ticket;
    if (auto why = admit(req, raw, ticket); why != pending_sessions::verdict::admitted)
      return r->send(refusal(why));
    auto entry = std::make_shared<session_entry>();
    entry->raw = raw;
    entry->protocol = protocol_of(req);
    entry->pending = std::move(ticket);
    if (auto* b64 = req.param("b64"))
      entry->base64_only = !b64->empty() && *b64 != "0" && *b64 != "false";
    spawn_polling_connection(core_, entry, make_id(), std::make_shared<const handshake_info>(make_handshake(req)),
                             std::move(r));
  }

  std::shared_ptr<server_core> core_;
  std::atomic<long long> last_refusal_log_ms_{-10000};
};

// -- server ---------------------------------------------------------------------------

server::server(caf::actor_system& sys, server_options opts)
    : core_(std::make_shared<server_core>(sys, std::move(opts))), engine_(std::make_shared<engine>(core_)) {
  core_->api = spawn_api_service(sys, core_);
  if (core_->opts.recovery.enabled)
    core_->recovery = spawn_recovery(sys, core_->opts.recovery);
  core_->activity->start(sys, "");
}

server::~server() = default;

server::namespace_builder& server::namespace_builder::use(middleware mw) {
  def_->middlewares.push_back(std::move(mw));
  return *this;
}

server::namespace_builder& server::namespace_builder::on_connection(connection_handler h) {
  def_->on_connection.push_back(std::move(h));
  return *this;
}

std::optional<std::string> server::namespace_builder::handler_of(const std::string& event) const {
  auto it = def_->events.find(event);
  if (it == def_->events.end())
    return std::nullopt;
  return it->second.module;
}

server::module_builder& server::module_builder::use(middleware mw) {
  def_->middlewares.push_back(std::move(mw));
  return *this;
}

server::module_builder& server::module_builder::on_connection(connection_handler h) {
  def_->on_connection.push_back(std::move(h));
  return *this;
}

server::module_builder& server::module_builder::on(std::string event, event_handler h) {
  if (socketio::is_reserved_event(event))
    throw std::invalid_argument("namespace " + def_->name + ": module " + module_ + " handles the reserved event "
                                + event);
  auto [it, added] = def_->events.try_emplace(std::move(event), module_handler{module_, std::move(h)});
  if (!added)
    throw handler_conflict("namespace " + def_->name + ": event '" + it->first + "' is handled by module '"
                           + it->second.module + "' and by module '" + module_ + "'");
  return *this;
}

server::module_builder& server::module_builder::on_disconnect(disconnect_handler h) {
  def_->on_disconnect.push_back(std::move(h));
  return *this;
}

server::namespace_builder server::of(const std::string& name) {
  std::lock_guard<std::mutex> guard(core_->namespaces_mutex);
  auto& def = core_->defs[name];
  if (!def) {
    def = std::make_shared<namespace_def>();
    def->name = name;
  }
  return namespace_builder(def);
}

server::namespace_builder server::of_pattern(const std::string& regex) {
  std::lock_guard<std::mutex> guard(core_->namespaces_mutex);
  auto def = std::make_shared<namespace_def>();
  def->name = regex;
  core_->patterns.emplace_back(std::regex(regex, std::regex::ECMAScript), def);
  return namespace_builder(def);
}

broadcast server::in(const std::string& nsp) {
  auto entry = core_->find_namespace(nsp);
  if (!entry)
    return {};
  return broadcast(entry->actor, nsp, core_);
}

void server::route(std::string method, std::string path, route_handler h) {
  engine_->routes.push_back({std::move(method), std::move(path), std::move(h)});
}

void server::ws_route(std::string prefix, ws_route_handler decide) {
  engine_->ws_routes.push_back({std::move(prefix), std::move(decide)});
}

void server::rooms(const std::string& nsp, std::string prefix, std::function<void(std::vector<room_summary>)> done,
                   std::chrono::milliseconds timeout) {
  if (core_->cluster)
    return cluster_rooms(nsp, std::move(prefix), std::move(done), timeout);
  auto entry = core_->find_namespace(nsp);
  if (!entry)
    return done({});
  // Arguments go through spawn, not captures: CAF 0.17 binds a reference to a null tuple
  // for an actor spawned without any (UBSan reports it).
  using done_fn = std::function<void(std::vector<room_summary>)>;
  core_->sys.spawn(
      [](caf::event_based_actor* self, caf::actor nsp_actor, std::string prefix, done_fn done) {
        self->request(nsp_actor, caf::infinite, rooms_query{std::move(prefix)})
            .then(
                [done](room_list& list) {
                  std::vector<room_summary> out;
                  out.reserve(list.rooms.size());
                  for (auto& r : list.rooms)
                    out.push_back({std::move(r.name), static_cast<std::size_t>(r.members)});
                  done(std::move(out));
                },
                [done](caf::error&) { done({}); });
      },
      entry->actor, std::move(prefix), std::move(done));
}

bool server::is_member_socket_id(const std::string& id) const {
  auto& dir = core_->cluster_members;
  auto node = node_of_id(id);
  return dir && node && *node != dir->self_number() && dir->ever_member(*node);
}

void server::cluster_rooms(const std::string& nsp, std::string prefix,
                           std::function<void(std::vector<room_summary>)> done, std::chrono::milliseconds timeout) {
  // Every member's node actor answers for its own namespace (this node's for this one).
  std::vector<caf::actor> nodes{core_->cluster};
  if (auto& dir = core_->cluster_members)
    for (auto& n : dir->members())
      if (n.number != dir->self_number() && n.node)
        nodes.push_back(n.node);
  gather<room_list>(core_->sys, std::move(nodes), caf::make_message(rooms_query{std::move(prefix)}, nsp), timeout,
                    [done = std::move(done)](std::vector<room_list> lists) {
                      std::map<std::string, std::size_t> members;
                      for (auto& list : lists)
                        for (auto& r : list.rooms)
                          members[r.name] += static_cast<std::size_t>(r.members);
                      std::vector<room_summary> out;
                      out.reserve(members.size());
                      for (auto& [name, count] : members)
                        out.push_back({name, count});
                      done(std::move(out));
                    });
}

void server::on_server_side(const std::string& nsp, const std::string& event, server_side_handler h) {
  if (socketio::is_reserved_event(event))
    throw std::invalid_argument("namespace " + nsp + ": reserved server-side event " + event);
  std::lock_guard<std::mutex> guard(core_->server_side_mutex);
  if (!core_->server_side_handlers.try_emplace(nsp + '\n' + event, std::move(h)).second)
    throw handler_conflict("namespace " + nsp + ": server-side event '" + event + "' has a handler already");
}

void server::server_side_emit(const std::string& nsp, const std::string& event, message m, server_side_fn done,
                              std::chrono::milliseconds timeout) {
  if (socketio::is_reserved_event(event))
    throw std::invalid_argument("reserved event name: " + event);
  server_side_request req{
      nsp, event, json::serialize(m.args), std::move(m.attachments), static_cast<bool>(done), timeout.count()};
  auto others = api_services(*core_, false, true);
  if (!done) {
    // Sent with a sender all the same (the members refuse anonymous requests); nobody
    // waits for the replies, which come at once: the handlers' acks are not asked for.
    gather<server_side_reply>(core_->sys, std::move(others), std::move(req), timeout,
                              [](std::vector<server_side_reply>) {});
    return;
  }
  gather<server_side_reply>(core_->sys, std::move(others), std::move(req), timeout,
                            [done = std::move(done)](std::vector<server_side_reply> replies) {
                              std::vector<server_side_answer> out;
                              out.reserve(replies.size());
                              for (auto& r : replies)
                                out.push_back({std::move(r.node), message_of(r.args, std::move(r.attachments))});
                              done(std::move(out));
                            });
}

void server::join_cluster(caf::actor node) {
  core_->cluster = node;
  caf::anon_send(node, register_service{"api", core_->api});
  serve_cluster_sessions();
}

std::shared_ptr<http::handler> server::handler() {
  return engine_;
}

void server::serve_cluster_sessions() {
  if (!core_->cluster)
    return;
  auto service = spawn_session_service(core_, engine_);
  caf::anon_send(core_->cluster, register_service{"sessions", service});
}

std::size_t server::connection_count() const {
  return core_->session_count.load();
}

const server_options& server::options() const {
  return core_->opts;
}

void server::drain() {
  if (core_->draining.exchange(true))
    return;
  spdlog::info("draining: new sessions are refused, the open ones are closed so that their clients reconnect elsewhere");
  // An Engine.IO close (not a Socket.IO disconnect): the clients reconnect on their own.
  for (auto& a : core_->all_sessions())
    caf::anon_send(a, close_request{"server draining"});
  std::lock_guard<std::mutex> guard(core_->others_mutex);
  for (auto& [addr, a] : core_->others)
    caf::anon_send(a, close_request{"server draining"});
}

void server::set_node_name(std::string name) {
  core_->activity->set_node(std::move(name));
}

void server::set_recovery_store(caf::actor store) {
  if (!core_->opts.recovery.enabled || !store)
    return;
  if (core_->recovery)
    caf::anon_send_exit(core_->recovery, caf::exit_reason::user_shutdown);
  core_->recovery = std::move(store);
  core_->recovery_shared = true;
}

bool server::draining() const {
  return core_->draining;
}

void server::serve_metrics(std::string path) {
  route("GET", std::move(path), [core = core_](const http::request&, http::reply_ptr r) {
    // Arguments go through spawn: CAF 0.17 binds a null tuple for an argument-less spawn.
    core->sys.spawn(
        [](caf::event_based_actor* self, std::shared_ptr<server_core> core, http::reply_ptr r) {
          read_gauges(self, core, [r](metrics_gauges g) {
            r->send(
                http::response::text(200, metrics::global().render(g), "text/plain; version=0.0.4; charset=utf-8"));
          });
        },
        core, r);
  });
}

void server::shutdown(std::chrono::milliseconds grace) {
  core_->shutting_down = true;
  for (auto& a : core_->all_sessions())
    caf::anon_send(a, close_request{"server shutting down"});
  {
    std::lock_guard<std::mutex> guard(core_->others_mutex);
    for (auto& [addr, a] : core_->others)
      caf::anon_send(a, close_request{"server shutting down"});
  }
  auto deadline = std::chrono::steady_clock::now() + grace;
  while ((core_->session_count.load() > 0 || core_->other_count() > 0) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::vector<caf::actor> namespaces;
  {
    std::lock_guard<std::mutex> guard(core_->namespaces_mutex);
    for (auto& [name, entry] : core_->namespaces)
      namespaces.push_back(entry.actor);
    core_->namespaces.clear();
  }
  for (auto& a : namespaces)
    caf::anon_send(a, shutdown_atom::value);
  if (core_->recovery && !core_->recovery_shared) // a store is its owner's to stop
    caf::anon_send_exit(core_->recovery, caf::exit_reason::user_shutdown);
}

} // namespace sio
