#include "apps/chat-server/console_service.hpp"

#include "actors/activity.hpp"
#include "actors/api_service.hpp"
#include "actors/cluster_node.hpp"
#include "actors/console_messages.hpp"
#include "actors/messages.hpp"

#include <boost/json/serialize.hpp>
#include <caf/io/all.hpp>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <unistd.h>
#include <map>

namespace chat {

namespace json = boost::json;

namespace {

/// Constant time whatever the lengths: the digests are compared, not the strings.
bool token_ok(const std::string& expected, const std::string& given) {
  unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(expected.data()), expected.size(), a);
  SHA256(reinterpret_cast<const unsigned char*>(given.data()), given.size(), b);
  return !expected.empty() && CRYPTO_memcmp(a, b, sizeof a) == 0;
}

struct service_state {
  /// The relay of each console's tail, by the console's sink.
  std::map<caf::actor, caf::actor> tails;
  std::chrono::steady_clock::time_point last_refusal_log{};
};

/// One console's tail: watches every node's hub (this node's directly, the members'
/// through their console services) and passes their activity to the console's sink in
/// batches (every 100 ms, or at 200 items: one message over the console's link instead of
/// one per item); ends, unwatching them all, when the console stops it or goes away.
struct tail_state {
  std::vector<sio::activity> batch;
};

caf::behavior tail_relay(caf::stateful_actor<tail_state>* self, caf::actor sink, std::vector<caf::actor> hubs,
                         std::vector<caf::actor> member_services, sio::activity_filter filter) {
  using flush_tail_atom = caf::atom_constant<caf::atom("tailflush")>;
  constexpr std::size_t batch_items = 200;
  constexpr auto batch_delay = std::chrono::milliseconds(100);
  self->monitor(sink);
  for (auto& h : hubs)
    self->send(h, sio::watch_atom::value, caf::actor_cast<caf::actor>(self), filter);
  for (auto& m : member_services)
    self->send(m, sio::watch_atom::value, caf::actor_cast<caf::actor>(self), filter);
  spdlog::debug("console: tail started ({} nodes)", hubs.size() + member_services.size());
  auto flush = [=] {
    if (!self->state.batch.empty())
      self->send(sink, std::move(self->state.batch));
    self->state.batch.clear();
  };
  auto stop = [=] {
    spdlog::debug("console: tail ended");
    for (auto& h : hubs)
      self->send(h, sio::unwatch_atom::value, caf::actor_cast<caf::actor>(self));
    for (auto& m : member_services)
      self->send(m, sio::unwatch_atom::value, caf::actor_cast<caf::actor>(self));
    self->quit();
  };
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source == sink.address())
      stop();
  });
  self->set_error_handler([](caf::error&) {});
  self->set_default_handler(caf::drop);
  return {
      [=](sio::activity& a) {
        auto& batch = self->state.batch;
        if (batch.empty())
          self->delayed_send(self, batch_delay, flush_tail_atom::value);
        batch.push_back(std::move(a));
        if (batch.size() >= batch_items)
          flush();
      },
      [=](flush_tail_atom) { flush(); },
      [=](sio::unwatch_atom) {
        flush();
        stop();
      },
  };
}

