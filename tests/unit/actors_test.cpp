// Connection, namespace and room actors under CAF's deterministic test coordinator. The
// WebSocket is a fake channel that records what the server sends; time only moves when
// a test advances it.
#define CAF_SUITE actors
#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/unit_test_impl.hpp>
#include <caf/test/dsl.hpp>

#include "actors_fixture.hpp"

using namespace sio_test;

CAF_TEST_FIXTURE_SCOPE(actors_tests, fixture)

CAF_TEST(handshake_then_connect) {
  auto i = open();
  CAF_REQUIRE_EQUAL(ws(i).sent.size(), 1u);
  CAF_CHECK(ws(i).sent[0].rfind("0{\"sid\":", 0) == 0);
  CAF_CHECK(ws(i).sent[0].find("\"upgrades\":[]") != std::string::npos);
  send_text(i, "40");
  CAF_REQUIRE_EQUAL(ws(i).sent.size(), 2u);
  CAF_CHECK(ws(i).sent[1].rfind("40{\"sid\":\"", 0) == 0);
  send_text(i, "42[\"echo\",1,{\"a\":true}]");
  CAF_CHECK_EQUAL(ws(i).sent.back(), "42[\"echo-back\",1,{\"a\":true}]");
}

CAF_TEST(middleware_refusal) {
  auto i = open();
  send_text(i, "40/guarded,{\"reject\":true}");
  CAF_CHECK_EQUAL(ws(i).sent.back(), "44/guarded,{\"message\":\"not authorized\",\"data\":{\"code\":7}}");
  CAF_CHECK(!ws(i).closed);
  send_text(i, "40/guarded,{}");
  CAF_CHECK(ws(i).sent.back().rfind("40/guarded,{\"sid\":", 0) == 0);
}

CAF_TEST(event_for_unconnected_namespace_closes) {
  auto i = connect();
  send_text(i, "42/guarded,[\"echo\",1]");
  CAF_CHECK_EQUAL(ws(i).count("42/guarded,[\"echo-back\",1]"), 0u);
  CAF_CHECK(ws(i).closed);
}

CAF_TEST(unknown_namespace) {
  auto i = open();
  send_text(i, "40/nope,");
  CAF_CHECK_EQUAL(ws(i).sent.back(), "44/nope,{\"message\":\"Invalid namespace\"}");
  CAF_CHECK(!ws(i).closed);
}

CAF_TEST(join_leave_and_room_broadcast) {
  auto a = connect(), b = connect(), c = connect();
  send_text(a, "42[\"join\",\"r1\"]");
  send_text(b, "42[\"join\",\"r1\"]");
  clear_all();
  send_text(c, "42[\"bcast\",{\"rooms\":[\"r1\"],\"except\":[],\"text\":\"hi\"}]");
  const std::string news = "42[\"news\",\"hi\"]";
  CAF_CHECK_EQUAL(ws(a).count(news), 1u);
  CAF_CHECK_EQUAL(ws(b).count(news), 1u);
  CAF_CHECK_EQUAL(ws(c).count(news), 0u);
  send_text(b, "42[\"leave\",\"r1\"]");
  clear_all();
  send_text(c, "42[\"bcast\",{\"rooms\":[\"r1\"],\"except\":[],\"text\":\"hi\"}]");
  CAF_CHECK_EQUAL(ws(a).count(news), 1u);
  CAF_CHECK_EQUAL(ws(b).count(news), 0u);
}

CAF_TEST(namespace_broadcast_with_exceptions) {
  auto a = connect(), b = connect(), c = connect();
  send_text(b, "42[\"join\",\"muted\"]");
  clear_all();
  send_text(a, "42[\"bcast\",{\"rooms\":[],\"except\":[\"muted\"],\"text\":\"all\"}]");
  const std::string news = "42[\"news\",\"all\"]";
  CAF_CHECK_EQUAL(ws(a).count(news), 1u);
  CAF_CHECK_EQUAL(ws(b).count(news), 0u);
  CAF_CHECK_EQUAL(ws(c).count(news), 1u);
}

CAF_TEST(room_broadcast_with_exceptions) {
  auto a = connect(), b = connect(), c = connect();
  for (auto i : {a, b, c})
    send_text(i, "42[\"join\",\"r\"]");
  send_text(c, "42[\"join\",\"quiet\"]");
  clear_all();
  send_text(a, "42[\"bcast\",{\"rooms\":[\"r\"],\"except\":[\"quiet\"],\"text\":\"x\"}]");
  const std::string news = "42[\"news\",\"x\"]";
  CAF_CHECK_EQUAL(ws(a).count(news), 1u);
  CAF_CHECK_EQUAL(ws(b).count(news), 1u);
  CAF_CHECK_EQUAL(ws(c).count(news), 0u);
}

