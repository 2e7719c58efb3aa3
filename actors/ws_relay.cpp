#include "actors/ws_relay.hpp"

#include "actors/actor_sink.hpp"

#include <spdlog/spdlog.h>

namespace sio {

namespace {

/// Close codes the relay ends a client's WebSocket with when the session cannot go on
/// here: the owner refused the upgrade, or the owner (or this node) is going away.
constexpr std::uint16_t close_refused = 1008;
constexpr std::uint16_t close_going_away = 1001;
/// A close frame's reason has room for 123 bytes.
constexpr std::size_t max_close_reason = 123;

struct relay_state {
  std::shared_ptr<server_core> core;
  http::ws_channel_ptr ws;
  caf::actor owner;             // the owner's "sessions" service
  caf::actor endpoint;          // the owner's end of this WebSocket, once attached
  std::vector<relay_in> early;  // the client's messages before the endpoint is known
  std::uint64_t unreported = 0; // bytes queued on `ws` and not yet reported (relay_written)
  bool report_pending = false;
  static inline const char* name = "ws_relay";
};
using relay_ptr = caf::stateful_actor<relay_state>*;

bool from_owner(relay_ptr self) {
  auto& sender = self->current_sender();
  return sender && sender->node() == self->state.owner.node();
}

/// Ends the relay, telling the owner's endpoint why (it also learns it from its monitor,
/// as "transport close").
void end_relay(relay_ptr self, const char* reason) {
  if (self->state.endpoint && reason)
    self->send(self->state.endpoint, relay_gone{reason});
  self->quit();
}

void report_written(relay_ptr self) {
  auto& st = self->state;
  st.report_pending = false;
  if (!st.endpoint || st.unreported == 0)
    return;
  self->send(st.endpoint, relay_written{st.unreported});
  st.unreported = 0;
}

void on_answer(relay_ptr self, relay_answer& a) {
  auto& st = self->state;
  if (!a.endpoint) {
    auto reason = std::move(a.refusal.body);
    if (reason.size() > max_close_reason)
      reason.resize(max_close_reason);
    st.ws->close(close_refused, std::move(reason));
    return self->quit();
  }
  st.endpoint = std::move(a.endpoint);
  self->monitor(st.endpoint);
  for (auto& m : st.early)
    self->send(st.endpoint, std::move(m));
  st.early.clear();
  report_written(self);
}

caf::behavior ws_relay(relay_ptr self, std::shared_ptr<server_core> core, caf::actor owner, forwarded_request upgrade,
                       http::ws_channel_ptr ws) {
  auto& st = self->state;
  st.core = core;
  st.ws = std::move(ws);
  st.owner = owner;
  // Closed at shutdown like the other protocols' connections.
  core->add_other(caf::actor_cast<caf::actor>(self));
  self->attach_functor([core, addr = self->address()] { core->remove_other(addr); });
  self->monitor(owner);
  self->set_down_handler([self](caf::down_msg&) {
    // The owner's node (or its endpoint) is gone, and the session with it.
    self->state.ws->close(close_going_away, {});
    self->quit();
  });
  self->request(owner, core->opts.upgrade_timeout, relay_attach{std::move(upgrade), caf::actor_cast<caf::actor>(self)})
      .then([self](relay_answer& a) { on_answer(self, a); },
            [self](caf::error& err) {
              spdlog::debug("relay: no attach from the session's node: {}", self->system().render(err));
              self->state.ws->close(close_going_away, {});
              self->quit();
            });
  return {
      [self](ws_in& in) {
        auto& st = self->state;
        relay_in m{in.binary, std::move(in.data)};
        if (st.endpoint)
          self->send(st.endpoint, std::move(m));
        else
          st.early.push_back(std::move(m));
      },
      [self](ws_gone& g) { end_relay(self, g.reason.c_str()); },
      [self](relay_frames& f) {
        if (!from_owner(self))
          return;
        auto& st = self->state;
        auto bytes = f.bytes();
        if (st.ws->send(std::move(f.messages)) == http::ws_channel::send_result::over_cap) {
          // As a local session does with a client that does not read.
          st.ws->abort();
          return end_relay(self, "transport error");
        }
        st.unreported += bytes;
        // One report per burst: now when nothing else waits, else after what waits.
        if (self->mailbox().empty())
          report_written(self);
        else if (!st.report_pending) {
          st.report_pending = true;
          self->send(self, wflush_atom::value);
        }
      },
      [self](wflush_atom) { report_written(self); },
      [self](relay_close& c) {
        if (!from_owner(self))
          return;
        self->state.ws->close(c.code, std::move(c.reason));
        self->quit();
      },
      [self](relay_abort_atom) {
        if (!from_owner(self))
          return;
        self->state.ws->abort();
        self->quit();
      },
      [self](const relay_consumed& c) {
        if (from_owner(self))
          self->state.ws->consumed(static_cast<std::size_t>(c.bytes));
      },
      [self](close_request&) {
        self->state.ws->close(close_going_away, {});
        end_relay(self, "transport close");
      },
  };
}

} // namespace

std::shared_ptr<http::ws_sink> relay_websocket(std::shared_ptr<server_core> core, caf::actor owner,
                                               forwarded_request upgrade, http::ws_channel_ptr ws) {
  auto& sys = core->sys;
  auto relay = sys.spawn(ws_relay, std::move(core), std::move(owner), std::move(upgrade), std::move(ws));
  return std::make_shared<actor_sink>(relay, 0);
}

} // namespace sio
