#include "actors/api_service.hpp"

#include "actors/cluster_node.hpp"
#include "actors/messages.hpp"
#include "transport/socketio/packet.hpp"

#include <algorithm>
#include <unordered_map>

namespace sio {

namespace {

using expire_atom = caf::atom_constant<caf::atom("ssexpire")>;

struct api_service_state {
  std::weak_ptr<server_core> core;
  std::uint64_t next_ack = 0;
  /// server_side requests whose handler has not acked yet (each expires with its timeout).
  std::unordered_map<std::uint64_t, caf::response_promise> acks;
  static inline const char* name = "api_service";
};

using self_ptr = caf::stateful_actor<api_service_state>*;

// A member's timeout is taken within bounds: a pending ack holds memory until it expires.
std::chrono::milliseconds bounded(std::int64_t ms) {
  return std::chrono::milliseconds(std::clamp<std::int64_t>(ms, 1, 60000));
}

/// Each of the two steps (namespace, connections) gets a third of the caller's time.
std::chrono::milliseconds step_timeout(std::int64_t ms) {
  return std::max(std::chrono::milliseconds(1), bounded(ms) / 3);
}

/// Asks the namespace which sockets match, then each one's connection `make(ref)`; `done`
/// gets the answers that came in time.
template <class Reply, class Make>
void ask_sockets(self_ptr self, const caf::actor& nsp, const socket_selector& sel, std::chrono::milliseconds step,
                 Make make, std::function<void(std::vector<Reply>)> done) {
  self->request(nsp, step, select_sockets{sel.rooms, sel.except})
      .then(
          [self, step, make, done](socket_refs& refs) {
            if (refs.sockets.empty())
              return done({});
            auto p = std::make_shared<pending_answers<Reply>>();
            p->left = refs.sockets.size();
            p->done = done;
            for (auto& ref : refs.sockets)
              self->request(ref.connection, step, make(ref))
                  .then(
                      [p](Reply& r) {
                        p->answers.push_back(std::move(r));
                        p->one_less();
                      },
                      [p](caf::error&) { p->one_less(); });
          },
          [done](caf::error&) { done({}); });
}

server_side_handler handler_of(server_core& core, const std::string& nsp, const std::string& event) {
  std::lock_guard<std::mutex> guard(core.server_side_mutex);
  auto it = core.server_side_handlers.find(nsp + '\n' + event);
  return it == core.server_side_handlers.end() ? server_side_handler{} : it->second;
}

bool from_this_node(self_ptr self) {
  auto& sender = self->current_sender();
  return !sender || sender->node() == self->home_system().node();
}

caf::behavior api_service(self_ptr self, std::weak_ptr<server_core> weak_core) {
  self->state.core = std::move(weak_core);
  auto refused = [] { return caf::make_error(caf::sec::unexpected_message, "not a member of this cluster"); };
  return {
      [=](fetch_sockets_request& req) -> caf::result<remote_socket_list> {
        auto core = self->state.core.lock();
        if (!core || !from_member(self, *core))
          return refused();
        auto nsp = core->find_namespace(req.sockets.nsp);
        if (!nsp)
          return remote_socket_list{};
        auto rp = self->make_response_promise<remote_socket_list>();
        ask_sockets<remote_socket>(
            self, nsp->actor, req.sockets, step_timeout(req.timeout_ms),
            [](const socket_ref& ref) { return describe_socket{ref.key}; },
            [rp, node = node_name(*core)](std::vector<remote_socket> found) mutable {
              for (auto& s : found)
                s.node = node;
              rp.deliver(remote_socket_list{std::move(found)});
            });
        return rp;
      },
      [=](update_sockets_request& req) -> caf::result<std::uint64_t> {
        auto core = self->state.core.lock();
        if (!core || !from_member(self, *core))
          return refused();
        auto nsp = core->find_namespace(req.sockets.nsp);
        if (!nsp)
          return std::uint64_t{0};
        auto rp = self->make_response_promise<std::uint64_t>();
        update_socket change{0, req.kind, std::move(req.rooms), req.close};
        ask_sockets<caf::ok_atom>(
            self, nsp->actor, req.sockets, step_timeout(req.timeout_ms),
            [change](const socket_ref& ref) {
              auto u = change;
              u.key = ref.key;
              return u;
            },
            [rp](std::vector<caf::ok_atom> done) mutable { rp.deliver(static_cast<std::uint64_t>(done.size())); });
        return rp;
      },
      [=](server_side_request& req) -> caf::result<server_side_reply> {
        auto core = self->state.core.lock();
        if (!core || !from_member(self, *core))
          return refused();
        auto handler = handler_of(*core, req.nsp, req.event);
        if (!handler)
          return caf::make_error(caf::sec::unexpected_message, "no server-side handler for " + req.event);
        auto m = message_of(req.args, std::move(req.attachments));
        auto what = "server-side " + req.event;
        if (!req.wants_ack) {
          run_guarded(what.c_str(), [&] { handler(m, ack_responder{}); });
          return server_side_reply{};
        }
        auto& st = self->state;
        auto id = ++st.next_ack;
        auto rp = self->make_response_promise<server_side_reply>();
        st.acks.emplace(id, rp);
        self->delayed_send(self, bounded(req.timeout_ms), expire_atom::value, id);
        // The handler may ack later, from any thread: the ack comes back as a message.
        ack_responder ack([me = caf::actor_cast<caf::actor>(self), id, node = node_name(*core)](message reply) {
          caf::anon_send(me, server_side_ack{id, {node, json::serialize(reply.args), std::move(reply.attachments)}});
        });
        run_guarded(what.c_str(), [&] { handler(m, ack); });
        return rp;
      },
      [=](server_side_ack& a) {
        auto& acks = self->state.acks;
        auto it = acks.find(a.id);
        if (!from_this_node(self) || it == acks.end())
          return;
        it->second.deliver(std::move(a.reply));
        acks.erase(it);
      },
      [=](expire_atom, std::uint64_t id) {
        auto& acks = self->state.acks;
        auto it = acks.find(id);
        if (!from_this_node(self) || it == acks.end())
          return;
        it->second.deliver(caf::make_error(caf::sec::request_timeout));
        acks.erase(it);
      },
  };
}

} // namespace

message message_of(const std::string& args, std::vector<std::string> attachments) {
  message m;
  auto parsed = socketio::parse_json(args);
  if (parsed && parsed->is_array())
    m.args = std::move(parsed->as_array());
  m.attachments = std::move(attachments);
  return m;
}

caf::actor spawn_api_service(caf::actor_system& sys, std::weak_ptr<server_core> core) {
  return sys.spawn(api_service, std::move(core));
}

std::vector<caf::actor> member_services(const server_core& core, const std::string& name) {
  std::vector<caf::actor> out;
  if (!core.cluster_members)
    return out;
  auto self_number = core.cluster_members->self_number();
  for (auto& n : core.cluster_members->members()) {
    if (n.number == self_number)
      continue;
    if (auto it = n.services.find(name); it != n.services.end() && it->second)
      out.push_back(it->second);
  }
  return out;
}

std::vector<caf::actor> api_services(server_core& core, bool self, bool others) {
  std::vector<caf::actor> out;
  if (others)
    out = member_services(core, "api");
  if (self && core.api)
    out.push_back(core.api);
  return out;
}

std::string node_name(const server_core& core) {
  if (!core.cluster_members)
    return {};
  auto self = core.cluster_members->find(core.cluster_members->self_number());
  return self ? self->name : std::string{};
}

bool from_member(caf::local_actor* self, const server_core& core) {
  // Anonymous is refused: a BASP peer that never joined can address an exported actor by
  // its id and send without a sender; everything of ours asks with request() or send().
  auto& sender = self->current_sender();
  if (!sender)
    return false;
  if (sender->node() == self->home_system().node())
    return true;
  if (!core.cluster_members)
    return false;
  for (auto& n : core.cluster_members->members())
    if (n.node && n.node.node() == sender->node())
      return true;
  return false;
}

void announce_api_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<socket_selector>("sio::socket_selector");
  cfg.add_message_type<fetch_sockets_request>("sio::fetch_sockets_request");
  cfg.add_message_type<remote_socket_list>("sio::remote_socket_list");
  cfg.add_message_type<update_sockets_request>("sio::update_sockets_request");
  cfg.add_message_type<server_side_request>("sio::server_side_request");
  cfg.add_message_type<server_side_reply>("sio::server_side_reply");
  cfg.add_message_type<server_side_ack>("sio::server_side_ack");
}

} // namespace sio
