#define CAF_SUITE engineio_codec
#include <caf/test/unit_test_impl.hpp>

#include "transport/engineio/packet.hpp"

#include <string>
#include <vector>

using namespace sio::engineio;

namespace {

packet text_packet(packet_type t, std::string data = {}) {
  packet p;
  p.type = t;
  p.binary = false;
  p.data = std::move(data);
  return p;
}

packet binary_packet(std::string data) {
  packet p;
  p.type = packet_type::message;
  p.binary = true;
  p.data = std::move(data);
  return p;
}

int type_of(const packet& p) {
  return static_cast<int>(p.type);
}

const std::vector<packet_type> all_types = {
    packet_type::open,    packet_type::close,   packet_type::ping, packet_type::pong,
    packet_type::message, packet_type::upgrade, packet_type::noop,
};

} // namespace

CAF_TEST(encode_text_all_types) {
  CAF_CHECK_EQUAL(encode_text(text_packet(packet_type::open, "{\"sid\":\"x\"}")), "0{\"sid\":\"x\"}");
  CAF_CHECK_EQUAL(encode_text(text_packet(packet_type::close)), "1");
  CAF_CHECK_EQUAL(encode_text(text_packet(packet_type::ping)), "2");
  CAF_CHECK_EQUAL(encode_text(text_packet(packet_type::ping, "probe")), "2probe");
  CAF_CHECK_EQUAL(encode_text(text_packet(packet_type::pong)), "3");
  CAF_CHECK_EQUAL(encode_text(text_packet(packet_type::pong, "probe")), "3probe");
  CAF_CHECK_EQUAL(encode_text(text_packet(packet_type::message, "hello")), "4hello");
  CAF_CHECK_EQUAL(encode_text(text_packet(packet_type::message)), "4");
  CAF_CHECK_EQUAL(encode_text(text_packet(packet_type::upgrade)), "5");
  CAF_CHECK_EQUAL(encode_text(text_packet(packet_type::noop)), "6");
}

CAF_TEST(decode_text_frame_all_types) {
  for (auto t : all_types) {
    auto p = text_packet(t, "data");
    auto decoded = decode_frame(false, encode_text(p));
    CAF_REQUIRE(decoded.has_value());
    CAF_CHECK_EQUAL(type_of(*decoded), static_cast<int>(t));
    CAF_CHECK(!decoded->binary);
    CAF_CHECK_EQUAL(decoded->data, "data");
    CAF_CHECK(*decoded == p);
  }
}

CAF_TEST(decode_text_frame_without_data) {
  auto d = decode_frame(false, "2");
  CAF_REQUIRE(d.has_value());
  CAF_CHECK_EQUAL(type_of(*d), static_cast<int>(packet_type::ping));
  CAF_CHECK_EQUAL(d->data, "");
  auto m = decode_frame(false, "4");
  CAF_REQUIRE(m.has_value());
  CAF_CHECK_EQUAL(type_of(*m), static_cast<int>(packet_type::message));
  CAF_CHECK(m->data.empty());
}

CAF_TEST(decode_text_frame_keeps_raw_data) {
  auto d = decode_frame(false, std::string_view{"4a\x1e\0b", 5});
  CAF_REQUIRE(d.has_value());
  CAF_CHECK_EQUAL(d->data.size(), 4u);
  CAF_CHECK(d->data == std::string("a\x1e\0b", 4));
  auto u = decode_frame(false, "4h\xC3\xA9llo");
  CAF_REQUIRE(u.has_value());
  CAF_CHECK_EQUAL(u->data, "h\xC3\xA9llo");
}

CAF_TEST(decode_text_frame_invalid) {
  CAF_CHECK(!decode_frame(false, "").has_value());
  CAF_CHECK(!decode_frame(false, "7").has_value());
  CAF_CHECK(!decode_frame(false, "9hello").has_value());
  CAF_CHECK(!decode_frame(false, "/").has_value());
  CAF_CHECK(!decode_frame(false, "x").has_value());
  CAF_CHECK(!decode_frame(false, "bAAAA").has_value());
  CAF_CHECK(!decode_frame(false, " 4").has_value());
}

