// Modules sharing a namespace (server::module_builder): every module's connection and
// disconnect handlers run, each event belongs to one module, a second claim is refused
// when it is declared, and socket::on adds listeners instead of replacing them.
#define CAF_SUITE namespace_modules
#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/unit_test_impl.hpp>
#include <caf/test/dsl.hpp>

#include "actors/server.hpp"

#include "actors_fixture.hpp"

using namespace sio_test;

namespace {

// A namespace "/shared" added to the fixture's core, built through the public builder.
sio::server::namespace_builder shared_namespace(sio::server_core& core) {
  auto def = std::make_shared<sio::namespace_def>();
  def->name = "/shared";
  core.defs["/shared"] = def;
  return sio::server::namespace_builder(def);
}

// Emits `event` back with the module's name, so a test sees which handler answered.
sio::event_handler answer(std::string module) {
  return [module](sio::socket& s, sio::message&, const sio::ack_responder& ack) {
    s.emit("handled", {module});
    ack({module});
  };
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(namespace_modules_tests, fixture)

CAF_TEST(modules_share_a_namespace) {
  auto nsp = shared_namespace(*core);
  std::vector<std::string> connected, gone;
  nsp.module("a")
      .on_connection([&](sio::socket&) { connected.push_back("a"); })
      .on("ev-a", answer("a"))
      .on_disconnect([&](sio::socket&, const std::string&) { gone.push_back("a"); });
  nsp.module("b")
      .on_connection([&](sio::socket&) { connected.push_back("b"); })
      .on("ev-b", answer("b"))
      .on_disconnect([&](sio::socket&, const std::string&) { gone.push_back("b"); });
  CAF_CHECK_EQUAL(nsp.handler_of("ev-a").value_or(""), "a");
  CAF_CHECK_EQUAL(nsp.handler_of("ev-b").value_or(""), "b");
  CAF_CHECK(!nsp.handler_of("ev-c"));

  auto i = open();
  send_text(i, "40/shared,");
  CAF_CHECK_EQUAL(connected, (std::vector<std::string>{"a", "b"}));
  send_text(i, "42/shared,[\"ev-a\"]");
  CAF_CHECK_EQUAL(ws(i).sent.back(), "42/shared,[\"handled\",\"a\"]");
  send_text(i, "42/shared,7[\"ev-b\"]");
  CAF_CHECK_EQUAL(ws(i).sent.back(), "43/shared,7[\"b\"]");
  // An event no module handles is dropped, as socket.io drops events without listeners.
  auto before = ws(i).sent.size();
  send_text(i, "42/shared,[\"ev-c\"]");
  CAF_CHECK_EQUAL(ws(i).sent.size(), before);
  send_text(i, "41/shared,");
  CAF_CHECK_EQUAL(gone, (std::vector<std::string>{"a", "b"}));
}

CAF_TEST(second_module_for_an_event_is_refused) {
  auto nsp = shared_namespace(*core);
  nsp.module("simple-chat").on("join-room", answer("simple-chat"));
  std::string what;
  try {
    nsp.module("realtime").on("join-room", answer("realtime"));
  } catch (const sio::handler_conflict& e) {
    what = e.what();
  }
  CAF_CHECK_EQUAL(what, "namespace /shared: event 'join-room' is handled by module 'simple-chat' and by module "
                        "'realtime'");
  // The first declaration stands.
  CAF_CHECK_EQUAL(nsp.handler_of("join-room").value_or(""), "simple-chat");
  // One module declaring an event twice is the same mistake.
  CAF_CHECK(throws<sio::handler_conflict>(
      [&] { nsp.module("realtime").on("x", answer("realtime")).on("x", answer("realtime")); }));
  CAF_CHECK(throws<std::invalid_argument>([&] { nsp.module("realtime").on("disconnect", answer("realtime")); }));
}

CAF_TEST(socket_listeners_add_up) {
  auto nsp = shared_namespace(*core);
  nsp.module("a").on("ev", answer("module")).on_connection([](sio::socket& s) {
    s.on("ev", answer("first"));
    s.on("ev", answer("second"));
  });
  auto i = open();
  send_text(i, "40/shared,");
  ws(i).sent.clear();
  send_text(i, "42/shared,3[\"ev\"]");
  // All three run in order; the first answer is the ack, the others are dropped.
  CAF_CHECK_EQUAL(ws(i).sent, (std::vector<std::string>{"42/shared,[\"handled\",\"module\"]", "43/shared,3[\"module\"]",
                                                        "42/shared,[\"handled\",\"first\"]",
                                                        "42/shared,[\"handled\",\"second\"]"}));
}

CAF_TEST(listeners_stop_once_the_socket_is_gone) {
  auto nsp = shared_namespace(*core);
  int after = 0;
  nsp.module("a")
      .on("bye", [](sio::socket& s, sio::message&, const sio::ack_responder&) { s.disconnect(); })
      .on_connection([&after](sio::socket& s) {
        s.on("bye", [&after](sio::socket&, sio::message&, const sio::ack_responder&) { ++after; });
      });
  auto i = open();
  send_text(i, "40/shared,");
  send_text(i, "42/shared,[\"bye\"]");
  CAF_CHECK_EQUAL(after, 0);
  CAF_CHECK_EQUAL(ws(i).sent.back(), "41/shared,");
}

CAF_TEST_FIXTURE_SCOPE_END()
