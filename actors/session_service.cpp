#include "actors/session_service.hpp"

#include "actors/cluster_node.hpp"
#include "actors/forwarding_messages.hpp"
#include "actors/remote_ws_channel.hpp"
#include "transport/engineio/packet.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <map>
#include <unordered_map>

namespace sio {

namespace {

/// A forwarded request's answer, from whichever thread the engine answered on, back to
/// the service that holds the CAF request's promise. Local only.
struct reply_ready {
  std::uint64_t key;
  http::response response;
};

} // namespace
} // namespace sio

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sio::reply_ready)

namespace sio {

namespace {

// -- the reply of a forwarded request ---------------------------------------------------

class remote_reply final : public http::reply {
public:
  remote_reply(caf::actor service, std::uint64_t key) : service_(std::move(service)), key_(key) {}
  ~remote_reply() override {
    if (!answered_.exchange(true))
      caf::anon_send(service_, reply_ready{key_, http::response::text(500, "Internal Server Error")});
  }
  void send(http::response r) override {
    if (!answered_.exchange(true))
      caf::anon_send(service_, reply_ready{key_, std::move(r)});
  }
  // Whether the client left is known on the front node only.
  bool closed() const override { return false; }

private:
  caf::actor service_;
  std::uint64_t key_;
  std::atomic<bool> answered_{false};
};

// -- the endpoint of a relayed WebSocket --------------------------------------------------

using attach_fn = std::function<std::shared_ptr<http::ws_sink>(http::ws_channel_ptr)>;

struct endpoint_state {
  std::shared_ptr<remote_ws_channel> channel;
  std::shared_ptr<http::ws_sink> sink;
  caf::actor relay;
  static inline const char* name = "ws_endpoint";
};
using endpoint_ptr = caf::stateful_actor<endpoint_state>*;

bool from_relay(endpoint_ptr self) {
  auto& sender = self->current_sender();
  return sender && sender == caf::actor_cast<caf::strong_actor_ptr>(self->state.relay);
}

void end_endpoint(endpoint_ptr self, const std::string& reason) {
  auto& st = self->state;
  st.channel->gone();
  st.sink->on_close(reason);
  self->quit();
}

caf::behavior ws_endpoint(endpoint_ptr self, caf::actor service, caf::actor relay,
                          std::shared_ptr<remote_ws_channel> channel, attach_fn attach) {
  auto& st = self->state;
  st.relay = relay;
  st.channel = channel;
  channel->bind(caf::actor_cast<caf::actor>(self));
  // The session gets the channel now (a ws_attach, as for a local upgrade).
  st.sink = attach(channel);
  // The relay's end (or its node's) ends the WebSocket; the service's end (the process
  // stops) ends the endpoint, which the actor system waits for.
  self->monitor(relay);
  self->monitor(service);
  self->set_down_handler([self](caf::down_msg&) { end_endpoint(self, "transport close"); });
  return {
      [self](relay_in& in) {
        if (from_relay(self))
          self->state.sink->on_message(in.binary, std::move(in.data));
      },
      [self](relay_gone& g) {
        if (from_relay(self))
          end_endpoint(self, g.reason);
      },
      [self](const relay_written& w) {
        if (from_relay(self))
          self->state.channel->written(static_cast<std::size_t>(w.bytes));
      },
      [self](channel_closed_atom) {
        if (self->current_sender() == self->ctrl())
          self->quit();
      },
  };
}

// -- the service ------------------------------------------------------------------------

struct service_state {
  std::shared_ptr<server_core> core;
  std::shared_ptr<session_host> host;
  /// Forwarded requests the engine has not answered yet.
  std::unordered_map<std::uint64_t, caf::response_promise> pending;
  std::uint64_t next_key = 0;
  /// The CAF nodes of the admitted members, by node number.
  std::map<std::uint32_t, caf::node_id> members;
  static inline const char* name = "sessions";
};
using service_ptr = caf::stateful_actor<service_state>*;

bool from_member(service_ptr self) {
  auto& sender = self->current_sender();
  if (!sender)
    return false;
  for (auto& [number, node] : self->state.members)
    if (node == sender->node())
      return true;
  return false;
}

caf::error not_a_member() {
  return caf::make_error(caf::sec::unexpected_message, "not from a cluster member");
}

caf::behavior session_service(service_ptr self, std::shared_ptr<server_core> core, std::shared_ptr<session_host> host) {
  self->state.core = std::move(core);
  self->state.host = std::move(host);
  if (auto& node = self->state.core->cluster) {
    self->send(node, subscribe_atom::value, caf::actor_cast<caf::actor>(self));
    // The service ends with the node actor (main ends it last).
    self->monitor(node);
    self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  }
  return {
      [self](node_up& up) {
        // This node's own entry is left out: its front end serves its sessions directly.
        if (up.info.node && up.info.node.node() != self->home_system().node())
          self->state.members[up.info.number] = up.info.node.node();
      },
      [self](const node_down& down) { self->state.members.erase(down.number); },
      [self](forwarded_request& f) -> caf::result<forwarded_response> {
        if (!from_member(self))
          return not_a_member();
        auto& st = self->state;
        auto key = ++st.next_key;
        auto rp = self->make_response_promise<forwarded_response>();
        st.pending.emplace(key, rp);
        st.host->serve_forwarded(request_of(std::move(f)),
                                 std::make_shared<remote_reply>(caf::actor_cast<caf::actor>(self), key));
        return rp;
      },
      [self](reply_ready& r) {
        auto& pending = self->state.pending;
        auto it = pending.find(r.key);
        if (it == pending.end())
          return;
        it->second.deliver(forwarded_from(std::move(r.response)));
        pending.erase(it);
      },
      [self](relay_attach& a) -> caf::result<relay_answer> {
        if (!from_member(self) || !a.relay)
          return not_a_member();
        auto& st = self->state;
        auto d = st.host->decide_forwarded(request_of(std::move(a.request)));
        if (d.refuse)
          return relay_answer{{}, forwarded_from(std::move(*d.refuse))};
        if (!d.attach) {
          auto bad = engineio::error_code::bad_request;
          return relay_answer{
              {}, forwarded_from(http::response::json(engineio::error_status(bad), engineio::error_body(bad)))};
        }
        auto channel = std::make_shared<remote_ws_channel>(a.relay, st.core->opts.max_queue_bytes);
        auto endpoint = self->spawn(ws_endpoint, caf::actor_cast<caf::actor>(self), a.relay, std::move(channel),
                                    std::move(d.attach));
        return relay_answer{endpoint, {}};
      },
  };
}

} // namespace

caf::actor spawn_session_service(std::shared_ptr<server_core> core, std::shared_ptr<session_host> host) {
  auto& sys = core->sys;
  return sys.spawn(session_service, std::move(core), std::move(host));
}

} // namespace sio
