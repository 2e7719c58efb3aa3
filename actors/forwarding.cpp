#include "actors/forwarding.hpp"

#include "actors/cluster_node.hpp"
#include "actors/forwarding_messages.hpp"
#include "actors/ids.hpp"
#include "actors/messages.hpp"
#include "transport/engineio/packet.hpp"

namespace sio {

caf::actor session_owner(const server_core& core, const http::request& req) {
  if (!core.cluster_members)
    return {};
  auto* sid = req.param("sid");
  if (!sid)
    return {};
  auto number = node_of_id(*sid);
  if (!number || *number == core.cluster_members->self_number())
    return {};
  auto member = core.cluster_members->find(*number);
  if (!member)
    return {};
  auto service = member->services.find("sessions");
  return service == member->services.end() ? caf::actor{} : service->second;
}

http::response session_gone() {
  auto code = engineio::error_code::unknown_sid;
  return http::response::json(engineio::error_status(code), engineio::error_body(code));
}

namespace {

// Arguments go through spawn: CAF 0.17 binds a null tuple for an argument-less spawn.
caf::behavior forwarding(caf::event_based_actor* self, std::shared_ptr<server_core> core, caf::actor owner,
                         forwarded_request f, http::reply_ptr r, std::chrono::milliseconds timeout) {
  // Ended at shutdown like a connection: a GET may wait at the owner for pingInterval.
  core->add_other(caf::actor_cast<caf::actor>(self));
  self->attach_functor([core, addr = self->address()] { core->remove_other(addr); });
  auto gone = [self, r] {
    r->send(session_gone());
    self->quit();
  };
  // A dead owner answers nothing: its node's link going down is the answer.
  self->monitor(owner);
  self->set_down_handler([gone](caf::down_msg&) { gone(); });
  self->request(owner, timeout, std::move(f))
      .then(
          [self, r](forwarded_response& res) {
            r->send(response_of(std::move(res)));
            self->quit();
          },
          [gone](caf::error&) { gone(); });
  return {
      [gone](close_request&) { gone(); },
  };
}

} // namespace

void forward_request(const std::shared_ptr<server_core>& core, caf::actor owner, http::request req, http::reply_ptr r) {
  if (core->shutting_down)
    return r->send(session_gone());
  auto timeout = core->opts.ping_interval + core->opts.ping_timeout;
  core->sys.spawn(forwarding, core, std::move(owner), forwarded_from(std::move(req)), std::move(r), timeout);
}

} // namespace sio
