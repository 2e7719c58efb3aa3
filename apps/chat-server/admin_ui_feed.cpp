// The Admin UI's feed, one actor per node: this node's activity feed (actors/activity.hpp)
// turned into the UI's events (socket_connected, room_joined, event_received, ...) and
// this node's server_stats every 2 s, all emitted to the admin namespace, which in a
// cluster reaches the admin sockets of every node, as socket.io's adapter does.
//
// It watches the activity feed only while an admin socket is connected somewhere in the
// cluster (asked every 2 s; at once when one connects here), so a server nobody watches
// pays nothing. The feed's budget (1000 items a second per watcher) holds for the UI too:
// when items were dropped, every admin socket gets a fresh all_sockets (at most every 5 s)
// instead, so that its lists are right again.
#include "apps/chat-server/admin_ui.hpp"

#include "actors/api_service.hpp"
#include "actors/gauges.hpp"
#include "actors/metrics.hpp"
#include "actors/remote_socket_json.hpp"

#include <boost/json/parse.hpp>
#include <spdlog/spdlog.h>

#include <set>
#include <unistd.h>

namespace chat {

namespace json = boost::json;

namespace {

using admin_ui_count_atom = caf::atom_constant<caf::atom("auicount")>;

constexpr auto stats_interval = std::chrono::seconds(2);
constexpr auto ask_timeout = std::chrono::milliseconds(1500);
constexpr std::int64_t resync_interval_ms = 5000;
/// Between the nodes' feeds: "an admin socket connected, watch now".
constexpr const char* watch_event = "admin-ui:watch";

/// The counters behind server_stats' aggregatedEvents, as last read.
struct counters {
  std::uint64_t connects = 0, disconnects = 0, packets_in = 0, packets_out = 0, bytes_in = 0, bytes_out = 0;

  static counters now() {
    auto& m = sio::metrics::global();
    return {m.connects.value(),   m.disconnects.value(), m.events_in.value(),
            m.deliveries.value(), m.bytes_in.value(),    m.bytes_out.value()};
  }
};

struct feed_state {
  bool watching = false;
  std::size_t admins = 0; ///< admin sockets in the cluster, as last counted
  std::uint64_t asked = 0; ///< counts asked so far
  std::uint64_t asked_when_here = 0; ///< `asked` when an admin socket last said it is here
  counters last;
  std::int64_t last_resync_ms = 0;
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string host_name() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0)
    return "localhost";
  return host;
}

/// An activity item's JSON detail, or the text itself when it is not JSON (cut at 512 bytes).
json::value detail_of(const sio::activity& a) {
  boost::system::error_code ec;
  auto v = json::parse(a.detail, ec);
  return ec ? json::value(a.detail) : v;
}

/// [event, ...args] of an event or emit item.
json::array event_args(const sio::activity& a) {
  json::array out{json::value(a.name)};
  auto args = detail_of(a);
  if (auto* arr = args.if_array())
    for (auto& v : *arr)
      out.push_back(v);
  else
    out.push_back(std::move(args));
  return out;
}

json::object server_stats(const admin_ui_context& ctx, const sio::metrics_gauges& g, const counters& delta) {
  static const std::string host = host_name();
  std::uint64_t clients = 0, polling = 0;
  for (auto& [key, n] : g.connections) {
    clients += n;
    if (key.first == "polling")
      polling += n;
  }
  json::array namespaces;
  for (auto& [name, counts] : g.namespaces)
    namespaces.push_back(json::object{{"name", name}, {"socketsCount", counts.first}});
  // One entry per kind that happened since the last stats, stamped with this second.
  auto second = now_ms() / 1000 * 1000;
  json::array aggregated;
  auto add = [&](const char* type, std::uint64_t count) {
    if (count)
      aggregated.push_back(json::object{{"timestamp", second}, {"type", type}, {"count", count}});
  };
  add("rawConnection", delta.connects);
  add("rawDisconnection", delta.disconnects);
  add("packetsIn", delta.packets_in);
  add("packetsOut", delta.packets_out);
  add("bytesIn", delta.bytes_in);
  add("bytesOut", delta.bytes_out);
  auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.started).count();
  return json::object{{"serverId", ctx.node.empty() ? host : ctx.node},
                      {"hostname", host},
                      {"pid", static_cast<std::int64_t>(getpid())},
                      {"uptime", uptime},
                      {"clientsCount", clients},
                      {"pollingClientsCount", polling},
                      {"aggregatedEvents", std::move(aggregated)},
                      {"namespaces", std::move(namespaces)}};
}

/// The namespaces to list: every one registered by name, and the dynamic ones this node
/// made (a dynamic namespace that only another node made is not listed).
std::set<std::string> known_namespaces(sio::server_core& core) {
  std::set<std::string> out;
  std::lock_guard<std::mutex> guard(core.namespaces_mutex);
  for (auto& [name, def] : core.defs)
    out.insert(name);
  for (auto& [name, entry] : core.namespaces)
    out.insert(name);
  return out;
}

/// all_sockets to `to`: every socket of every namespace, from every node.
void send_all_sockets(const std::shared_ptr<admin_ui_context>& ctx, sio::broadcast to) {
  struct collected {
    std::mutex mutex;
    json::array sockets;
    std::size_t left = 0;
  };
  auto c = std::make_shared<collected>();
  std::vector<sio::broadcast> targets;
  for (auto& nsp : known_namespaces(*ctx->io.core()))
    if (auto b = ctx->io.in(nsp); b.valid())
      targets.push_back(std::move(b));
  c->left = targets.size();
  if (targets.empty())
    return to.emit("all_sockets", {json::array{}});
  for (auto& b : targets)
    b.fetch_sockets(
        [c, to](std::vector<sio::remote_socket> found) {
          std::lock_guard<std::mutex> guard(c->mutex);
          for (auto& s : found)
            c->sockets.push_back(admin_ui_socket(s));
          if (--c->left == 0)
            to.emit("all_sockets", {std::move(c->sockets)});
        },
        ask_timeout);
}