CAF_TEST(once_per_socket_over_several_rooms) {
  auto a = connect(), b = connect(), c = connect(), d = connect();
  send_text(a, "42[\"join\",\"r1\"]");
  send_text(a, "42[\"join\",\"r2\"]");
  send_text(a, "42[\"join\",\"r3\"]");
  send_text(b, "42[\"join\",\"r2\"]");
  send_text(c, "42[\"join\",\"r3\"]");
  clear_all();
  send_text(d, "42[\"bcast\",{\"rooms\":[\"r1\",\"r2\",\"r3\"],\"except\":[],\"text\":\"u\"}]");
  const std::string news = "42[\"news\",\"u\"]";
  CAF_CHECK_EQUAL(ws(a).count(news), 1u);
  CAF_CHECK_EQUAL(ws(b).count(news), 1u);
  CAF_CHECK_EQUAL(ws(c).count(news), 1u);
  CAF_CHECK_EQUAL(ws(d).count(news), 0u);
}

CAF_TEST(socket_id_room) {
  auto a = connect(), b = connect();
  auto frame = ws(b).sent[1]; // 40{"sid":"..."}
  auto sid = json::parse(frame.substr(2)).as_object().at("sid").as_string();
  clear_all();
  send_text(a, "42[\"bcast\",{\"rooms\":[\"" + std::string(sid) + "\"],\"except\":[],\"text\":\"dm\"}]");
  CAF_CHECK_EQUAL(ws(b).count("42[\"news\",\"dm\"]"), 1u);
  CAF_CHECK_EQUAL(ws(a).count("42[\"news\",\"dm\"]"), 0u);
}

CAF_TEST(server_ack_answered_and_timed_out) {
  auto a = connect();
  send_text(a, "42[\"ask\"]");
  CAF_CHECK_EQUAL(ws(a).sent.back(), "420[\"question\",\"q\"]");
  send_text(a, "430[\"answer\",7]");
  CAF_REQUIRE_EQUAL(ack_results.size(), 1u);
  CAF_CHECK_EQUAL(ack_results[0], "[\"answer\",7]");
  send_text(a, "42[\"ask\"]");
  CAF_CHECK_EQUAL(ws(a).sent.back(), "421[\"question\",\"q\"]");
  advance_time(100ms);
  consume_messages();
  CAF_REQUIRE_EQUAL(ack_results.size(), 2u);
  CAF_CHECK_EQUAL(ack_results[1], "timeout");
  // A late answer is ignored.
  send_text(a, "431[\"late\"]");
  CAF_CHECK_EQUAL(ack_results.size(), 2u);
}

CAF_TEST(client_ack_request) {
  auto a = connect();
  core->defs["/"]->on_connection = {[](sio::socket& s) {
    s.on("q", [](sio::socket&, sio::message& m, const sio::ack_responder& ack) { ack(std::move(m)); });
  }};
  auto b = connect();
  send_text(b, "425[\"q\",\"x\",2]");
  CAF_CHECK_EQUAL(ws(b).sent.back(), "435[\"x\",2]");
  CAF_CHECK(!ws(a).closed);
}

CAF_TEST(binary_event_round_trip) {
  auto a = connect();
  send_text(a, "451-[\"echo\",{\"_placeholder\":true,\"num\":0}]");
  CAF_CHECK(!ws(a).saw_prefix("451-[\"echo-back\""));
  anon_send(clients[a].actor, sio::ws_in{clients[a].channel, true, std::string("\x01\x02", 2)});
  consume_messages();
  auto n = ws(a).sent.size();
  CAF_REQUIRE(n >= 2);
  CAF_CHECK_EQUAL(ws(a).sent[n - 2], "451-[\"echo-back\",{\"_placeholder\":true,\"num\":0}]");
  CAF_CHECK_EQUAL(ws(a).sent[n - 1], std::string("<bin>\x01\x02", 7));
}

CAF_TEST(connect_timeout) {
  auto a = open();
  auto b = connect();
  // b answers its ping (a too: the heartbeat is not what closes it).
  advance_time(1000ms);
  consume_messages();
  send_text(a, "3");
  send_text(b, "3");
  advance_time(1000ms);
  consume_messages();
  CAF_CHECK(ws(a).closed);
  CAF_CHECK(!ws(b).closed);
}

