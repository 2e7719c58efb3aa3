#include "actors/pusher_server.hpp"

#include "actors/actor_sink.hpp"
#include "actors/api_service.hpp"
#include "actors/cluster_node.hpp"
#include "actors/ids.hpp"
#include "actors/pusher_connection.hpp"
#include "transport/pusher/message.hpp"

namespace sio {

namespace {

/// The app's origin rule: an empty list admits any origin; otherwise the Origin header
/// must be one of them ("*" admits any).
bool origin_allowed(const pusher::app& a, const http::request& req) {
  if (a.allowed_origins.empty())
    return true;
  auto* origin = req.header("origin");
  for (auto& o : a.allowed_origins)
    if (o == "*" || (origin && *origin == o))
      return true;
  return false;
}

/// Checks that decide the connection's fate after the upgrade: Pusher answers them with
/// pusher:error and a close code, which clients act on, rather than with an HTTP status.
std::optional<pusher_refusal> check(const pusher::app* a, const http::request& req) {
  if (!a)
    return pusher_refusal{pusher::code::app_not_found, "Application does not exist"};
  auto* protocol = req.param("protocol");
  if (!protocol)
    return pusher_refusal{pusher::code::no_protocol, "No protocol version supplied"};
  if (*protocol != "5" && *protocol != "6" && *protocol != "7")
    return pusher_refusal{pusher::code::unsupported_protocol, "Unsupported protocol version"};
  if (!origin_allowed(*a, req))
    return pusher_refusal{pusher::code::unauthorized, "Origin not allowed"};
  return std::nullopt;
}

/// A draining server takes no new connection: the client reconnects at once, elsewhere.
std::optional<pusher_refusal> check_open(const server_core& core, const pusher::app* a, const http::request& req) {
  if (core.draining || core.shutting_down)
    return pusher_refusal{pusher::code::generic_reconnect, "Server draining: reconnect"};
  return check(a, req);
}

/// Closes this node's connections of the user; how many.
std::size_t terminate_here(pusher_shared& shared, const std::string& app_id, const std::string& user_id) {
  std::vector<caf::actor> targets;
  {
    std::lock_guard<std::mutex> guard(shared.users_mutex);
    auto range = shared.users.equal_range(pusher_shared::user_key(app_id, user_id));
    for (auto it = range.first; it != range.second; ++it)
      targets.push_back(it->second);
  }
  for (auto& t : targets)
    caf::anon_send(t, close_request{"Connection terminated by the server"});
  return targets.size();
}

/// The cluster service "pusher": the members' terminate_connections, for this node's
/// connections.
caf::behavior pusher_service(caf::event_based_actor* self, std::shared_ptr<pusher_shared> shared) {
  return {
      [=](const pusher_terminate& t) -> caf::result<std::uint64_t> {
        if (!from_member(self, *shared->core))
          return caf::make_error(caf::sec::unexpected_message, "not a member of this cluster");
        return static_cast<std::uint64_t>(terminate_here(*shared, t.app_id, t.user_id));
      },
  };
}

} // namespace

void announce_pusher_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<pusher_terminate>("sio::pusher_terminate");
}

pusher_server::pusher_server(server& io, caf::actor_system& sys, pusher::app_registry apps, std::string default_nsp,
                             pusher_hooks hooks)
    : shared_(std::make_shared<pusher_shared>()) {
  shared_->core = io.core();
  shared_->apps = std::move(apps);
  shared_->default_nsp = std::move(default_nsp);
  shared_->hooks = std::move(hooks);
  for (auto& a : shared_->apps.all()) {
    auto& nsp = shared_->nsp_of(a);
    if (shared_->nsp_actors.count(nsp))
      continue;
    io.of(nsp); // registered, so that the namespace actor exists
    auto entry = shared_->core->find_namespace(nsp);
    if (!entry)
      throw std::invalid_argument("pusher app " + a.id + ": namespace " + nsp + " cannot be created");
    shared_->nsp_actors.emplace(nsp, entry->actor);
  }
  // Before the cluster node starts (services are offered when it does): members ask
  // this node to close its connections of a user.
  if (auto& node = shared_->core->cluster)
    caf::anon_send(node, register_service{"pusher", sys.spawn(pusher_service, shared_)});
  // The shared state lives as long as a connection does: the route holds it, and so does
  // every connection actor.
  io.ws_route("/app/", [shared = shared_](const http::request& req) {
    http::handler::upgrade_decision d;
    auto key = std::string_view(req.path).substr(5);
    const pusher::app* a = key.find('/') == std::string_view::npos ? shared->apps.by_key(key) : nullptr;
    auto refusal = check_open(*shared->core, a, req);
    auto channel = next_key();
    d.attach = [shared, a, channel, refusal](http::ws_channel_ptr ws) -> std::shared_ptr<http::ws_sink> {
      auto actor = shared->core->sys.spawn(pusher_connection, shared, a, channel, std::move(ws), refusal);
      return std::make_shared<actor_sink>(actor, channel);
    };
    return d;
  });
}

pusher_server::~pusher_server() = default;

const pusher::app_registry& pusher_server::apps() const {
  return shared_->apps;
}

const std::string& pusher_server::nsp_of(const pusher::app& a) const {
  return shared_->nsp_of(a);
}

void pusher_server::terminate_user(const std::string& app_id, const std::string& user_id,
                                   std::function<void(std::size_t)> done, std::chrono::milliseconds timeout) {
  auto here = terminate_here(*shared_, app_id, user_id);
  auto others = member_services(*shared_->core, "pusher");
  if (others.empty())
    return done(here);
  gather<std::uint64_t>(shared_->core->sys, std::move(others), pusher_terminate{app_id, user_id}, timeout,
                        [here, done = std::move(done)](std::vector<std::uint64_t> counts) {
                          auto total = here;
                          for (auto n : counts)
                            total += static_cast<std::size_t>(n);
                          done(total);
                        });
}

} // namespace sio
