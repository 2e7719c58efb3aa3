// The C++ API's socket-set verbs and server-side events on one node (actors/api.hpp,
// actors/api_service.hpp), under CAF's deterministic test coordinator, and the messages
// that carry them between nodes through CAF's serializer.
#define CAF_SUITE api_service
#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/unit_test_impl.hpp>
#include <caf/test/dsl.hpp>

#include "actors_fixture.hpp"
#include "crossing.hpp"

#include "actors/api_service.hpp"
#include "actors/pusher_server.hpp"
#include "actors/server.hpp"

using namespace sio_test;

namespace {

struct api_fixture : fixture {
  api_fixture() { core->api = sio::spawn_api_service(sys, core); }

  sio::broadcast all() { return sio::broadcast(core->find_namespace("/")->actor, "/", core); }

  std::vector<sio::remote_socket> fetch(const sio::broadcast& b) {
    std::vector<sio::remote_socket> out;
    bool done = false;
    b.fetch_sockets([&](std::vector<sio::remote_socket> found) {
      out = std::move(found);
      done = true;
    });
    consume_messages();
    CAF_REQUIRE(done);
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.id < b.id; });
    return out;
  }

  std::map<std::size_t, std::string> ids;

  // Connects a client to "/" and keeps the socket id its CONNECT answer gave.
  std::size_t connect() {
    auto i = fixture::connect();
    for (auto& frame : ws(i).sent)
      if (frame.rfind("40{\"sid\":\"", 0) == 0)
        ids[i] = frame.substr(10, frame.find('"', 10) - 10);
    return i;
  }

  std::string id_of(std::size_t i) {
    if (!ids.count(i))
      CAF_FAIL("client " << i << " is not connected");
    return ids[i];
  }

  std::vector<std::string> ids_of(const std::vector<sio::remote_socket>& sockets) {
    std::vector<std::string> out;
    for (auto& s : sockets)
      out.push_back(s.id);
    return out;
  }

  std::vector<std::string> sorted_ids(std::initializer_list<std::size_t> clients) {
    std::vector<std::string> out;
    for (auto i : clients)
      out.push_back(id_of(i));
    std::sort(out.begin(), out.end());
    return out;
  }
};

using sio_test::crossed;