CAF_TEST(heartbeat_timeout) {
  auto a = connect(), b = connect();
  advance_time(1000ms);
  consume_messages();
  CAF_CHECK_EQUAL(ws(a).sent.back(), "2");
  CAF_CHECK_EQUAL(ws(b).sent.back(), "2");
  send_text(b, "3"); // b answers, a does not
  advance_time(500ms);
  consume_messages();
  CAF_CHECK(ws(a).closed);
  CAF_CHECK(!ws(b).closed);
  CAF_REQUIRE_EQUAL(disconnect_reasons.size(), 1u);
  CAF_CHECK_EQUAL(disconnect_reasons[0], "ping timeout");
  // b's next ping comes an interval after its pong (t = 1000 ms), and the deadline counts
  // from that pong too, not from when the ping went out: b, silent now, is gone at
  // pong + pingInterval + pingTimeout = 2500 ms.
  advance_time(499ms);
  consume_messages();
  CAF_CHECK_EQUAL(ws(b).count("2"), 1u);
  advance_time(1ms);
  consume_messages();
  CAF_CHECK_EQUAL(ws(b).count("2"), 2u);
  advance_time(499ms);
  consume_messages();
  CAF_CHECK(!ws(b).closed);
  advance_time(1ms);
  consume_messages();
  CAF_CHECK(ws(b).closed);
}

CAF_TEST(parse_error_closes_connection) {
  auto a = connect(), b = connect();
  send_text(a, "42{}");
  CAF_CHECK(ws(a).closed);
  CAF_REQUIRE_EQUAL(disconnect_reasons.size(), 1u);
  CAF_CHECK_EQUAL(disconnect_reasons[0], "parse error");
  send_text(b, "42[\"echo\",\"still here\"]");
  CAF_CHECK_EQUAL(ws(b).sent.back(), "42[\"echo-back\",\"still here\"]");
}

CAF_TEST(disconnect_reasons) {
  auto a = connect(), b = connect();
  send_text(a, "41");
  CAF_REQUIRE_EQUAL(disconnect_reasons.size(), 1u);
  CAF_CHECK_EQUAL(disconnect_reasons[0], "client namespace disconnect");
  anon_send(clients[b].actor, sio::ws_gone{clients[b].channel, "transport close"});
  consume_messages();
  CAF_REQUIRE_EQUAL(disconnect_reasons.size(), 2u);
  CAF_CHECK_EQUAL(disconnect_reasons[1], "transport close");
  auto c = connect();
  anon_send(clients[c].actor, sio::close_request{"server shutting down"});
  consume_messages();
  CAF_REQUIRE_EQUAL(disconnect_reasons.size(), 3u);
  CAF_CHECK_EQUAL(disconnect_reasons[2], "server shutting down");
  CAF_CHECK(ws(c).closed);
}

CAF_TEST(volatile_dropped_for_busy_client) {
  auto a = connect(), b = connect();
  ws(b).queued = 100;
  clear_all();
  send_text(a, "42[\"vbcast\"]");
  CAF_CHECK_EQUAL(ws(a).count("42[\"v\",1]"), 1u);
  CAF_CHECK_EQUAL(ws(b).count("42[\"v\",1]"), 0u);
  CAF_CHECK(!ws(b).closed);
}

CAF_TEST(client_over_write_cap_is_dropped) {
  auto a = connect(), b = connect();
  ws(b).over_cap = true;
  send_text(a, "42[\"bcast\",{\"rooms\":[],\"except\":[],\"text\":\"big\"}]");
  CAF_CHECK(ws(b).aborted);
  CAF_REQUIRE_EQUAL(disconnect_reasons.size(), 1u);
  CAF_CHECK_EQUAL(disconnect_reasons[0], "transport error");
  CAF_CHECK_EQUAL(ws(a).count("42[\"news\",\"big\"]"), 1u);
  CAF_CHECK(!ws(a).closed);
}

CAF_TEST(inbound_flow_control_reports_consumption) {
  auto a = connect();
  auto before = ws(a).consumed_bytes;
  send_text(a, "42[\"echo\",\"abc\"]");
  CAF_CHECK_EQUAL(ws(a).consumed_bytes - before, std::string("42[\"echo\",\"abc\"]").size());
}

