// The admin console's commands (actors/console_messages.hpp lists them): each answers for
// the whole cluster from the node the console reached, through the C++ API's cluster-wide
// verbs (fetch_sockets, sockets_join, ...) and the members' console services.
#include "apps/chat-server/console_service.hpp"

#include "actors/api_service.hpp"
#include "actors/cluster_node.hpp"
#include "actors/console_messages.hpp"
#include "actors/gauges.hpp"
#include "actors/metrics.hpp"
#include "actors/remote_socket_json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <unistd.h>
#include <mutex>
#include <set>

namespace chat {

namespace json = boost::json;

namespace {

using ctx_ptr = std::shared_ptr<console_context>;

constexpr auto member_timeout = std::chrono::seconds(3);

json::value error(std::string text) {
  return json::object{{"error", std::move(text)}};
}

void usage(const std::string& name, const console_reply& reply) {
  for (auto& v : sio::console_verbs())
    if (name == v.name)
      return reply(sio::console_usage, error(std::string("usage: ") + v.usage));
  reply(sio::console_usage, error("unknown command '" + name + "' (help lists the commands)"));
}

/// Every node's status: this node's first, then the members' that answered in time.
void every_status(caf::event_based_actor* self, const ctx_ptr& ctx, std::function<void(json::array)> done) {
  node_status(self, ctx, [self, ctx, done = std::move(done)](json::object own) {
    auto members = sio::member_services(*ctx->io.core(), "console");
    if (members.empty())
      return done(json::array{std::move(own)});
    struct pending {
      json::array nodes;
      std::size_t left;
      std::function<void(json::array)> done;
      void one_less() {
        if (--left == 0)
          done(std::move(nodes));
      }
    };
    auto p = std::make_shared<pending>(pending{json::array{std::move(own)}, members.size(), done});
    for (auto& m : members)
      self->request(m, member_timeout, sio::status_atom::value)
          .then(
              [p](const std::string& text) {
                boost::system::error_code ec;
                auto v = json::parse(text, ec);
                if (!ec && v.is_object())
                  p->nodes.push_back(std::move(v));
                p->one_less();
              },
              [p](caf::error&) { p->one_less(); });
  });
}

/// The namespaces any node has (sorted, once each).
std::vector<std::string> namespaces_of(const json::array& nodes) {
  std::set<std::string> names;
  for (auto& n : nodes)
    if (auto* nsps = n.as_object().if_contains("namespaces"); nsps && nsps->is_object())
      for (auto& [name, v] : nsps->as_object())
        names.insert(std::string(name));
  return {names.begin(), names.end()};
}

/// Answers collected from several asynchronous calls on other threads.
template <class T> struct collector {
  std::mutex m;
  std::vector<T> items;
  std::size_t left = 0;
  std::function<void(std::vector<T>)> done;
  void add(std::vector<T> more) {
    std::unique_lock<std::mutex> lock(m);
    for (auto& x : more)
      items.push_back(std::move(x));
    if (--left == 0) {
      auto all = std::move(items);
      lock.unlock();
      done(std::move(all));
    }
  }
};

/// fetch_sockets over `nsps` (narrowed to `room` when not empty), every node.
void fetch_all(const ctx_ptr& ctx, const std::vector<std::string>& nsps, const std::string& room,
               std::function<void(std::vector<sio::remote_socket>)> done) {
  if (nsps.empty())
    return done({});
  auto c = std::make_shared<collector<sio::remote_socket>>();
  c->left = nsps.size();
  c->done = std::move(done);
  for (auto& nsp : nsps) {
    auto b = ctx->io.in(nsp);
    if (!room.empty())
      b = b.to(room);
    b.fetch_sockets([c](std::vector<sio::remote_socket> found) { c->add(std::move(found)); });
  }
}

/// Runs `then` with the namespaces named (one), or every node's (none named).
void with_namespaces(caf::event_based_actor* self, const ctx_ptr& ctx, std::optional<std::string> nsp,
                     std::function<void(std::vector<std::string>)> then) {
  if (nsp)
    return then({*nsp});
  every_status(self, ctx, [then = std::move(then)](json::array nodes) { then(namespaces_of(nodes)); });
}

bool known_nsp(const ctx_ptr&, const std::string& nsp, const console_reply& reply) {
  if (nsp.empty() || nsp[0] != '/') {
    reply(sio::console_usage, error("a namespace starts with '/': '" + nsp + "'"));
    return false;
  }
  return true;
}

/// The member `name` (this node when empty): its console service, or this node's (null).
std::optional<caf::actor> node_service(const ctx_ptr& ctx, const std::string& name, bool& self_node) {
  self_node = name.empty() || name == ctx->node;
  if (self_node)
    return caf::actor{};
  auto& dir = ctx->io.core()->cluster_members;
  if (!dir)
    return std::nullopt;
  for (auto& n : dir->members())
    if (n.name == name) {
      auto it = n.services.find("console");
      if (it != n.services.end())
        return it->second;
    }
  return std::nullopt;
}

bool known_level(const std::string& level) {
  for (const char* name : {"trace", "debug", "info", "warn", "error", "critical", "off"})
    if (level == name)
      return true;
  return false;
}

} // namespace

void node_status(caf::event_based_actor* self, const ctx_ptr& ctx, std::function<void(json::object)> done) {
  sio::read_gauges(self, ctx->io.core(), [ctx, done = std::move(done)](sio::metrics_gauges g) {
    json::object connections;
    for (auto& [key, n] : g.connections)
      connections[key.first + "/" + std::to_string(key.second)] = n;
    connections["pusher"] = g.pusher_connections;
    json::object nsps;
    for (auto& [name, counts] : g.namespaces)
      nsps[name] = json::object{{"sockets", counts.first}, {"rooms", counts.second}};
    auto& m = sio::metrics::global();
    auto commits = m.commits();
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - ctx->started);
    done(json::object{{"node", ctx->node},
                      {"version", SIO_VERSION},
                      {"uptime_s", uptime.count()},
                      {"draining", g.draining},
                      {"connections", std::move(connections)},
                      {"namespaces", std::move(nsps)},
                      {"events_received", m.events_in.value()},
                      {"deliveries", m.deliveries.value()},
                      {"store", json::object{{"queue", m.store_queue()},
                                             {"commits", commits.commits},
                                             {"writes", commits.writes},
                                             {"commit_ms_mean", commits.mean_ms},
                                             {"commit_ms_p99", commits.p99_ms}}}});
  });
}