sio::remote_socket sample_socket() {
  sio::remote_socket s;
  s.id = "id-1";
  s.nsp = "/nsp-1";
  s.rooms = {"room-1", "room-2"};
  s.address = "10.0.0.1";
  s.headers = {{"header-1", "hv-1"}};
  s.query = {{"query-1", "qv-1"}};
  s.auth = "{\"auth-1\":1}";
  s.issued_ms = 1234567;
  s.data = "{\"data-1\":2}";
  s.node = "node-1";
  return s;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(api_service_tests, api_fixture)

// -- messages between nodes ------------------------------------------------------------------

CAF_TEST(every_message_crosses_a_node) {
  auto s = crossed(sys, sample_socket(),
                   {"id-1", "/nsp-1", "room-1", "room-2", "10.0.0.1", "header-1", "hv-1", "query-1", "qv-1", "auth-1",
                    "1234567", "data-1", "node-1"});
  CAF_CHECK_EQUAL(s.headers.at(0).second, "hv-1");
  CAF_CHECK_EQUAL(s.issued_ms, 1234567);
  sio::socket_selector sel{"/nsp-2", {"in-1"}, {"ex-1"}};
  auto f = crossed(sys, sio::fetch_sockets_request{sel, 4321}, {"/nsp-2", "in-1", "ex-1", "4321"});
  CAF_CHECK_EQUAL(f.sockets.except.at(0), "ex-1");
  auto list = crossed(sys, sio::remote_socket_list{{sample_socket(), sample_socket()}}, {"id-1", "node-1"});
  CAF_CHECK_EQUAL(list.sockets.size(), 2u);
  auto u = crossed(sys, sio::update_sockets_request{sel, sio::socket_update_kind::leave, {"to-1"}, true, 99},
                   {"/nsp-2", "in-1", "ex-1", "leave", "to-1", "99"});
  CAF_CHECK(u.kind == sio::socket_update_kind::leave);
  CAF_CHECK(u.close);
  auto d = crossed(sys, sio::update_socket{77, sio::socket_update_kind::disconnect, {}, true}, {"77", "disconnect"});
  CAF_CHECK(d.kind == sio::socket_update_kind::disconnect);
  // Values kept alive: CAF_CHECK_EQUAL holds references past the full expression.
  auto described = crossed(sys, sio::describe_socket{78}, {"78"});
  CAF_CHECK_EQUAL(described.key, 78u);
  auto selected = crossed(sys, sio::select_sockets{{"in-2"}, {"ex-2"}}, {"in-2", "ex-2"});
  CAF_CHECK_EQUAL(selected.except.at(0), "ex-2");
  auto req = crossed(sys, sio::server_side_request{"/nsp-3", "event-1", "[1,\"a\"]", {"bin-1"}, true, 555},
                     {"/nsp-3", "event-1", "bin-1", "555"});
  CAF_CHECK_EQUAL(req.args, "[1,\"a\"]");
  CAF_CHECK(req.wants_ack);
  auto reply = crossed(sys, sio::server_side_reply{"node-2", "[{\"x\":3}]", {"bin-2"}}, {"node-2", "bin-2"});
  CAF_CHECK_EQUAL(reply.args, "[{\"x\":3}]");
  auto t = crossed(sys, sio::pusher_terminate{"app-1", "user-1"}, {"app-1", "user-1"});
  CAF_CHECK_EQUAL(t.user_id, "user-1");
}

// -- the socket-set verbs on one node -----------------------------------------------------------

CAF_TEST(fetch_sockets_by_rooms_and_except) {
  auto a = connect(), b = connect(), c = connect();
  send_text(a, "42[\"join\",\"r1\"]");
  send_text(b, "42[\"join\",\"r1\"]");
  send_text(b, "42[\"join\",\"r2\"]");
  send_text(c, "42[\"join\",\"r2\"]");
  CAF_CHECK_EQUAL(ids_of(fetch(all())), sorted_ids({a, b, c}));
  CAF_CHECK_EQUAL(ids_of(fetch(all().to("r1"))), sorted_ids({a, b}));
  CAF_CHECK_EQUAL(ids_of(fetch(all().to("r1").to("r2"))), sorted_ids({a, b, c})); // each once
  CAF_CHECK_EQUAL(ids_of(fetch(all().to("r1").except("r2"))), sorted_ids({a}));
  CAF_CHECK_EQUAL(ids_of(fetch(all().except(id_of(c)))), sorted_ids({a, b}));
  CAF_CHECK(fetch(all().to("nobody")).empty());
  auto one = fetch(all().to(id_of(b)));
  CAF_REQUIRE_EQUAL(one.size(), 1u);
  CAF_CHECK_EQUAL(one[0].nsp, "/");
  std::vector<std::string> rooms{"r1", "r2", id_of(b)};
  std::sort(rooms.begin(), rooms.end());
  CAF_CHECK_EQUAL(one[0].rooms, rooms);
  CAF_CHECK_EQUAL(one[0].data, "{}");
  CAF_CHECK_EQUAL(one[0].node, ""); // no cluster
}

CAF_TEST(fetch_sockets_leaves_pusher_subscriptions_out) {
  auto a = connect();
  send_text(a, "42[\"join\",\"r1\"]");
  // A Pusher subscription: a member that takes room broadcasts only.
  auto nsp = core->find_namespace("/")->actor;
  anon_send(nsp, sio::socket_add{sio::next_key(), "1.2", clients[a].actor, nullptr, true});
  consume_messages();
  auto key = sio::next_key();
  anon_send(nsp, sio::socket_add{key, "3.4", clients[a].actor, nullptr, true});
  anon_send(nsp, sio::room_join{key, "r1"});
  consume_messages();
  CAF_CHECK_EQUAL(ids_of(fetch(all())), sorted_ids({a}));
  CAF_CHECK_EQUAL(ids_of(fetch(all().to("r1"))), sorted_ids({a}));
}

CAF_TEST(sockets_join_and_leave_go_through_each_connection) {
  auto a = connect(), b = connect(), c = connect();
  send_text(a, "42[\"join\",\"r1\"]");
  send_text(b, "42[\"join\",\"r1\"]");
  std::optional<std::size_t> count;
  all().to("r1").sockets_join({"r3", "r4"}, [&](std::size_t n) { count = n; });
  consume_messages();
  CAF_CHECK_EQUAL(count, std::optional<std::size_t>(2));
  CAF_CHECK_EQUAL(ids_of(fetch(all().to("r3"))), sorted_ids({a, b}));
  CAF_CHECK_EQUAL(ids_of(fetch(all().to("r4"))), sorted_ids({a, b}));
  // The connection tracks the rooms it joined this way: a broadcast to r3 reaches them.
  clear_all();
  send_text(c, "42[\"bcast\",{\"rooms\":[\"r3\"],\"except\":[],\"text\":\"hi\"}]");
  CAF_CHECK_EQUAL(ws(a).count("42[\"news\",\"hi\"]"), 1u);
  CAF_CHECK_EQUAL(ws(b).count("42[\"news\",\"hi\"]"), 1u);
  count.reset();
  all().except(id_of(a)).sockets_leave("r3", [&](std::size_t n) { count = n; });
  consume_messages();
  CAF_CHECK_EQUAL(count, std::optional<std::size_t>(2)); // b and c were asked (c is not in r3)
  CAF_CHECK_EQUAL(ids_of(fetch(all().to("r3"))), sorted_ids({a}));
  CAF_CHECK_EQUAL(ids_of(fetch(all().to("r4"))), sorted_ids({a, b}));
  // Without a callback too.
  all().sockets_leave("r4");
  consume_messages();
  CAF_CHECK(fetch(all().to("r4")).empty());
}

CAF_TEST(sockets_join_keeps_the_room_limit) {
  // max_rooms_per_socket is 1000 by default: fill one socket up to it, then ask for more.
  auto a = connect();
  std::vector<std::string> rooms;
  for (int i = 0; i < 998; ++i)
    rooms.push_back("room-" + std::to_string(i));
  all().sockets_join(rooms);
  consume_messages();
  auto one = fetch(all());
  CAF_REQUIRE_EQUAL(one.size(), 1u);
  CAF_CHECK_EQUAL(one[0].rooms.size(), 999u); // with its own id room
  all().sockets_join({"extra-1", "extra-2"});
  consume_messages();
  one = fetch(all());
  CAF_CHECK_EQUAL(one[0].rooms.size(), 1000u);
  CAF_CHECK(fetch(all().to("extra-1")).size() == 1u);
  CAF_CHECK(fetch(all().to("extra-2")).empty());
  (void)a;
}

CAF_TEST(disconnect_sockets_with_and_without_the_connection) {
  auto a = connect(), b = connect(), c = connect();
  send_text(a, "42[\"join\",\"r1\"]");
  send_text(b, "42[\"join\",\"r2\"]");
  std::optional<std::size_t> count;
  all().to("r1").disconnect_sockets(false, [&](std::size_t n) { count = n; });
  consume_messages();
  CAF_CHECK_EQUAL(count, std::optional<std::size_t>(1));
  CAF_CHECK_EQUAL(ws(a).count("41"), 1u); // a server namespace disconnect
  CAF_CHECK(!ws(a).closed);
  CAF_CHECK_EQUAL(disconnect_reasons, (std::vector<std::string>{"server namespace disconnect"}));
  all().to("r2").disconnect_sockets(true);
  consume_messages();
  CAF_CHECK_EQUAL(ws(b).count("41"), 1u);
  CAF_CHECK(ws(b).closed);
  CAF_CHECK_EQUAL(ids_of(fetch(all())), sorted_ids({c}));
}

CAF_TEST(an_empty_broadcast_answers_nothing) {
  std::optional<std::size_t> count;
  bool fetched = false;
  sio::broadcast().fetch_sockets([&](std::vector<sio::remote_socket> found) { fetched = found.empty(); });
  sio::broadcast().sockets_join("r", [&](std::size_t n) { count = n; });
  CAF_CHECK(fetched);
  CAF_CHECK_EQUAL(count, std::optional<std::size_t>(0));
}

// -- server-side events ------------------------------------------------------------------------

CAF_TEST(server_side_request_runs_the_handler_and_waits_for_its_ack) {
  std::vector<std::string> seen;
  std::optional<sio::ack_responder> later;
  {
    std::lock_guard<std::mutex> guard(core->server_side_mutex);
    core->server_side_handlers["/\nnow"] = [&](sio::message& m, const sio::ack_responder& ack) {
      seen.push_back(json::serialize(m.args));
      ack({"pong", 1});
    };
    core->server_side_handlers["/\nlater"] = [&](sio::message&, const sio::ack_responder& ack) { later = ack; };
    core->server_side_handlers["/\nnever"] = [](sio::message&, const sio::ack_responder&) {};
  }
  // Asks the service as a member would; `between` runs before the answer is read.
  auto ask = [&](std::string event, std::function<void()> between = {}) {
    std::string answer = "none";
    auto h = self->request(core->api, caf::infinite,
                           sio::server_side_request{"/", event, "[\"ping\",{\"n\":2}]", {}, true, 1000});
    consume_messages();
    if (between)
      between();
    h.receive([&](sio::server_side_reply& r) { answer = r.args; },
              [&](caf::error& err) { answer = "error: " + sys.render(err); });
    return answer;
  };
  CAF_CHECK_EQUAL(ask("now"), "[\"pong\",1]");
  CAF_CHECK_EQUAL(seen, (std::vector<std::string>{"[\"ping\",{\"n\":2}]"}));
  // An ack from outside the handler, later (here from the test's thread).
  CAF_CHECK_EQUAL(ask("later",
                      [&] {
                        CAF_REQUIRE(later);
                        (*later)({"late"});
                        consume_messages();
                      }),
                  "[\"late\"]");
  // No ack within the request's timeout: an error, and the service forgets it.
  auto never = ask("never", [&] {
    advance_time(1000ms);
    consume_messages();
  });
  CAF_CHECK(never.find("request_timeout") != std::string::npos);
  CAF_CHECK(ask("nobody").find("no server-side handler") != std::string::npos);
}

CAF_TEST(server_side_emit_never_reaches_this_node) {
  sio::server io(sys, {});
  bool ran = false;
  io.on_server_side("/", "hello", [&](sio::message&, const sio::ack_responder&) { ran = true; });
  std::optional<std::size_t> answers;
  io.server_side_emit("/", "hello", {"x"}, [&](std::vector<sio::server_side_answer> a) { answers = a.size(); });
  io.server_side_emit("/", "hello", {"x"});
  consume_messages();
  CAF_CHECK_EQUAL(answers, std::optional<std::size_t>(0)); // no other node
  CAF_CHECK(!ran);
  auto nothing = [](sio::message&, const sio::ack_responder&) {};
  CAF_CHECK(throws<sio::handler_conflict>([&] { io.on_server_side("/", "hello", nothing); }));
  CAF_CHECK(throws<std::invalid_argument>([&] { io.on_server_side("/", "disconnect", nothing); }));
  CAF_CHECK(throws<std::invalid_argument>([&] { io.server_side_emit("/", "connect", {}); }));
}

CAF_TEST_FIXTURE_SCOPE_END()