CAF_TEST(decode_binary_frame) {
  std::string bytes{"\x00\x01\xff\x04", 4};
  auto d = decode_frame(true, bytes);
  CAF_REQUIRE(d.has_value());
  CAF_CHECK_EQUAL(type_of(*d), static_cast<int>(packet_type::message));
  CAF_CHECK(d->binary);
  CAF_CHECK(d->data == bytes);
  CAF_CHECK(*d == binary_packet(bytes));
  // A binary frame's first byte is data, not a type.
  auto t = decode_frame(true, "4abc");
  CAF_REQUIRE(t.has_value());
  CAF_CHECK(t->binary);
  CAF_CHECK_EQUAL(t->data, "4abc");
  auto e = decode_frame(true, "");
  CAF_REQUIRE(e.has_value());
  CAF_CHECK(e->binary);
  CAF_CHECK(e->data.empty());
}

CAF_TEST(packet_equality) {
  CAF_CHECK(text_packet(packet_type::message, "a") == text_packet(packet_type::message, "a"));
  CAF_CHECK(!(text_packet(packet_type::message, "a") == text_packet(packet_type::message, "b")));
  CAF_CHECK(!(text_packet(packet_type::ping, "a") == text_packet(packet_type::pong, "a")));
  CAF_CHECK(!(text_packet(packet_type::message, "a") == binary_packet("a")));
}

CAF_TEST(encode_payload_text) {
  std::vector<packet> ps{text_packet(packet_type::message, "hello"), text_packet(packet_type::ping),
                         text_packet(packet_type::noop)};
  CAF_CHECK_EQUAL(encode_payload(ps), "4hello\x1e"
                                      "2\x1e"
                                      "6");
  CAF_CHECK_EQUAL(encode_payload({text_packet(packet_type::open, "{}")}), "0{}");
  CAF_CHECK_EQUAL(encode_payload({}), "");
}

CAF_TEST(encode_payload_binary) {
  std::vector<packet> ps{text_packet(packet_type::message, "hi"), binary_packet(std::string{"\x01\x02\x03\x04", 4})};
  CAF_CHECK_EQUAL(encode_payload(ps), "4hi\x1e"
                                      "bAQIDBA==");
  CAF_CHECK_EQUAL(encode_payload({binary_packet("")}), "b");
}

CAF_TEST(append_to_payload_separators) {
  std::string payload;
  append_to_payload(payload, text_packet(packet_type::message, "a"));
  CAF_CHECK_EQUAL(payload, "4a");
  append_to_payload(payload, binary_packet("hello"));
  CAF_CHECK_EQUAL(payload, "4a\x1e"
                           "baGVsbG8=");
  append_to_payload(payload, text_packet(packet_type::close));
  CAF_CHECK_EQUAL(payload, "4a\x1e"
                           "baGVsbG8=\x1e"
                           "1");
  std::vector<packet> ps{text_packet(packet_type::message, "a"), binary_packet("hello"),
                         text_packet(packet_type::close)};
  CAF_CHECK_EQUAL(payload, encode_payload(ps));
}

CAF_TEST(decode_payload_single) {
  auto d = decode_payload("4hello");
  CAF_REQUIRE(d.has_value());
  CAF_REQUIRE_EQUAL(d->size(), 1u);
  CAF_CHECK((*d)[0] == text_packet(packet_type::message, "hello"));
}

CAF_TEST(decode_payload_mixed) {
  auto d = decode_payload("4hello\x1e"
                          "bAQIDBA==\x1e"
                          "2probe\x1e"
                          "6");
  CAF_REQUIRE(d.has_value());
  CAF_REQUIRE_EQUAL(d->size(), 4u);
  CAF_CHECK((*d)[0] == text_packet(packet_type::message, "hello"));
  CAF_CHECK((*d)[1] == binary_packet(std::string{"\x01\x02\x03\x04", 4}));
  CAF_CHECK((*d)[2] == text_packet(packet_type::ping, "probe"));
  CAF_CHECK((*d)[3] == text_packet(packet_type::noop));
}

CAF_TEST(decode_payload_empty_binary_record) {
  auto d = decode_payload("b");
  CAF_REQUIRE(d.has_value());
  CAF_REQUIRE_EQUAL(d->size(), 1u);
  CAF_CHECK((*d)[0] == binary_packet(""));
}