caf::behavior console_service(caf::stateful_actor<service_state>* self, std::shared_ptr<console_context> ctx) {
  auto core = ctx->io.core();
  auto refused = [=](const char* what) {
    // A guessing console is refused every time, logged at most once a second.
    auto now = std::chrono::steady_clock::now();
    if (now - self->state.last_refusal_log > std::chrono::seconds(1)) {
      self->state.last_refusal_log = now;
      auto sender = self->current_sender();
      spdlog::warn("console: refused a {} with a wrong admin token (from {})", what,
                   sender ? caf::to_string(sender->node()) : std::string("an anonymous sender"));
    }
  };
  auto member_only = [=]() -> bool {
    if (sio::from_member(self, *core))
      return true;
    spdlog::warn("console: a member request from outside the cluster was dropped");
    return false;
  };
  self->set_down_handler([](caf::down_msg&) {});
  // Whatever a console or a member sends, the service stays (CAF's defaults would quit
  // on an error message and answer strays).
  self->set_error_handler([](caf::error&) {});
  self->set_default_handler(caf::drop);
  return {
      [=](sio::console_command& c) {
        if (!token_ok(ctx->token, c.token)) {
          refused("command");
          if (c.reply_to)
            caf::anon_send(c.reply_to, sio::console_answer{c.id, sio::console_refused,
                                                           R"({"error":"wrong admin token"})"});
          return;
        }
        if (!c.reply_to)
          return;
        // What changes something is logged at info by the command itself.
        spdlog::debug("console: {}", c.words.empty() ? std::string() : c.words.front());
        auto to = c.reply_to;
        auto id = c.id;
        run_command(self, ctx, c.words, [to, id](int status, json::value v) {
          caf::anon_send(to, sio::console_answer{id, status, json::serialize(v)});
        });
      },
      [=](sio::console_tail& t) {
        if (!token_ok(ctx->token, t.token)) {
          refused("tail");
          if (t.sink)
            caf::anon_send(t.sink, sio::console_answer{0, sio::console_refused, R"({"error":"wrong admin token"})"});
          return;
        }
        if (!t.sink)
          return;
        auto members = sio::member_services(*core, "console");
        // Linked: the service's end (shutdown) ends the tails.
        sio::activity_filter filter;
        filter.nsp = t.nsp;
        filter.event = t.event;
        auto relay = self->spawn<caf::linked>(tail_relay, t.sink, std::vector<caf::actor>{core->activity->hub()},
                                              members, std::move(filter));
        auto& tails = self->state.tails;
        if (auto old = tails.find(t.sink); old != tails.end())
          self->send(old->second, sio::unwatch_atom::value);
        tails[t.sink] = relay;
        self->monitor(relay);
        json::object ok{{"tail", true}, {"nodes", members.size() + 1}};
        caf::anon_send(t.sink, sio::console_answer{0, sio::console_ok, json::serialize(ok)});
      },
      [=](sio::console_untail& u) {
        if (!token_ok(ctx->token, u.token))
          return refused("untail");
        auto& tails = self->state.tails;
        if (auto it = tails.find(u.sink); it != tails.end()) {
          self->send(it->second, sio::unwatch_atom::value);
          tails.erase(it);
        }
      },
      // -- from the members' console services --
      [=](sio::status_atom) -> caf::result<std::string> {
        if (!member_only())
          return caf::sec::request_receiver_down;
        auto rp = self->make_response_promise<std::string>();
        node_status(self, ctx, [rp](json::object s) mutable { rp.deliver(json::serialize(s)); });
        return rp;
      },
      [=](sio::watch_atom, caf::actor sink, sio::activity_filter& filter) {
        spdlog::debug("console: a member's tail watches this node");
        if (member_only())
          self->send(core->activity->hub(), sio::watch_atom::value, std::move(sink), std::move(filter));
      },
      [=](sio::unwatch_atom, caf::actor sink) {
        if (member_only())
          self->send(core->activity->hub(), sio::unwatch_atom::value, std::move(sink));
      },
      [=](sio::log_level_atom, const std::string& level) {
        if (!member_only())
          return;
        spdlog::set_level(spdlog::level::from_str(level));
        spdlog::info("console: log level {}", level);
      },
      [=](sio::drain_atom) {
        if (member_only())
          ctx->io.drain();
      },
      [=](sio::shutdown_atom) {
        if (!member_only())
          return;
        spdlog::info("console: shutdown");
        kill(getpid(), SIGTERM); // to the process: a thread of ours may block SIGTERM
      },
  };
}

} // namespace

caf::actor spawn_console_service(std::shared_ptr<console_context> ctx) {
  auto& sys = ctx->sys;
  auto a = sys.spawn(console_service, ctx);
  if (auto& node = ctx->io.core()->cluster)
    caf::anon_send(node, sio::register_service{"console", a});
  return a;
}

caf::expected<std::uint16_t> publish_console(caf::actor_system& sys, const caf::actor& service, const std::string& host,
                                             std::uint16_t port) {
  return sys.middleman().publish(service, port, host.c_str(), true);
}

} // namespace chat