CAF_TEST(engineio_v3_session) {
  auto a = open(3);
  // The v3 open packet has no maxPayload, and Socket.IO v2 connects "/" by itself.
  CAF_REQUIRE_EQUAL(ws(a).sent.size(), 2u);
  CAF_CHECK(ws(a).sent[0].find("maxPayload") == std::string::npos);
  CAF_CHECK_EQUAL(ws(a).sent[1], "40");
  send_text(a, "40"); // ElephantIO connects "/" again: acknowledged again
  CAF_CHECK_EQUAL(ws(a).sent.back(), "40");
  send_text(a, "42[\"echo\",1]");
  CAF_CHECK_EQUAL(ws(a).sent.back(), "42[\"echo-back\",1]");
  // The client pings; the server answers and never pings itself.
  send_text(a, "2");
  CAF_CHECK_EQUAL(ws(a).sent.back(), "3");
  advance_time(1000ms);
  consume_messages();
  CAF_CHECK_EQUAL(ws(a).count("2"), 0u);
  CAF_CHECK(!ws(a).closed);
  send_text(a, "2");
  // Silence for pingInterval + pingTimeout closes the session.
  advance_time(1500ms);
  consume_messages();
  CAF_CHECK(ws(a).closed);
  CAF_REQUIRE_EQUAL(disconnect_reasons.size(), 1u);
  CAF_CHECK_EQUAL(disconnect_reasons[0], "ping timeout");
}

CAF_TEST(reserved_event_names_are_refused_by_the_api) {
  std::vector<std::string> refused;
  core->defs["/"]->on_connection = {[&refused](sio::socket& s) {
    s.on("try", [&refused](sio::socket& s, sio::message&, const sio::ack_responder&) {
      auto attempt = [&refused](const std::function<void()>& emit) {
        try {
          emit();
        } catch (const std::invalid_argument& e) {
          refused.push_back(e.what());
        }
      };
      attempt([&] { s.emit("connect", {1}); });
      attempt([&] { s.emit("disconnecting"); });
      attempt([&] { s.emit_with_ack("disconnect", {1}, 100ms, [](sio::socket&, std::optional<sio::message>) {}); });
      attempt([&] { s.nsp_all().emit("connect_error", {1}); });
      attempt([&] { s.to("room").emit("newListener"); });
      attempt([&] { sio::broadcast().emit("removeListener"); }); // even one that reaches nobody
      s.emit("fine", {1});
    });
    // A handler that does not catch it is run guarded: logged, and the session goes on.
    s.on("throw", [](sio::socket& s, sio::message&, const sio::ack_responder&) { s.emit("disconnect"); });
  }};
  auto a = connect();
  send_text(a, "42[\"try\"]");
  CAF_CHECK_EQUAL(
      refused, (std::vector<std::string>{"reserved event name: connect", "reserved event name: disconnecting",
                                         "reserved event name: disconnect", "reserved event name: connect_error",
                                         "reserved event name: newListener", "reserved event name: removeListener"}));
  CAF_CHECK_EQUAL(ws(a).sent.back(), "42[\"fine\",1]");
  send_text(a, "42[\"throw\"]");
  send_text(a, "42[\"try\"]");
  CAF_CHECK_EQUAL(ws(a).sent.back(), "42[\"fine\",1]");
  CAF_CHECK(!ws(a).closed);
  for (auto& frame : ws(a).sent)
    CAF_CHECK(frame.find("connect") == std::string::npos || frame.rfind("40", 0) == 0);
}

CAF_TEST(unique_ids) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i)
    ids.insert(sio::make_id());
  CAF_CHECK_EQUAL(ids.size(), 1000u);
  CAF_CHECK_EQUAL(sio::make_id().size(), 20u);
}

CAF_TEST(ids_of_a_node_share_its_prefix) {
  auto before = sio::node_id();
  for (std::uint32_t node : {0x12345679u, 0x1234567bu, 0xfffffffeu, 1u}) {
    sio::set_node_id(node);
    auto prefix = sio::id_prefix(node);
    CAF_CHECK_EQUAL(prefix.size(), 5u);
    for (int i = 0; i < 50; ++i)
      CAF_CHECK_EQUAL(sio::make_id().substr(0, 5), prefix);
  }
  // Nodes that differ beyond the lowest two bits of the last byte have other prefixes.
  CAF_CHECK_NOT_EQUAL(sio::id_prefix(0x12345679u), sio::id_prefix(0x12345678u | 0x04000000u));
  CAF_CHECK_NOT_EQUAL(sio::id_prefix(0x12345679u), sio::id_prefix(0x12345779u));
  sio::set_node_id(before);
}

CAF_TEST_FIXTURE_SCOPE_END()