CAF_TEST(payload_round_trip) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i)
    all_bytes.push_back(static_cast<char>(i));
  std::vector<packet> ps;
  for (auto t : all_types)
    ps.push_back(text_packet(t, "x"));
  ps.push_back(binary_packet(all_bytes));
  ps.push_back(binary_packet(""));
  ps.push_back(binary_packet("a"));
  ps.push_back(binary_packet("ab"));
  ps.push_back(text_packet(packet_type::message, "b-not-binary"));
  ps.push_back(text_packet(packet_type::message, "\xE2\x82\xAC utf8"));
  ps.push_back(text_packet(packet_type::message));
  auto encoded = encode_payload(ps);
  auto decoded = decode_payload(encoded);
  CAF_REQUIRE(decoded.has_value());
  CAF_REQUIRE_EQUAL(decoded->size(), ps.size());
  for (std::size_t i = 0; i < ps.size(); ++i)
    CAF_CHECK((*decoded)[i] == ps[i]);
}

CAF_TEST(decode_payload_invalid) {
  CAF_CHECK(!decode_payload("").has_value());
  CAF_CHECK(!decode_payload("\x1e").has_value());
  CAF_CHECK(!decode_payload("4a\x1e").has_value());
  CAF_CHECK(!decode_payload("\x1e"
                            "4a")
                 .has_value());
  CAF_CHECK(!decode_payload("4a\x1e\x1e"
                            "4b")
                 .has_value());
  CAF_CHECK(!decode_payload("9").has_value());
  CAF_CHECK(!decode_payload("4a\x1e"
                            "7b")
                 .has_value());
  CAF_CHECK(!decode_payload("x").has_value());
  CAF_CHECK(!decode_payload("bA").has_value());
  CAF_CHECK(!decode_payload("b!!!!").has_value());
  CAF_CHECK(!decode_payload("4a\x1e"
                            "bAQID*A==")
                 .has_value());
  CAF_CHECK(!decode_payload("4a\x1e"
                            "b=")
                 .has_value());
  // v3 length-prefixed framing is not special: "6:4hello" is a noop carrying ":4hello"
  auto legacy = decode_payload("6:4hello");
  CAF_REQUIRE(legacy.has_value());
  CAF_CHECK((*legacy)[0] == text_packet(packet_type::noop, ":4hello"));
}

CAF_TEST(base64_encode_vectors) {
  // RFC 4648 test vectors
  CAF_CHECK_EQUAL(base64_encode(""), "");
  CAF_CHECK_EQUAL(base64_encode("f"), "Zg==");
  CAF_CHECK_EQUAL(base64_encode("fo"), "Zm8=");
  CAF_CHECK_EQUAL(base64_encode("foo"), "Zm9v");
  CAF_CHECK_EQUAL(base64_encode("foob"), "Zm9vYg==");
  CAF_CHECK_EQUAL(base64_encode("fooba"), "Zm9vYmE=");
  CAF_CHECK_EQUAL(base64_encode("foobar"), "Zm9vYmFy");
  CAF_CHECK_EQUAL(base64_encode(std::string{"\xfb\xff\xbf", 3}), "+/+/");
  CAF_CHECK_EQUAL(base64_encode(std::string{"\0\0\0", 3}), "AAAA");
  CAF_CHECK_EQUAL(base64_encode(std::string{"\xff\xff\xff", 3}), "////");
}

CAF_TEST(base64_decode_vectors) {
  CAF_CHECK_EQUAL(base64_decode("").value_or("?"), "");
  CAF_CHECK_EQUAL(base64_decode("Zg==").value_or("?"), "f");
  CAF_CHECK_EQUAL(base64_decode("Zm8=").value_or("?"), "fo");
  CAF_CHECK_EQUAL(base64_decode("Zm9v").value_or("?"), "foo");
  CAF_CHECK_EQUAL(base64_decode("Zm9vYg==").value_or("?"), "foob");
  CAF_CHECK_EQUAL(base64_decode("Zm9vYmE=").value_or("?"), "fooba");
  CAF_CHECK_EQUAL(base64_decode("Zm9vYmFy").value_or("?"), "foobar");
  CAF_CHECK(base64_decode("+/+/").value_or("?") == std::string("\xfb\xff\xbf", 3));
  CAF_CHECK(base64_decode("AAAA").value_or("?") == std::string("\0\0\0", 3));
}

CAF_TEST(base64_round_trip_all_lengths) {
  std::string bytes;
  for (int n = 0; n < 300; ++n) {
    auto enc = base64_encode(bytes);
    CAF_CHECK_EQUAL(enc.size() % 4, 0u);
    auto dec = base64_decode(enc);
    CAF_REQUIRE(dec.has_value());
    CAF_CHECK(*dec == bytes);
    bytes.push_back(static_cast<char>((n * 37 + 11) & 0xFF));
  }
}

