// The Pusher protocol 7 codec: client messages decoded by shape, server messages with
// their JSON-in-a-string data, channel kinds and names, and the Socket.IO broadcast frame
// read back as a channel event.
#define CAF_SUITE pusher_message
#include <caf/test/unit_test_impl.hpp>

#include "transport/pusher/message.hpp"

#include <boost/json.hpp>

using namespace pusher;
namespace json = boost::json;

namespace {

json::object parsed(const std::string& text) {
  return json::parse(text).as_object();
}

} // namespace

CAF_TEST(decode_subscribe) {
  auto r = decode(R"({"event":"pusher:subscribe","data":{"channel":"private-a","auth":"k:s"}})");
  auto* m = std::get_if<client_message>(&r);
  CAF_REQUIRE(m != nullptr);
  CAF_CHECK_EQUAL(m->event, "pusher:subscribe");
  CAF_CHECK(!m->channel.has_value());
  CAF_CHECK_EQUAL(m->data.at("channel").as_string(), "private-a");
}

CAF_TEST(decode_data_string_holding_json) {
  // pusher-js sends a client event's data as given; a string that holds JSON is read as it.
  auto r = decode(R"({"event":"client-x","channel":"private-a","data":"{\"a\":1}"})");
  auto* m = std::get_if<client_message>(&r);
  CAF_REQUIRE(m != nullptr);
  CAF_CHECK_EQUAL(*m->channel, "private-a");
  CAF_CHECK_EQUAL(m->data.at("a").as_int64(), 1);
  auto plain = std::get<client_message>(decode(R"({"event":"client-x","data":"hello"})"));
  CAF_CHECK_EQUAL(plain.data.as_string(), "hello");
}

CAF_TEST(decode_refuses_bad_shapes) {
  for (auto text : {"", "[]", "nope", R"({"data":{}})", R"({"event":1})", R"({"event":""})",
                    R"({"event":"e","channel":5})", "{\"event\":\"\xff\"}"}) {
    auto r = decode(text);
    CAF_CHECK(std::holds_alternative<bad_message>(r));
  }
}

CAF_TEST(encode_event_data_is_a_json_string) {
  auto o = parsed(encode_event("message.sent", std::string_view("private-chat.1"), json::object{{"id", 7}}));
  CAF_CHECK_EQUAL(o.at("event").as_string(), "message.sent");
  CAF_CHECK_EQUAL(o.at("channel").as_string(), "private-chat.1");
  CAF_REQUIRE(o.at("data").is_string());
  auto data = json::parse(o.at("data").as_string());
  CAF_CHECK_EQUAL(data.at("id").as_int64(), 7);
  CAF_CHECK(!o.contains("user_id"));
  auto with_user = parsed(encode_event_raw("client-t", std::string_view("presence-a"), "{}", std::string_view("u1")));
  CAF_CHECK_EQUAL(with_user.at("user_id").as_string(), "u1");
  CAF_CHECK_EQUAL(with_user.at("data").as_string(), "{}");
}

CAF_TEST(encode_protocol_events) {
  auto est = parsed(encode_connection_established("1.2", 30));
  CAF_CHECK_EQUAL(est.at("event").as_string(), "pusher:connection_established");
  auto data = json::parse(est.at("data").as_string());
  CAF_CHECK_EQUAL(data.at("socket_id").as_string(), "1.2");
  CAF_CHECK_EQUAL(data.at("activity_timeout").as_int64(), 30);
  auto err = parsed(encode_error(4001, "Application does not exist"));
  CAF_CHECK_EQUAL(err.at("data").at("code").as_int64(), 4001); // an object, as the protocol shows
  CAF_CHECK(parsed(encode_error(std::nullopt, "x")).at("data").at("code").is_null());
  auto ping = parsed(encode_ping());
  auto pong = parsed(encode_pong());
  CAF_CHECK_EQUAL(ping.at("event").as_string(), "pusher:ping");
  CAF_CHECK_EQUAL(pong.at("event").as_string(), "pusher:pong");
  auto ok = parsed(encode_subscription_succeeded("presence-a", json::object{{"presence", json::object{}}}));
  CAF_CHECK_EQUAL(ok.at("event").as_string(), "pusher_internal:subscription_succeeded");
  auto ok_data = json::parse(ok.at("data").as_string());
  CAF_CHECK(ok_data.as_object().contains("presence"));
  auto refused = parsed(encode_subscription_error("private-a", "AuthError", "Invalid signature", 401));
  auto refused_data = json::parse(refused.at("data").as_string());
  CAF_CHECK_EQUAL(refused_data.at("status").as_int64(), 401);
}

CAF_TEST(channel_kinds_and_names) {
  CAF_CHECK(kind_of("presence-chat.1") == channel_kind::presence);
  CAF_CHECK(kind_of("private-encrypted-x") == channel_kind::private_encrypted);
  CAF_CHECK(kind_of("private-chat.1") == channel_kind::private_);
  CAF_CHECK(kind_of("#server-to-user-5") == channel_kind::server_to_user);
  CAF_CHECK(kind_of("news") == channel_kind::public_);
  CAF_CHECK(kind_of("presence.room.1") == channel_kind::public_); // Pusher's prefix has a dash
  CAF_CHECK(valid_channel_name("private-chat.1"));
  CAF_CHECK(valid_channel_name("a-_=@,.;Z9"));
  CAF_CHECK(valid_channel_name(std::string(164, 'a')));
  CAF_CHECK(!valid_channel_name(std::string(165, 'a')));
  CAF_CHECK(!valid_channel_name(""));
  CAF_CHECK(!valid_channel_name("a b"));
  CAF_CHECK(!valid_channel_name("a/b"));
  CAF_CHECK(!valid_channel_name("\xc3\xa9"));
  CAF_CHECK(valid_socket_id("123.456"));
  CAF_CHECK(!valid_socket_id("123"));
  CAF_CHECK(!valid_socket_id(".1"));
  CAF_CHECK(!valid_socket_id("1."));
  CAF_CHECK(!valid_socket_id("1.2.3"));
  CAF_CHECK(!valid_socket_id("a.1"));
}

CAF_TEST(from_socketio_reads_broadcast_frames) {
  auto one = from_socketio(R"(42["message.sent",{"id":1}])");
  CAF_REQUIRE(one.has_value());
  CAF_CHECK_EQUAL(one->event, "message.sent");
  CAF_CHECK_EQUAL(one->data.at("id").as_int64(), 1);
  auto nsp = from_socketio(R"(42/chat,["e","x"])");
  CAF_REQUIRE(nsp.has_value());
  CAF_CHECK_EQUAL(nsp->data.as_string(), "x");
  auto none = from_socketio(R"(42["e"])");
  CAF_REQUIRE(none.has_value());
  CAF_CHECK(none->data.is_object() && none->data.as_object().empty());
  auto many = from_socketio(R"(42["e",1,2])");
  CAF_REQUIRE(many.has_value());
  CAF_CHECK_EQUAL(many->data.as_array().size(), 2u);
  CAF_CHECK(!from_socketio(R"(451-["e",{"_placeholder":true,"num":0}])")); // binary: no Pusher form
  CAF_CHECK(!from_socketio("40"));
  CAF_CHECK(!from_socketio("2"));
  CAF_CHECK(!from_socketio(R"(43["e"])"));
}