caf::behavior admin_ui_feed(caf::stateful_actor<feed_state>* self, std::shared_ptr<admin_ui_context> ctx) {
  bool dev = ctx->opts.mode == "development";
  auto admins = ctx->io.in(ctx->opts.nsp);
  auto hub = ctx->io.core()->activity->hub();
  auto watch = [=](bool on) {
    if (!dev || on == self->state.watching)
      return;
    self->state.watching = on;
    if (on) {
      sio::activity_filter f;
      // Broadcasts are not the UI's (socket.io reports per-socket emits only); the admin
      // namespace's own messages would report themselves.
      f.kinds = sio::activity_all & ~sio::activity_broadcast;
      f.quiet_nsp = ctx->opts.nsp;
      self->send(hub, sio::watch_atom::value, caf::actor_cast<caf::actor>(self), std::move(f));
    } else {
      self->send(hub, sio::unwatch_atom::value, caf::actor_cast<caf::actor>(self));
    }
    spdlog::debug("admin-ui: {} the activity feed", on ? "watching" : "no longer watching");
  };
  self->set_error_handler([](caf::error&) {});
  self->set_default_handler(caf::drop);
  self->state.last = counters::now();
  self->send(self, admin_ui_tick_atom::value);
  return {
      [=](admin_ui_tick_atom) {
        self->delayed_send(self, stats_interval, admin_ui_tick_atom::value);
        // Who watches, anywhere in the cluster: the answer comes as admin_ui_count_atom,
        // and the stats go with it.
        auto me = caf::actor_cast<caf::actor>(self);
        auto asked = ++self->state.asked;
        admins.fetch_sockets(
            [me, asked](std::vector<sio::remote_socket> found) {
              caf::anon_send(me, admin_ui_count_atom::value, asked, static_cast<std::uint64_t>(found.size()));
            },
            ask_timeout);
      },
      [=](admin_ui_count_atom, std::uint64_t asked, std::uint64_t n) {
        auto& st = self->state;
        // A count asked before an admin socket said it is here does not count it.
        if (n == 0 && asked <= st.asked_when_here)
          n = st.admins;
        st.admins = n;
        watch(n > 0);
        auto now = counters::now();
        counters delta{now.connects - st.last.connects,     now.disconnects - st.last.disconnects,
                       now.packets_in - st.last.packets_in, now.packets_out - st.last.packets_out,
                       now.bytes_in - st.last.bytes_in,     now.bytes_out - st.last.bytes_out};
        st.last = now;
        if (n == 0)
          return;
        sio::read_gauges(self, ctx->io.core(), [ctx, admins, delta](sio::metrics_gauges g) {
          admins.emit("server_stats", {server_stats(*ctx, g, delta)});
        });
      },
      [=](admin_ui_here_atom, const std::string& sid) {
        self->state.admins = std::max<std::size_t>(self->state.admins, 1);
        self->state.asked_when_here = self->state.asked;
        watch(true);
        if (sid.empty()) // another node's admin socket (the others watch until their next count)
          return;
        if (dev) {
          ctx->io.server_side_emit(ctx->opts.nsp, watch_event, {});
          send_all_sockets(ctx, admins.to(sid).local());
        }
      },
      [=](const sio::activity& a) {
        auto t = iso_ms(a.at_ms);
        if (a.kind == "connect") {
          auto s = sio::remote_socket_from_json(detail_of(a));
          if (!s)
            return;
          s->node = a.node;
          // socket.io's order: the own-id room first, then the socket.
          admins.emit("room_joined", {a.nsp, a.socket, a.socket, t});
          admins.emit("socket_connected", {admin_ui_socket(*s), t});
        } else if (a.kind == "event" || a.kind == "emit") {
          admins.emit(a.kind == "event" ? "event_received" : "event_sent", {a.nsp, a.socket, event_args(a), t});
        } else if (a.kind == "join" || a.kind == "leave") {
          admins.emit(a.kind == "join" ? "room_joined" : "room_left", {a.nsp, a.name, a.socket, t});
        } else if (a.kind == "disconnect") {
          admins.emit("socket_disconnected", {a.nsp, a.socket, a.name, t});
          auto rooms = detail_of(a);
          if (auto* arr = rooms.if_array())
            for (auto& r : *arr)
              if (r.is_string())
                admins.emit("room_left", {a.nsp, r, a.socket, t});
        } else if (a.kind == "upgrade") {
          admins.emit("socket_updated", {json::object{{"id", a.socket}, {"nsp", a.nsp}, {"transport", a.name}}});
        } else if (a.kind == "dropped") {
          auto now = now_ms();
          if (now - self->state.last_resync_ms < resync_interval_ms)
            return;
          self->state.last_resync_ms = now;
          send_all_sockets(ctx, admins);
        }
      },
  };
}

} // namespace

caf::actor spawn_admin_ui_feed(caf::actor_system& sys, std::shared_ptr<admin_ui_context> ctx) {
  // Hidden: a periodic actor the system must not wait for at shutdown.
  auto feed = sys.spawn<caf::hidden>(admin_ui_feed, ctx);
  ctx->io.on_server_side(ctx->opts.nsp, watch_event, [feed](sio::message&, const sio::ack_responder&) {
    caf::anon_send(feed, admin_ui_here_atom::value, std::string());
  });
  return feed;
}

} // namespace chat