CAF_TEST(base64_decode_invalid) {
  // bad lengths
  CAF_CHECK(!base64_decode("Z").has_value());
  CAF_CHECK(!base64_decode("Zg").has_value());
  CAF_CHECK(!base64_decode("Zg=").has_value());
  CAF_CHECK(!base64_decode("Zm9vY").has_value());
  // bad characters
  CAF_CHECK(!base64_decode("Zm9*").has_value());
  CAF_CHECK(!base64_decode("Zm9 ").has_value());
  CAF_CHECK(!base64_decode("Zm9v\n").has_value());
  CAF_CHECK(!base64_decode("Zm-_").has_value()); // URL-safe alphabet is not accepted
  CAF_CHECK(!base64_decode(std::string_view{"Zm\0v", 4}).has_value());
  CAF_CHECK(!base64_decode("Zm\xC3\xA9").has_value());
  // misplaced padding
  CAF_CHECK(!base64_decode("====").has_value());
  CAF_CHECK(!base64_decode("Z===").has_value());
  CAF_CHECK(!base64_decode("Zg=a").has_value());
  CAF_CHECK(!base64_decode("=Zg=").has_value());
  CAF_CHECK(!base64_decode("Zg==Zg==").has_value());
  CAF_CHECK(!base64_decode("Zm8=Zm9v").has_value());
}

CAF_TEST(handshake_json) {
  handshake h;
  h.sid = "lv_VI97HAXpY6yYWAAAC";
  h.upgrades = {"websocket"};
  h.ping_interval_ms = 25000;
  h.ping_timeout_ms = 20000;
  h.max_payload = 1000000;
  CAF_CHECK_EQUAL(encode_handshake(h), "{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],"
                                       "\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}");
}

CAF_TEST(handshake_json_defaults_and_no_upgrades) {
  handshake h;
  h.sid = "abc";
  CAF_CHECK_EQUAL(encode_handshake(h), "{\"sid\":\"abc\",\"upgrades\":[],\"pingInterval\":25000,"
                                       "\"pingTimeout\":20000,\"maxPayload\":1000000}");
  CAF_CHECK_EQUAL(encode_text(text_packet(packet_type::open, encode_handshake(h))),
                  "0{\"sid\":\"abc\",\"upgrades\":[],\"pingInterval\":25000,"
                  "\"pingTimeout\":20000,\"maxPayload\":1000000}");
}

CAF_TEST(handshake_json_large_values_and_escaping) {
  handshake h;
  h.sid = "a\"b\\c";
  h.upgrades = {"websocket", "webtransport"};
  h.ping_interval_ms = 4294967295u;
  h.ping_timeout_ms = 1;
  h.max_payload = 18446744073709551615ull;
  CAF_CHECK_EQUAL(encode_handshake(h), "{\"sid\":\"a\\\"b\\\\c\",\"upgrades\":[\"websocket\",\"webtransport\"],"
                                       "\"pingInterval\":4294967295,\"pingTimeout\":1,"
                                       "\"maxPayload\":18446744073709551615}");
}

CAF_TEST(error_messages) {
  CAF_CHECK_EQUAL(error_message(error_code::unknown_transport), "Transport unknown");
  CAF_CHECK_EQUAL(error_message(error_code::unknown_sid), "Session ID unknown");
  CAF_CHECK_EQUAL(error_message(error_code::bad_handshake_method), "Bad handshake method");
  CAF_CHECK_EQUAL(error_message(error_code::bad_request), "Bad request");
  CAF_CHECK_EQUAL(error_message(error_code::forbidden), "Forbidden");
  CAF_CHECK_EQUAL(error_message(error_code::unsupported_protocol_version), "Unsupported protocol version");
}

CAF_TEST(error_statuses) {
  CAF_CHECK_EQUAL(error_status(error_code::unknown_transport), 400);
  CAF_CHECK_EQUAL(error_status(error_code::unknown_sid), 400);
  CAF_CHECK_EQUAL(error_status(error_code::bad_handshake_method), 400);
  CAF_CHECK_EQUAL(error_status(error_code::bad_request), 400);
  CAF_CHECK_EQUAL(error_status(error_code::forbidden), 403);
  CAF_CHECK_EQUAL(error_status(error_code::unsupported_protocol_version), 400);
}