void run_command(caf::event_based_actor* self, const ctx_ptr& ctx, const std::vector<std::string>& words,
                 console_reply reply) {
  if (words.empty())
    return reply(sio::console_usage, error("no command"));
  const auto& cmd = words[0];
  auto arg = [&](std::size_t i) -> std::optional<std::string> {
    return i < words.size() ? std::optional<std::string>(words[i]) : std::nullopt;
  };

  if (cmd == "status") {
    if (words.size() != 1)
      return usage(cmd, reply);
    return every_status(self, ctx, [reply](json::array nodes) { reply(sio::console_ok, json::object{{"nodes", nodes}}); });
  }

  if (cmd == "nodes") {
    if (words.size() != 1)
      return usage(cmd, reply);
    json::array out;
    auto& dir = ctx->io.core()->cluster_members;
    if (!dir) {
      out.push_back(json::object{{"name", ctx->node}, {"self", true}, {"address", ""}});
    } else {
      for (auto& n : dir->members())
        out.push_back(json::object{{"name", n.name},
                                   {"self", n.number == dir->self_number()},
                                   {"address", n.address},
                                   {"number", n.number}});
    }
    return reply(sio::console_ok, json::object{{"nodes", std::move(out)}});
  }

  if (cmd == "sockets") {
    std::optional<std::string> nsp, room;
    for (std::size_t i = 1; i < words.size(); ++i) {
      if (words[i] == "--room" && i + 1 < words.size())
        room = words[++i];
      else if (!nsp && !words[i].empty() && words[i][0] == '/')
        nsp = words[i];
      else
        return usage(cmd, reply);
    }
    return with_namespaces(self, ctx, nsp, [ctx, room, reply](std::vector<std::string> nsps) {
      fetch_all(ctx, nsps, room.value_or(""), [reply](std::vector<sio::remote_socket> found) {
        json::array out;
        for (auto& s : found)
          out.push_back(sio::remote_socket_to_json(s));
        reply(sio::console_ok, json::object{{"sockets", std::move(out)}});
      });
    });
  }

  if (cmd == "rooms") {
    if (words.size() > 2 || (arg(1) && !known_nsp(ctx, *arg(1), reply)))
      return words.size() > 2 ? usage(cmd, reply) : void();
    return with_namespaces(self, ctx, arg(1), [ctx, reply](std::vector<std::string> nsps) {
      if (nsps.empty())
        return reply(sio::console_ok, json::object{{"rooms", json::array{}}});
      using entry = std::pair<std::string, sio::server::room_summary>;
      auto c = std::make_shared<collector<entry>>();
      c->left = nsps.size();
      c->done = [reply](std::vector<entry> all) {
        json::array out;
        for (auto& [nsp, r] : all)
          out.push_back(json::object{{"nsp", nsp}, {"room", r.name}, {"members", r.members}});
        reply(sio::console_ok, json::object{{"rooms", std::move(out)}});
      };
      for (auto& nsp : nsps)
        ctx->io.rooms(nsp, "", [c, nsp](std::vector<sio::server::room_summary> rooms) {
          std::vector<entry> mine;
          for (auto& r : rooms)
            mine.emplace_back(nsp, std::move(r));
          c->add(std::move(mine));
        });
    });
  }

  if (cmd == "socket") {
    if (words.size() != 2)
      return usage(cmd, reply);
    auto sid = words[1];
    return with_namespaces(self, ctx, std::nullopt, [ctx, sid, reply](std::vector<std::string> nsps) {
      fetch_all(ctx, nsps, sid, [sid, reply](std::vector<sio::remote_socket> found) {
        for (auto& s : found)
          if (s.id == sid)
            return reply(sio::console_ok, json::object{{"socket", sio::remote_socket_to_json(s)}});
        reply(sio::console_failed, error("no socket " + sid));
      });
    });
  }

  if (cmd == "emit") {
    if (words.size() < 4 || !known_nsp(ctx, words[1], reply))
      return words.size() < 4 ? usage(cmd, reply) : void();
    auto b = ctx->io.in(words[1]);
    if (!b.valid())
      return reply(sio::console_failed, error("no namespace " + words[1]));
    if (words[2] != "*")
      b = b.to(words[2]);
    sio::message m;
    if (words.size() > 4) {
      std::string text;
      for (std::size_t i = 4; i < words.size(); ++i)
        text += (i > 4 ? " " : "") + words[i];
      boost::system::error_code ec;
      auto v = json::parse(text, ec);
      if (ec)
        return reply(sio::console_usage, error("not JSON: " + text));
      m.args.push_back(std::move(v));
    }
    try {
      b.emit(words[3], std::move(m));
    } catch (const std::invalid_argument& e) {
      return reply(sio::console_failed, error(e.what()));
    }
    spdlog::info("console: emit {} to {} in {}", words[3], words[2], words[1]);
    return reply(sio::console_ok, json::object{{"emitted", words[3]}, {"nsp", words[1]}, {"to", words[2]}});
  }

  if (cmd == "join" || cmd == "leave") {
    if (words.size() != 4 || !known_nsp(ctx, words[1], reply))
      return words.size() != 4 ? usage(cmd, reply) : void();
    auto b = ctx->io.in(words[1]);
    if (!b.valid())
      return reply(sio::console_failed, error("no namespace " + words[1]));
    auto done = [reply, cmd, sid = words[2]](std::size_t n) {
      if (n == 0)
        return reply(sio::console_failed, error("no socket " + sid + " in that namespace"));
      reply(sio::console_ok, json::object{{cmd == "join" ? "joined" : "left", n}});
    };
    if (cmd == "join")
      b.to(words[2]).sockets_join(words[3], done);
    else
      b.to(words[2]).sockets_leave(words[3], done);
    return;
  }

  if (cmd == "kick") {
    if (words.size() < 2)
      return usage(cmd, reply);
    auto sid = words[1];
    std::string reason;
    for (std::size_t i = 2; i < words.size(); ++i)
      reason += (i > 2 ? " " : "") + words[i];
    return with_namespaces(self, ctx, std::nullopt, [ctx, sid, reason, reply](std::vector<std::string> nsps) {
      auto c = std::make_shared<collector<std::size_t>>();
      c->left = nsps.size();
      c->done = [sid, reason, reply](std::vector<std::size_t> counts) {
        std::size_t n = 0;
        for (auto k : counts)
          n += k;
        if (n == 0)
          return reply(sio::console_failed, error("no socket " + sid));
        spdlog::info("console: kicked socket {}{}{}", sid, reason.empty() ? "" : ": ", reason);
        reply(sio::console_ok, json::object{{"kicked", sid}, {"reason", reason}});
      };
      if (nsps.empty())
        return c->done({});
      for (auto& nsp : nsps)
        ctx->io.in(nsp).to(sid).disconnect_sockets(false, [c](std::size_t n) { c->add({n}); });
    });
  }

  if (cmd == "log-level") {
    if (words.size() != 2)
      return usage(cmd, reply);
    if (!known_level(words[1]))
      return reply(sio::console_usage, error("log levels: trace, debug, info, warn, error, critical, off"));
    spdlog::set_level(spdlog::level::from_str(words[1]));
    spdlog::info("console: log level {}", words[1]);
    auto members = sio::member_services(*ctx->io.core(), "console");
    for (auto& m : members)
      self->send(m, sio::log_level_atom::value, words[1]);
    return reply(sio::console_ok, json::object{{"level", words[1]}, {"nodes", members.size() + 1}});
  }

  if (cmd == "drain" || cmd == "shutdown") {
    if (words.size() > 2)
      return usage(cmd, reply);
    bool here = false;
    auto target = node_service(ctx, arg(1).value_or(""), here);
    if (!target)
      return reply(sio::console_failed, error("no node " + *arg(1)));
    json::object out{{cmd == "drain" ? "draining" : "stopping", here ? ctx->node : *arg(1)}};
    if (!here) {
      if (cmd == "drain")
        self->send(*target, sio::drain_atom::value);
      else
        self->send(*target, sio::shutdown_atom::value);
      return reply(sio::console_ok, out);
    }
    reply(sio::console_ok, out);
    if (cmd == "drain") {
      ctx->io.drain();
    } else {
      spdlog::info("console: shutdown");
      kill(getpid(), SIGTERM); // to the process: a thread of ours may block SIGTERM
    }
    return;
  }

  if (cmd == "complete") {
    // For the console's tab completion: every namespace and its rooms (at most 1000 each).
    return with_namespaces(self, ctx, std::nullopt, [ctx, reply](std::vector<std::string> nsps) {
      using entry = std::pair<std::string, std::string>;
      auto c = std::make_shared<collector<entry>>();
      c->left = nsps.size();
      c->done = [nsps, reply](std::vector<entry> all) {
        json::object rooms;
        for (auto& n : nsps)
          rooms[n] = json::array{};
        for (auto& [nsp, room] : all)
          if (rooms[nsp].as_array().size() < 1000)
            rooms[nsp].as_array().push_back(json::value(room));
        json::array names;
        for (auto& n : nsps)
          names.push_back(json::value(n));
        reply(sio::console_ok, json::object{{"namespaces", std::move(names)}, {"rooms", std::move(rooms)}});
      };
      if (nsps.empty())
        return c->done({});
      for (auto& nsp : nsps)
        ctx->io.rooms(nsp, "", [c, nsp](std::vector<sio::server::room_summary> rs) {
          std::vector<entry> mine;
          for (auto& r : rs)
            mine.emplace_back(nsp, r.name);
          c->add(std::move(mine));
        });
    });
  }

  usage(cmd, reply);
}

} // namespace chat
