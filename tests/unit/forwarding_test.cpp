// No sticky sessions: the node an id names (node_of_id), and the messages a forwarded
// request and a relayed WebSocket cross the cluster link with, through CAF's
// serialization as BASP does it (the message, by its announced type name).
#define CAF_SUITE forwarding
#include <caf/test/unit_test_impl.hpp>

#include "actors/forwarding_messages.hpp"
#include "actors/ids.hpp"
#include "actors/messages.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

namespace {

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  fixture() {
    sio::announce_message_types(cfg);
    sio::announce_forwarding_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  /// x as a CAF message, serialized and read back as another node reads it.
  template <class T> T across(T x) {
    std::vector<char> buf;
    caf::binary_serializer sink{*sys, buf};
    auto msg = caf::make_message(std::move(x));
    CAF_REQUIRE_EQUAL(sink(msg), caf::none);
    caf::message back;
    caf::binary_deserializer source{*sys, buf};
    CAF_REQUIRE_EQUAL(source(back), caf::none);
    CAF_REQUIRE(back.match_elements<T>());
    return back.get_as<T>(0);
  }
};

sio::http::ws_message text(std::string s, bool binary = false) {
  return {binary, std::make_shared<const std::string>(std::move(s))};
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(forwarding_tests, fixture)

CAF_TEST(node_of_id_reads_the_node_make_id_wrote) {
  for (std::uint32_t node : {1u, 2u, 0x12345678u, 0x80000000u, 0xfffffffeu, 0xffffffffu}) {
    sio::set_node_id(node);
    for (int i = 0; i < 50; ++i) {
      auto id = sio::make_id();
      auto got = sio::node_of_id(id);
      CAF_REQUIRE(got.has_value());
      CAF_CHECK_EQUAL(*got, node);
    }
  }
}

CAF_TEST(node_of_id_refuses_what_make_id_does_not_make) {
  sio::set_node_id(7);
  auto id = sio::make_id();
  CAF_CHECK(sio::node_of_id(id).has_value());
  CAF_CHECK(!sio::node_of_id(""));
  CAF_CHECK(!sio::node_of_id(id.substr(0, 19)));
  CAF_CHECK(!sio::node_of_id(id + "A"));
  for (char bad : {'+', '/', '=', ' ', '\0', '\xff'}) {
    auto broken = id;
    broken[3] = bad;
    CAF_CHECK(!sio::node_of_id(broken));
    broken = id;
    broken[19] = bad; // past the node's bytes: still not an id
    CAF_CHECK(!sio::node_of_id(broken));
  }
}

CAF_TEST(forwarded_request_round_trip) {
  sio::http::request req;
  req.method = "POST";
  req.target = "/socket.io/?EIO=4&transport=polling&sid=abc";
  req.path = "/socket.io/";
  req.query = {{"EIO", "4"}, {"transport", "polling"}, {"sid", "abc"}};
  req.headers = {{"host", "x"}, {"content-type", "application/octet-stream"}, {"cookie", "secret"}, {"origin", "o"}};
  req.remote_address = "127.0.0.1";
  req.body = std::string("4hello\x1e"
                         "4\0bin",
                         13);
  auto f = sio::forwarded_from(req);
  // Only the headers the engine reads cross the link.
  CAF_CHECK_EQUAL(f.headers, (sio::http::header_list{{"content-type", "application/octet-stream"}, {"origin", "o"}}));
  auto back = sio::request_of(across(f));
  CAF_CHECK_EQUAL(back.method, req.method);
  CAF_CHECK_EQUAL(back.target, req.target);
  CAF_CHECK_EQUAL(back.path, req.path);
  CAF_CHECK_EQUAL(back.query, req.query);
  CAF_CHECK_EQUAL(back.headers, f.headers);
  CAF_CHECK_EQUAL(back.remote_address, req.remote_address);
  CAF_CHECK_EQUAL(back.body, req.body);
  CAF_REQUIRE(back.param("sid"));
  CAF_CHECK_EQUAL(*back.param("sid"), "abc");
  CAF_REQUIRE(back.header("content-type"));
}

CAF_TEST(forwarded_response_round_trip) {
  auto r = sio::http::response::json(400, R"({"code":1,"message":"Session ID unknown"})");
  r.headers.emplace_back("Set-Cookie", "io=abc");
  auto back = sio::response_of(across(sio::forwarded_from(r)));
  CAF_CHECK_EQUAL(back.status, 400);
  CAF_CHECK_EQUAL(back.headers, r.headers);
  CAF_CHECK_EQUAL(back.body, r.body);
}

CAF_TEST(relay_attach_and_answer_round_trip) {
  sio::http::request req;
  req.method = "GET";
  req.path = "/socket.io/";
  req.query = {{"transport", "websocket"}, {"sid", "x"}};
  auto a = across(sio::relay_attach{sio::forwarded_from(req), caf::actor{}});
  CAF_CHECK_EQUAL(a.request.query, req.query);
  CAF_CHECK(!a.relay);
  auto ans = across(sio::relay_answer{{}, sio::forwarded_from(sio::http::response::json(403, "{}"))});
  CAF_CHECK(!ans.endpoint);
  CAF_CHECK_EQUAL(ans.refusal.status, 403);
  CAF_CHECK_EQUAL(ans.refusal.body, "{}");
}

CAF_TEST(relay_frames_round_trip) {
  // A broadcast's shared frame: the same bytes in two sends.
  auto shared = std::make_shared<const std::string>("42[\"news\",1]");
  sio::relay_frames f;
  f.messages = {text("3probe"), {false, shared}, text(std::string("\0\x01\xff", 3), true), {false, shared}};
  CAF_CHECK_EQUAL(f.bytes(), 6u + shared->size() + 3u + shared->size());
  auto back = across(f);
  CAF_REQUIRE_EQUAL(back.messages.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    CAF_CHECK_EQUAL(back.messages[i].binary, f.messages[i].binary);
    CAF_REQUIRE(back.messages[i].data);
    CAF_CHECK_EQUAL(*back.messages[i].data, *f.messages[i].data);
  }
  CAF_CHECK_EQUAL(back.bytes(), f.bytes());
  CAF_CHECK(across(sio::relay_frames{}).messages.empty());
}

CAF_TEST(relay_signals_round_trip) {
  auto in = across(sio::relay_in{true, std::string("\x04\0", 2)});
  CAF_CHECK(in.binary);
  CAF_CHECK_EQUAL(in.data, std::string("\x04\0", 2));
  CAF_CHECK_EQUAL(across(sio::relay_gone{"transport error"}).reason, "transport error");
  CAF_CHECK_EQUAL(across(sio::relay_written{123456789012ull}).bytes, 123456789012ull);
  CAF_CHECK_EQUAL(across(sio::relay_consumed{42}).bytes, 42u);
  auto c = across(sio::relay_close{1001, "upgrade timeout"});
  CAF_CHECK_EQUAL(c.code, 1001u);
  CAF_CHECK_EQUAL(c.reason, "upgrade timeout");
}

CAF_TEST_FIXTURE_SCOPE_END()