CAF_TEST(error_bodies) {
  CAF_CHECK_EQUAL(error_body(error_code::unknown_transport), "{\"code\":0,\"message\":\"Transport unknown\"}");
  CAF_CHECK_EQUAL(error_body(error_code::unknown_sid), "{\"code\":1,\"message\":\"Session ID unknown\"}");
  CAF_CHECK_EQUAL(error_body(error_code::bad_handshake_method), "{\"code\":2,\"message\":\"Bad handshake method\"}");
  CAF_CHECK_EQUAL(error_body(error_code::bad_request), "{\"code\":3,\"message\":\"Bad request\"}");
  CAF_CHECK_EQUAL(error_body(error_code::forbidden), "{\"code\":4,\"message\":\"Forbidden\"}");
  CAF_CHECK_EQUAL(error_body(error_code::unsupported_protocol_version),
                  "{\"code\":5,\"message\":\"Unsupported protocol version\"}");
}

// -- Engine.IO v3 ---------------------------------------------------------------------

CAF_TEST(v3_text_payload_counts_utf16_units) {
  using namespace sio::engineio;
  std::vector<packet> ps{{packet_type::message, false, "h\xC3\xA9"},              // é: 1 unit, 2 bytes
                         {packet_type::message, false, "\xF0\x9F\x98\x80"},        // emoji: 2 units
                         {packet_type::message, true, std::string("\x01\x02", 2)}, // binary as b4+base64
                         {packet_type::ping, false, ""}};
  auto text = encode_payload_v3_text(ps);
  CAF_CHECK_EQUAL(text, "3:4h\xC3\xA9" "3:4\xF0\x9F\x98\x80" "6:b4AQI=1:2");
  auto back = decode_payload_v3(text, false);
  CAF_REQUIRE(back.has_value());
  CAF_CHECK(*back == ps);
}

CAF_TEST(v3_binary_payload_round_trip) {
  using namespace sio::engineio;
  std::vector<packet> ps{{packet_type::message, false, "42[\"a\"]"}, {packet_type::message, true, std::string("\0\xFF", 2)}};
  auto bytes = encode_payload_v3_binary(ps);
  CAF_CHECK_EQUAL(bytes, std::string("\x00\x08\xFF" "442[\"a\"]" "\x01\x03\xFF\x04\x00\xFF", 17));
  auto back = decode_payload_v3(bytes, true);
  CAF_REQUIRE(back.has_value());
  CAF_CHECK(*back == ps);
}

CAF_TEST(v3_malformed_payloads) {
  using namespace sio::engineio;
  CAF_CHECK(!decode_payload_v3("", false));
  CAF_CHECK(!decode_payload_v3("5:4ab", false));     // shorter than announced
  CAF_CHECK(!decode_payload_v3("x:4ab", false));     // not a length
  CAF_CHECK(!decode_payload_v3("3:9ab", false));     // unknown type
  CAF_CHECK(!decode_payload_v3("4:b4@@", false));    // bad base64
  CAF_CHECK(!decode_payload_v3(std::string("\x02\x01\xFF" "4", 4), true));
  CAF_CHECK(!decode_payload_v3(std::string("\x00\x09\xFF" "4", 4), true));
  CAF_CHECK_EQUAL(encode_binary_frame_v3("ab"), std::string("\x04" "ab"));
}

// Found by fuzz_engineio_v3: a length counted over bytes that are not UTF-8 (a 3-byte lead
// took "8:" with it) decoded a record that no encoder reproduces. JavaScript would have
// read U+FFFD there; the decoder refuses such text instead.
CAF_TEST(v3_text_not_utf8_is_refused) {
  using namespace sio::engineio;
  CAF_CHECK(!decode_payload_v3("8:42[\"\xC3\xA9\xE2" "8:\"]", false)); // E2, then ASCII
  CAF_CHECK(!decode_payload_v3("2:4\xFF", false));
  CAF_CHECK(!decode_payload_v3("3:4\xED\xA0\x80", false)); // a surrogate
  CAF_CHECK(!decode_payload_v3(std::string("\x00\x02\xFF" "4\xC3", 5), true)); // binary form, text record
  CAF_CHECK(decode_payload_v3(std::string("\x01\x02\xFF\x04\xC3", 5), true)); // a binary record: any bytes
}

CAF_TEST(v3_handshake_has_no_max_payload) {
  sio::engineio::handshake h;
  h.sid = "s";
  h.v3 = true;
  CAF_CHECK_EQUAL(sio::engineio::encode_handshake(h), R"({"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000})");
}
