#include "actors/connection.hpp"

namespace sio {

caf::behavior connection_state::start(std::shared_ptr<server_core> core, std::shared_ptr<session_entry> entry,
                                      std::string sid, std::shared_ptr<const handshake_info> hs) {
  auto* self = client_.self();
  entry->actor = caf::actor_cast<caf::actor>(self);
  // Registered before anything reaches the client, so its next request finds the session.
  core->add_session(sid, entry);
  // Whatever ends this actor, the session leaves the registry.
  self->attach_functor([core, sid] { core->remove_session(sid); });
  bool raw = entry->raw;
  client_.start(core, std::move(hs), raw, std::move(entry->pending));
  session_.start(std::move(core), std::move(entry), std::move(sid));
  self->set_down_handler([](caf::down_msg&) {});
  return {
      [=](ws_in& in) { session_.on_ws_in(in); },
      [=](ws_gone& g) { session_.on_ws_gone(g); },
      [=](ws_attach& a) { session_.on_ws_attach(a); },
      [=](poll_get& g) { session_.on_poll_get(std::move(g.reply)); },
      [=](poll_post& p) { session_.on_poll_post(std::move(p.body), p.binary_body, std::move(p.reply)); },
      [=](deliver& d) { client_.on_deliver(d); },
      [=](close_request& c) { session_.close_session(c.reason); },
      [=](const describe_socket& d) -> caf::result<remote_socket> {
        if (auto s = client_.describe(d.key))
          return std::move(*s);
        return caf::make_error(caf::sec::invalid_argument, "no such socket");
      },
      [=](const update_socket& u) -> caf::result<caf::ok_atom> {
        if (client_.update(u))
          return caf::ok_atom::value;
        return caf::make_error(caf::sec::invalid_argument, "no such socket");
      },
      [=](overcap_atom) { session_.on_overcap(); },
      [=](flush_atom) { session_.on_flush(); },
      [=](ping_atom, std::uint64_t generation) { session_.on_ping(generation); },
      [=](ping_timeout_atom, std::uint64_t generation) { session_.on_ping_timeout(generation); },
      [=](connect_timeout_atom) { client_.on_connect_timeout(); },
      [=](ack_timeout_atom, std::uint64_t key, std::uint64_t id) { client_.on_ack_timeout(key, id); },
      [=](upgrade_timeout_atom, std::uint64_t channel) { session_.on_upgrade_timeout(channel); },
      [=](probe_tick_atom, std::uint64_t channel) { session_.on_probe_tick(channel); },
      [=](close_timeout_atom) { session_.on_close_timeout(); },
  };
}

} // namespace sio
