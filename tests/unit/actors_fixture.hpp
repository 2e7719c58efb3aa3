// The actor tests' fixture: a server core with echo, room and broadcast handlers, under
// CAF's deterministic test coordinator, and clients whose WebSocket is a fake channel that
// records what the server sends. Include after caf/test/dsl.hpp, once per test program.
#pragma once

#include "actors/connection.hpp"
#include "actors/ids.hpp"
#include "actors/messages.hpp"

#include <algorithm>
#include <stdexcept>

using namespace std::chrono_literals;
namespace json = boost::json;

namespace sio_test {

// Whether `fn` throws an E.
template <class E, class F> bool throws(F fn) {
  try {
    fn();
  } catch (const E&) {
    return true;
  }
  return false;
}

struct config : caf::actor_system_config {
  config() { sio::announce_message_types(*this); }
};

// Records every message the server writes to one client.
class fake_channel final : public sio::http::ws_channel {
public:
  send_result send(std::vector<sio::http::ws_message> messages) override {
    if (closed)
      return send_result::closed;
    if (over_cap)
      return send_result::over_cap;
    for (auto& m : messages)
      sent.push_back((m.binary ? "<bin>" : "") + *m.data);
    return send_result::queued;
  }
  send_result send(sio::http::ws_message message) override {
    std::vector<sio::http::ws_message> one;
    one.push_back(std::move(message));
    return send(std::move(one));
  }
  std::size_t queued_bytes() const override { return queued; }
  void close(std::uint16_t, std::string) override { closed = true; }
  void abort() override { closed = aborted = true; }
  void consumed(std::size_t bytes) override { consumed_bytes += bytes; }
  std::size_t consumed_bytes = 0;

  std::vector<std::string> sent;
  bool closed = false;
  bool aborted = false;
  std::size_t queued = 0; // pretend this much is still unwritten
  bool over_cap = false;  // pretend the client stopped reading

  std::size_t count(const std::string& frame) const { return std::count(sent.begin(), sent.end(), frame); }
  bool saw_prefix(const std::string& prefix) const {
    return std::any_of(sent.begin(), sent.end(), [&](const std::string& s) { return s.rfind(prefix, 0) == 0; });
  }
};

struct client {
  caf::actor actor;
  std::shared_ptr<fake_channel> ws;
  std::uint64_t channel;
};

struct fixture : test_coordinator_fixture<config> {
  std::shared_ptr<sio::server_core> core;
  std::vector<client> clients;
  std::vector<std::string> ack_results;
  std::vector<std::string> disconnect_reasons;

  fixture() {
    sio::server_options opts;
    opts.ping_interval = 1000ms;
    opts.ping_timeout = 500ms;
    opts.connect_timeout = 2000ms;
    core = std::make_shared<sio::server_core>(sys, opts);
    auto def = std::make_shared<sio::namespace_def>();
    def->on_connection.push_back([this](sio::socket& s) { handlers(s); });
    core->defs["/"] = def;
    auto guarded = std::make_shared<sio::namespace_def>();
    guarded->middlewares.push_back([](sio::socket& s) -> std::optional<sio::connect_error> {
      if (s.handshake().auth.contains("reject"))
        return sio::connect_error{"not authorized", json::object{{"code", 7}}};
      return std::nullopt;
    });
    guarded->on_connection.push_back([this](sio::socket& s) { handlers(s); });
    core->defs["/guarded"] = guarded;
  }

  ~fixture() override {
    for (auto& c : clients)
      anon_send(c.actor, sio::close_request{"server shutting down"});
    consume_messages();
  }

  void handlers(sio::socket& s) {
    s.on("echo", [](sio::socket& s, sio::message& m, const sio::ack_responder&) { s.emit("echo-back", m); });
    s.on("join", [](sio::socket& s, sio::message& m, const sio::ack_responder&) {
      s.join(std::string(m.args[0].as_string()));
    });
    s.on("leave", [](sio::socket& s, sio::message& m, const sio::ack_responder&) {
      s.leave(std::string(m.args[0].as_string()));
    });
    s.on("bcast", [](sio::socket& s, sio::message& m, const sio::ack_responder&) {
      auto& req = m.args[0].as_object();
      auto b = s.nsp_all();
      for (auto& r : req.at("rooms").as_array())
        b = b.to(std::string(r.as_string()));
      for (auto& r : req.at("except").as_array())
        b = b.except(std::string(r.as_string()));
      b.emit("news", {req.at("text")});
    });
    s.on("vbcast",
         [](sio::socket& s, sio::message&, const sio::ack_responder&) { s.nsp_all().volatile_().emit("v", {1}); });
    s.on("ask", [this](sio::socket& s, sio::message&, const sio::ack_responder&) {
      s.emit_with_ack("question", {"q"}, 100ms, [this](sio::socket&, std::optional<sio::message> reply) {
        ack_results.push_back(reply ? json::serialize(reply->args) : "timeout");
      });
    });
    s.on_disconnect([this](sio::socket&, const std::string& reason) { disconnect_reasons.push_back(reason); });
  }

  // A new Engine.IO session over WebSocket (protocol 4, or 3 for Socket.IO v2 clients);
  // returns its index.
  std::size_t open(int protocol = 4) {
    client c;
    c.ws = std::make_shared<fake_channel>();
    c.channel = sio::next_key();
    auto entry = std::make_shared<sio::session_entry>();
    entry->protocol = protocol;
    c.actor = sio::spawn_websocket_connection(core, entry, sio::make_id(),
                                              std::make_shared<const sio::handshake_info>(), c.channel, c.ws);
    clients.push_back(c);
    consume_messages();
    return clients.size() - 1;
  }

  void send_text(std::size_t i, std::string text) {
    anon_send(clients[i].actor, sio::ws_in{clients[i].channel, false, std::move(text)});
    consume_messages();
  }

  // Opens a session and connects it to "/"; returns its index.
  std::size_t connect() {
    auto i = open();
    send_text(i, "40");
    return i;
  }

  fake_channel& ws(std::size_t i) { return *clients[i].ws; }
  void clear_all() {
    for (auto& c : clients)
      c.ws->sent.clear();
  }
};

} // namespace sio_test
