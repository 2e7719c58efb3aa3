#define CAF_SUITE socketio_codec
#include <caf/test/unit_test_impl.hpp>

#include "transport/socketio/packet.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <string>
#include <vector>

using namespace sio::socketio;
namespace json = boost::json;

namespace {

int type_of(const packet& p) {
  return static_cast<int>(p.type);
}

int as_int(packet_type t) {
  return static_cast<int>(t);
}

packet make(packet_type t, std::string nsp = "/") {
  packet p;
  p.type = t;
  p.nsp = std::move(nsp);
  return p;
}

packet make(packet_type t, std::string nsp, std::string_view data_json) {
  auto p = make(t, std::move(nsp));
  p.data = json::parse(data_json);
  p.has_data = true;
  return p;
}

std::string dump(const json::value& v) {
  return json::serialize(v);
}

bool is_packet(const decoder::result& r) {
  return std::holds_alternative<packet>(r);
}

bool is_need_more(const decoder::result& r) {
  return std::holds_alternative<decoder::need_more>(r);
}

bool is_error(const decoder::result& r) {
  return std::holds_alternative<parse_error>(r);
}

std::string reason(const decoder::result& r) {
  if (auto e = std::get_if<parse_error>(&r))
    return e->reason;
  return "<no error>";
}

/// Decodes one complete text packet with a fresh decoder.
std::optional<packet> decode_one(std::string_view text) {
  decoder d;
  auto r = d.feed_text(text);
  if (auto p = std::get_if<packet>(&r))
    return std::move(*p);
  return std::nullopt;
}

/// True when a fresh decoder rejects `text` and is left reset.
bool rejects(std::string_view text, std::size_t max_attachments = 64) {
  decoder d{max_attachments};
  auto r = d.feed_text(text);
  return is_error(r) && !d.awaiting_attachments();
}

/// encode -> decode yields the same packet (type, nsp, id, data).
bool round_trips(const packet& p) {
  auto decoded = decode_one(encode(p));
  if (!decoded)
    return false;
  return decoded->type == p.type && decoded->nsp == p.nsp && decoded->id == p.id && decoded->has_data == p.has_data
         && decoded->data == p.data;
}

} // namespace

// -- encoding ---------------------------------------------------------------------------

CAF_TEST(encode_connect) {
  CAF_CHECK_EQUAL(encode(make(packet_type::connect)), "0");
  CAF_CHECK_EQUAL(encode(make(packet_type::connect, "/admin")), "0/admin,");
  CAF_CHECK_EQUAL(encode(make(packet_type::connect, "/", "{\"token\":\"123\"}")), "0{\"token\":\"123\"}");
  CAF_CHECK_EQUAL(encode(make(packet_type::connect, "/admin", "{\"sid\":\"abc\"}")), "0/admin,{\"sid\":\"abc\"}");
}

CAF_TEST(encode_disconnect_packet) {
  CAF_CHECK_EQUAL(encode(make(packet_type::disconnect)), "1");
  CAF_CHECK_EQUAL(encode(make(packet_type::disconnect, "/admin")), "1/admin,");
}

CAF_TEST(encode_event) {
  CAF_CHECK_EQUAL(encode(make(packet_type::event, "/", "[\"hello\",1,{\"a\":true}]")), "2[\"hello\",1,{\"a\":true}]");
  CAF_CHECK_EQUAL(encode(make(packet_type::event, "/chat", "[\"hello\"]")), "2/chat,[\"hello\"]");
  auto p = make(packet_type::event, "/", "[\"hello\"]");
  p.id = 12;
  CAF_CHECK_EQUAL(encode(p), "212[\"hello\"]");
  p.nsp = "/chat";
  CAF_CHECK_EQUAL(encode(p), "2/chat,12[\"hello\"]");
  p.id = 0;
  CAF_CHECK_EQUAL(encode(p), "2/chat,0[\"hello\"]");
}

CAF_TEST(encode_ack) {
  auto p = make(packet_type::ack, "/", "[]");
  p.id = 1;
  CAF_CHECK_EQUAL(encode(p), "31[]");
  p = make(packet_type::ack, "/chat", "[\"ok\",2]");
  p.id = 18446744073709551615ull;
  CAF_CHECK_EQUAL(encode(p), "3/chat,18446744073709551615[\"ok\",2]");
}

CAF_TEST(encode_connect_error_packet) {
  CAF_CHECK_EQUAL(encode(make(packet_type::connect_error, "/", "{\"message\":\"nope\"}")), "4{\"message\":\"nope\"}");
  CAF_CHECK_EQUAL(encode(make(packet_type::connect_error, "/x", "\"nope\"")), "4/x,\"nope\"");
}

CAF_TEST(encode_binary_event_promotes_type) {
  packet p;
  p.type = packet_type::event;
  json::array arr;
  arr.emplace_back("upload");
  arr.emplace_back(add_attachment(p.attachments, std::string{"\x00\x01\x02", 3}));
  arr.emplace_back(add_attachment(p.attachments, "xyz"));
  p.data = std::move(arr);
  p.has_data = true;
  CAF_CHECK_EQUAL(encode(p), "52-[\"upload\",{\"_placeholder\":true,\"num\":0},"
                             "{\"_placeholder\":true,\"num\":1}]");
  p.nsp = "/files";
  p.id = 7;
  CAF_CHECK_EQUAL(encode(p), "52-/files,7[\"upload\",{\"_placeholder\":true,\"num\":0},"
                             "{\"_placeholder\":true,\"num\":1}]");
  // Already binary_event: unchanged.
  p.type = packet_type::binary_event;
  CAF_CHECK_EQUAL(encode(p).substr(0, 3), "52-");
}

CAF_TEST(encode_binary_ack_promotes_type) {
  packet p;
  p.type = packet_type::ack;
  p.id = 3;
  json::array arr;
  arr.emplace_back(add_attachment(p.attachments, "bin"));
  p.data = std::move(arr);
  p.has_data = true;
  CAF_CHECK_EQUAL(encode(p), "61-3[{\"_placeholder\":true,\"num\":0}]");
}

CAF_TEST(encode_binary_type_without_attachments_demotes) {
  auto p = make(packet_type::binary_event, "/", "[\"a\"]");
  CAF_CHECK_EQUAL(encode(p), "2[\"a\"]");
  p = make(packet_type::binary_ack, "/", "[]");
  p.id = 4;
  CAF_CHECK_EQUAL(encode(p), "34[]");
}

CAF_TEST(encode_data_only_when_has_data) {
  auto p = make(packet_type::connect);
  p.data = json::parse("{\"ignored\":1}");
  p.has_data = false;
  CAF_CHECK_EQUAL(encode(p), "0");
  p.data = nullptr;
  p.has_data = true;
  CAF_CHECK_EQUAL(encode(p), "0null");
}

CAF_TEST(encode_utf8_and_escaping) {
  auto p = make(packet_type::event, "/", "[\"m\",\"h\\u00e9 \\\"q\\\" \\n\"]");
  CAF_CHECK_EQUAL(encode(p), "2[\"m\",\"h\xC3\xA9 \\\"q\\\" \\n\"]");
}

CAF_TEST(connect_ok_shorthand) {
  CAF_CHECK_EQUAL(encode_connect_ok("/", "abc123"), "0{\"sid\":\"abc123\"}");
  CAF_CHECK_EQUAL(encode_connect_ok("/admin", "abc123"), "0/admin,{\"sid\":\"abc123\"}");
  auto p = decode_one(encode_connect_ok("/admin", "s"));
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(p->nsp, "/admin");
  CAF_CHECK_EQUAL(dump(p->data), "{\"sid\":\"s\"}");
}

CAF_TEST(connect_error_shorthand) {
  CAF_CHECK_EQUAL(encode_connect_error("/", "Invalid namespace"), "4{\"message\":\"Invalid namespace\"}");
  CAF_CHECK_EQUAL(encode_connect_error("/nope", "Invalid namespace"), "4/nope,{\"message\":\"Invalid namespace\"}");
  json::value data = json::parse("{\"code\":\"E_REJECTED\"}");
  CAF_CHECK_EQUAL(encode_connect_error("/custom", "not authorized", &data),
                  "4/custom,{\"message\":\"not authorized\",\"data\":{\"code\":\"E_REJECTED\"}}");
  json::value null_data = nullptr;
  CAF_CHECK_EQUAL(encode_connect_error("/", "m", &null_data), "4{\"message\":\"m\",\"data\":null}");
  CAF_CHECK_EQUAL(encode_connect_error("/", "quote \" here"), "4{\"message\":\"quote \\\" here\"}");
}

CAF_TEST(disconnect_shorthand) {
  CAF_CHECK_EQUAL(encode_disconnect("/"), "1");
  CAF_CHECK_EQUAL(encode_disconnect("/nsp"), "1/nsp,");
}

// -- namespaces and placeholders --------------------------------------------------------

CAF_TEST(namespace_validation) {
  CAF_CHECK(valid_namespace("/"));
  CAF_CHECK(valid_namespace("/chat"));
  CAF_CHECK(valid_namespace("/dyn-abc123"));
  CAF_CHECK(valid_namespace("/a/b/c"));
  CAF_CHECK(valid_namespace("/!~"));
  CAF_CHECK(valid_namespace("/caf\xC3\xA9"));
  CAF_CHECK(valid_namespace("/" + std::string(255, 'a')));
  CAF_CHECK(!valid_namespace("/" + std::string(256, 'a')));
  CAF_CHECK(!valid_namespace(""));
  CAF_CHECK(!valid_namespace("chat"));
  CAF_CHECK(!valid_namespace("/bad ns"));
  CAF_CHECK(!valid_namespace("/a,b"));
  CAF_CHECK(!valid_namespace("/a\tb"));
  CAF_CHECK(!valid_namespace("/a\nb"));
  CAF_CHECK(!valid_namespace("/a\x7f"));
  CAF_CHECK(!valid_namespace(std::string_view{"/a\0b", 4}));
}

CAF_TEST(add_attachment_placeholders) {
  std::vector<std::string> atts;
  auto p0 = add_attachment(atts, "first");
  auto p1 = add_attachment(atts, "second");
  CAF_CHECK_EQUAL(dump(p0), "{\"_placeholder\":true,\"num\":0}");
  CAF_CHECK_EQUAL(dump(p1), "{\"_placeholder\":true,\"num\":1}");
  CAF_REQUIRE_EQUAL(atts.size(), 2u);
  CAF_CHECK_EQUAL(atts[0], "first");
  CAF_CHECK_EQUAL(atts[1], "second");
  std::uint64_t num = 99;
  CAF_CHECK(is_placeholder(p0, num));
  CAF_CHECK_EQUAL(num, 0u);
  CAF_CHECK(is_placeholder(p1, num));
  CAF_CHECK_EQUAL(num, 1u);
}

CAF_TEST(placeholder_detection) {
  std::uint64_t num = 42;
  CAF_CHECK(is_placeholder(json::parse("{\"_placeholder\":true,\"num\":5}"), num));
  CAF_CHECK_EQUAL(num, 5u);
  CAF_CHECK(is_placeholder(json::parse("{\"num\":3,\"_placeholder\":true}"), num));
  CAF_CHECK_EQUAL(num, 3u);
  CAF_CHECK(is_placeholder(json::parse("{\"_placeholder\":true,\"num\":18446744073709551615}"), num));
  CAF_CHECK_EQUAL(num, 18446744073709551615ull);
  num = 42;
  CAF_CHECK(!is_placeholder(json::parse("{\"_placeholder\":false,\"num\":1}"), num));
  CAF_CHECK(!is_placeholder(json::parse("{\"_placeholder\":1,\"num\":1}"), num));
  CAF_CHECK(!is_placeholder(json::parse("{\"_placeholder\":\"true\",\"num\":1}"), num));
  CAF_CHECK(!is_placeholder(json::parse("{\"_placeholder\":true}"), num));
  CAF_CHECK(!is_placeholder(json::parse("{\"_placeholder\":true,\"num\":-1}"), num));
  CAF_CHECK(!is_placeholder(json::parse("{\"_placeholder\":true,\"num\":1.5}"), num));
  CAF_CHECK(!is_placeholder(json::parse("{\"_placeholder\":true,\"num\":\"1\"}"), num));
  CAF_CHECK(!is_placeholder(json::parse("{\"num\":1}"), num));
  CAF_CHECK(!is_placeholder(json::parse("[true,1]"), num));
  CAF_CHECK(!is_placeholder(json::parse("1"), num));
  CAF_CHECK(!is_placeholder(json::value{}, num));
  CAF_CHECK_EQUAL(num, 42u);
}

// -- decoding ---------------------------------------------------------------------------

CAF_TEST(decode_connect) {
  auto p = decode_one("0");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(type_of(*p), as_int(packet_type::connect));
  CAF_CHECK_EQUAL(p->nsp, "/");
  CAF_CHECK(!p->id.has_value());
  CAF_CHECK(!p->has_data);
  CAF_CHECK(p->data.is_null());
  CAF_CHECK(p->attachments.empty());

  p = decode_one("0/admin,");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(p->nsp, "/admin");
  CAF_CHECK(!p->has_data);

  p = decode_one("0/admin");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(p->nsp, "/admin");
  CAF_CHECK(!p->has_data);

  p = decode_one("0/admin,{\"token\":\"abc\"}");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(p->nsp, "/admin");
  CAF_CHECK(p->has_data);
  CAF_CHECK_EQUAL(dump(p->data), "{\"token\":\"abc\"}");

  p = decode_one("0{}");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(p->nsp, "/");
  CAF_CHECK(p->has_data);
  CAF_CHECK(p->data.is_object());
}

CAF_TEST(decode_disconnect) {
  auto p = decode_one("1");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(type_of(*p), as_int(packet_type::disconnect));
  CAF_CHECK_EQUAL(p->nsp, "/");
  CAF_CHECK(!p->has_data);
  p = decode_one("1/admin,");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(type_of(*p), as_int(packet_type::disconnect));
  CAF_CHECK_EQUAL(p->nsp, "/admin");
}

CAF_TEST(decode_event) {
  auto p = decode_one("2[\"hello\",1,{\"a\":[true,null]}]");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(type_of(*p), as_int(packet_type::event));
  CAF_CHECK_EQUAL(p->nsp, "/");
  CAF_CHECK(!p->id.has_value());
  CAF_CHECK(p->has_data);
  CAF_CHECK_EQUAL(dump(p->data), "[\"hello\",1,{\"a\":[true,null]}]");

  p = decode_one("2/chat,[\"hello\"]");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(p->nsp, "/chat");
  CAF_CHECK(!p->id.has_value());
  CAF_CHECK_EQUAL(dump(p->data), "[\"hello\"]");
}

CAF_TEST(decode_event_with_ack_id) {
  auto p = decode_one("212[\"hello\"]");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(type_of(*p), as_int(packet_type::event));
  CAF_REQUIRE(p->id.has_value());
  CAF_CHECK_EQUAL(*p->id, 12u);

  p = decode_one("2/chat,0[\"hello\"]");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(p->nsp, "/chat");
  CAF_REQUIRE(p->id.has_value());
  CAF_CHECK_EQUAL(*p->id, 0u);

  p = decode_one("218446744073709551615[\"max\"]");
  CAF_REQUIRE(p.has_value());
  CAF_REQUIRE(p->id.has_value());
  CAF_CHECK_EQUAL(*p->id, 18446744073709551615ull);

  p = decode_one("2007[\"lead\"]");
  CAF_REQUIRE(p.has_value());
  CAF_REQUIRE(p->id.has_value());
  CAF_CHECK_EQUAL(*p->id, 7u);
}

CAF_TEST(decode_ack) {
  auto p = decode_one("31[]");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(type_of(*p), as_int(packet_type::ack));
  CAF_REQUIRE(p->id.has_value());
  CAF_CHECK_EQUAL(*p->id, 1u);
  CAF_CHECK_EQUAL(dump(p->data), "[]");

  p = decode_one("3/chat,42[\"ok\",{\"n\":1}]");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(p->nsp, "/chat");
  CAF_CHECK_EQUAL(*p->id, 42u);
  CAF_CHECK_EQUAL(dump(p->data), "[\"ok\",{\"n\":1}]");
}

CAF_TEST(decode_connect_error) {
  auto p = decode_one("4{\"message\":\"nope\",\"data\":{\"x\":1}}");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(type_of(*p), as_int(packet_type::connect_error));
  CAF_CHECK_EQUAL(dump(p->data), "{\"message\":\"nope\",\"data\":{\"x\":1}}");
  p = decode_one("4/x,\"nope\"");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(p->nsp, "/x");
  CAF_CHECK(p->data.is_string());
}

CAF_TEST(decode_event_name_not_reserved_prefix) {
  // Only exact reserved names are refused.
  CAF_CHECK(decode_one("2[\"connection\"]").has_value());
  CAF_CHECK(decode_one("2[\"message\"]").has_value());
  CAF_CHECK(decode_one("2[\"Connect\"]").has_value());
  CAF_CHECK(decode_one("2[\"\"]").has_value());
}

CAF_TEST(decode_whitespace_around_json) {
  auto p = decode_one("2 [\"a\" , 1] ");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(dump(p->data), "[\"a\",1]");
}

CAF_TEST(decode_deep_json) {
  std::string deep = "2[\"a\",";
  for (int i = 0; i < 60; ++i)
    deep += "[";
  for (int i = 0; i < 60; ++i)
    deep += "]";
  deep += "]";
  CAF_CHECK(decode_one(deep).has_value());
}

CAF_TEST(round_trip_all_types) {
  CAF_CHECK(round_trips(make(packet_type::connect)));
  CAF_CHECK(round_trips(make(packet_type::connect, "/a", "{\"x\":[1,2]}")));
  CAF_CHECK(round_trips(make(packet_type::disconnect, "/a")));
  CAF_CHECK(round_trips(make(packet_type::event, "/", "[\"e\",\"\xC3\xA9\",1.5,-3,null]")));
  auto p = make(packet_type::event, "/n", "[\"e\"]");
  p.id = 99;
  CAF_CHECK(round_trips(p));
  p = make(packet_type::ack, "/n", "[]");
  p.id = 0;
  CAF_CHECK(round_trips(p));
  CAF_CHECK(round_trips(make(packet_type::connect_error, "/n", "{\"message\":\"m\"}")));
  CAF_CHECK(round_trips(make(packet_type::connect_error, "/", "\"m\"")));
}

// -- binary attachments -----------------------------------------------------------------

CAF_TEST(binary_event_reassembly) {
  decoder d;
  auto r = d.feed_text("52-/files,9[\"upload\",{\"_placeholder\":true,\"num\":0},"
                       "{\"meta\":{\"_placeholder\":true,\"num\":1}}]");
  CAF_CHECK(is_need_more(r));
  CAF_CHECK(d.awaiting_attachments());
  r = d.feed_binary(std::string{"\x00\xff", 2});
  CAF_CHECK(is_need_more(r));
  CAF_CHECK(d.awaiting_attachments());
  r = d.feed_binary("second");
  CAF_REQUIRE(is_packet(r));
  CAF_CHECK(!d.awaiting_attachments());
  auto& p = std::get<packet>(r);
  CAF_CHECK_EQUAL(type_of(p), as_int(packet_type::binary_event));
  CAF_CHECK_EQUAL(p.nsp, "/files");
  CAF_REQUIRE(p.id.has_value());
  CAF_CHECK_EQUAL(*p.id, 9u);
  CAF_REQUIRE_EQUAL(p.attachments.size(), 2u);
  CAF_CHECK(p.attachments[0] == std::string("\x00\xff", 2));
  CAF_CHECK_EQUAL(p.attachments[1], "second");
  std::uint64_t num = 7;
  CAF_REQUIRE(p.data.is_array());
  CAF_CHECK(is_placeholder(p.data.get_array()[1], num));
  CAF_CHECK_EQUAL(num, 0u);
  CAF_CHECK(is_placeholder(p.data.get_array()[2].get_object().at("meta"), num));
  CAF_CHECK_EQUAL(num, 1u);
  // The decoder is ready for the next packet.
  CAF_CHECK(is_packet(d.feed_text("2[\"next\"]")));
}

CAF_TEST(binary_ack_reassembly) {
  decoder d;
  auto r = d.feed_text("61-5[{\"_placeholder\":true,\"num\":0}]");
  CAF_CHECK(is_need_more(r));
  r = d.feed_binary("payload");
  CAF_REQUIRE(is_packet(r));
  auto& p = std::get<packet>(r);
  CAF_CHECK_EQUAL(type_of(p), as_int(packet_type::binary_ack));
  CAF_CHECK_EQUAL(*p.id, 5u);
  CAF_REQUIRE_EQUAL(p.attachments.size(), 1u);
  CAF_CHECK_EQUAL(p.attachments[0], "payload");
}

CAF_TEST(binary_round_trip) {
  packet out;
  out.type = packet_type::event;
  out.nsp = "/bin";
  out.id = 3;
  json::array arr;
  arr.emplace_back("files");
  arr.emplace_back(add_attachment(out.attachments, std::string{"\x00\x01", 2}));
  arr.emplace_back(add_attachment(out.attachments, ""));
  out.data = std::move(arr);
  out.has_data = true;
  decoder d;
  CAF_REQUIRE(is_need_more(d.feed_text(encode(out))));
  CAF_REQUIRE(is_need_more(d.feed_binary(out.attachments[0])));
  auto r = d.feed_binary(out.attachments[1]);
  CAF_REQUIRE(is_packet(r));
  auto& in = std::get<packet>(r);
  CAF_CHECK_EQUAL(type_of(in), as_int(packet_type::binary_event));
  CAF_CHECK_EQUAL(in.nsp, out.nsp);
  CAF_CHECK(in.id == out.id);
  CAF_CHECK(in.data == out.data);
  CAF_CHECK(in.attachments == out.attachments);
  // Re-encoding the decoded packet gives the same text.
  CAF_CHECK_EQUAL(encode(in), encode(out));
}

CAF_TEST(binary_attachment_not_referenced_is_allowed) {
  decoder d;
  CAF_REQUIRE(is_need_more(d.feed_text("52-[\"a\",{\"_placeholder\":true,\"num\":1}]")));
  CAF_REQUIRE(is_need_more(d.feed_binary("x")));
  auto r = d.feed_binary("y");
  CAF_REQUIRE(is_packet(r));
  CAF_CHECK_EQUAL(std::get<packet>(r).attachments.size(), 2u);
}

CAF_TEST(binary_max_attachments) {
  CAF_CHECK(is_need_more(decoder{2}.feed_text("52-[\"a\"]")));
  CAF_CHECK(rejects("53-[\"a\"]", 2));
  CAF_CHECK(is_need_more(decoder{}.feed_text("564-[\"a\"]")));
  CAF_CHECK(rejects("565-[\"a\"]"));
  CAF_CHECK(rejects("599999999999999999999999-[\"a\"]"));
}

CAF_TEST(binary_pending_bytes_capped) {
  decoder d{64, 10};
  CAF_REQUIRE(is_need_more(d.feed_text("53-[\"a\"]")));
  CAF_CHECK(is_need_more(d.feed_binary("12345")));
  CAF_CHECK(is_need_more(d.feed_binary("12345"))); // exactly at the cap
  CAF_CHECK_EQUAL(d.pending_bytes(), 10u);
  auto r = d.feed_binary("x");
  CAF_CHECK_EQUAL(reason(r), "attachments too large");
  CAF_CHECK(!d.awaiting_attachments());
  CAF_CHECK_EQUAL(d.pending_bytes(), 0u);
  // A complete packet gives its bytes back: the next one has the whole cap again.
  CAF_REQUIRE(is_need_more(d.feed_text("52-[\"a\"]")));
  CAF_CHECK(is_need_more(d.feed_binary("123456789")));
  CAF_CHECK(is_packet(d.feed_binary("0")));
  CAF_CHECK_EQUAL(d.pending_bytes(), 0u);
  CAF_REQUIRE(is_need_more(d.feed_text("51-[\"a\"]")));
  CAF_CHECK(is_packet(d.feed_binary("0123456789")));
}

CAF_TEST(text_while_awaiting_attachments) {
  decoder d;
  CAF_REQUIRE(is_need_more(d.feed_text("51-[\"a\",{\"_placeholder\":true,\"num\":0}]")));
  auto r = d.feed_text("2[\"b\"]");
  CAF_CHECK(is_error(r));
  CAF_CHECK_EQUAL(reason(r), "unexpected text while awaiting attachments");
  CAF_CHECK(!d.awaiting_attachments());
  // after the reset the decoder accepts packets again; the stray binary is an error
  CAF_CHECK(is_error(d.feed_binary("late")));
  CAF_CHECK(is_packet(d.feed_text("2[\"b\"]")));
}

CAF_TEST(binary_when_not_awaiting) {
  decoder d;
  CAF_CHECK(is_error(d.feed_binary("stray")));
  CAF_CHECK(!d.awaiting_attachments());
  CAF_CHECK(is_packet(d.feed_text("2[\"a\"]")));
  CAF_CHECK(is_error(d.feed_binary("stray")));
}

CAF_TEST(decoder_reset_drops_pending) {
  decoder d;
  CAF_REQUIRE(is_need_more(d.feed_text("51-[\"a\",{\"_placeholder\":true,\"num\":0}]")));
  d.reset();
  CAF_CHECK(!d.awaiting_attachments());
  CAF_CHECK(is_error(d.feed_binary("x")));
  CAF_REQUIRE(is_need_more(d.feed_text("51-[\"a\",{\"_placeholder\":true,\"num\":0}]")));
  auto r = d.feed_binary("y");
  CAF_REQUIRE(is_packet(r));
  CAF_CHECK_EQUAL(std::get<packet>(r).attachments.size(), 1u);
}

CAF_TEST(error_resets_decoder) {
  decoder d;
  CAF_CHECK(is_error(d.feed_text("2{}")));
  CAF_CHECK(!d.awaiting_attachments());
  CAF_CHECK(is_packet(d.feed_text("2[\"a\"]")));
}

// -- malformed input --------------------------------------------------------------------

CAF_TEST(malformed_type) {
  CAF_CHECK(rejects(""));
  CAF_CHECK(rejects("9"));
  CAF_CHECK(rejects("7[\"a\"]"));
  CAF_CHECK(rejects("abc"));
  CAF_CHECK(rejects("/chat,"));
  CAF_CHECK(rejects("[\"a\"]"));
  CAF_CHECK(rejects(" 2[\"a\"]"));
  CAF_CHECK(rejects("-2[\"a\"]"));
  CAF_CHECK_EQUAL(reason(decoder{}.feed_text("abc")), "unknown packet type");
}

CAF_TEST(malformed_event_payload) {
  CAF_CHECK(rejects("2"));
  CAF_CHECK(rejects("2/chat,"));
  CAF_CHECK(rejects("21"));
  CAF_CHECK(rejects("2{}"));
  CAF_CHECK(rejects("2[]"));
  CAF_CHECK(rejects("2[1]"));
  CAF_CHECK(rejects("2[null]"));
  CAF_CHECK(rejects("2[[\"a\"]]"));
  CAF_CHECK(rejects("2[{\"a\":1}]"));
  CAF_CHECK(rejects("2\"a\""));
  CAF_CHECK(rejects("2null"));
  CAF_CHECK(rejects("2 "));
}

CAF_TEST(malformed_reserved_event_names) {
  CAF_CHECK(rejects("2[\"connect\"]"));
  CAF_CHECK(rejects("2[\"connect_error\"]"));
  CAF_CHECK(rejects("2[\"disconnect\"]"));
  CAF_CHECK(rejects("2[\"disconnecting\"]"));
  CAF_CHECK(rejects("2[\"newListener\"]"));
  CAF_CHECK(rejects("2[\"removeListener\"]"));
  CAF_CHECK(rejects("2/chat,1[\"disconnect\",1]"));
  CAF_CHECK(rejects("51-[\"connect\",{\"_placeholder\":true,\"num\":0}]"));
}

CAF_TEST(malformed_namespace) {
  CAF_CHECK(rejects("2/bad ns,[\"a\"]"));
  CAF_CHECK(rejects("0/bad ns,"));
  CAF_CHECK(rejects("0/tab\there,"));
  CAF_CHECK(rejects("0/" + std::string(256, 'a') + ","));
  CAF_CHECK(decode_one("0/" + std::string(255, 'a') + ",").has_value());
  // without ',' the namespace runs to the end, so the data becomes part of it
  CAF_CHECK(rejects("2/chat[\"a\"]"));
  CAF_CHECK(rejects("2/chat 1[\"a\"]"));
}

CAF_TEST(malformed_json) {
  CAF_CHECK(rejects("2[\"a\""));
  CAF_CHECK(rejects("2[\"a\"]]"));
  CAF_CHECK(rejects("2[\"a\",]"));
  CAF_CHECK(rejects("2['a']"));
  CAF_CHECK(rejects("2[\"a\"] x"));
  CAF_CHECK(rejects("2/chat,abc"));
  CAF_CHECK(rejects("0{"));
  CAF_CHECK(rejects("2[\"a\xff\"]")); // invalid UTF-8
  CAF_CHECK(rejects("2[\"a\"]/* c */"));
}

CAF_TEST(malformed_connect_payload) {
  CAF_CHECK(rejects("0/x,\"str\""));
  CAF_CHECK(rejects("0[]"));
  CAF_CHECK(rejects("0-1"));
  CAF_CHECK(rejects("0null"));
  CAF_CHECK(rejects("0true"));
}

CAF_TEST(malformed_disconnect_payload) {
  CAF_CHECK(rejects("1{}"));
  CAF_CHECK(rejects("1/chat,{}"));
  CAF_CHECK(rejects("1[]"));
  CAF_CHECK(rejects("1\"bye\""));
}

CAF_TEST(malformed_connect_error_payload) {
  CAF_CHECK(rejects("4[]"));
  CAF_CHECK(rejects("4-1"));
  CAF_CHECK(rejects("4null"));
  CAF_CHECK(rejects("4abc"));
}

CAF_TEST(malformed_ack_payload) {
  CAF_CHECK(rejects("3"));
  CAF_CHECK(rejects("31"));
  CAF_CHECK(rejects("31{}"));
  CAF_CHECK(rejects("31\"ok\""));
  CAF_CHECK(rejects("61-1{\"_placeholder\":true,\"num\":0}"));
}

CAF_TEST(malformed_ack_id) {
  CAF_CHECK(rejects("218446744073709551616[\"a\"]"));
  CAF_CHECK(rejects("399999999999999999999999[]"));
}

CAF_TEST(malformed_attachment_count) {
  CAF_CHECK(rejects("5-[\"a\",{\"_placeholder\":true,\"num\":0}]"));
  CAF_CHECK(rejects("5x-[\"a\",{\"_placeholder\":true,\"num\":0}]"));
  CAF_CHECK(rejects("50-[\"a\"]"));
  CAF_CHECK(rejects("51[\"a\",{\"_placeholder\":true,\"num\":0}]"));
  CAF_CHECK(rejects("51"));
  CAF_CHECK(rejects("5"));
  CAF_CHECK(rejects("6"));
  CAF_CHECK(rejects("6-[]"));
  CAF_CHECK(rejects("5 1-[\"a\"]"));
  CAF_CHECK(rejects("5+1-[\"a\"]"));
  CAF_CHECK(rejects("51-"));
  CAF_CHECK(rejects("51-/chat,"));
}

CAF_TEST(malformed_placeholders) {
  CAF_CHECK(rejects("51-[\"a\",{\"_placeholder\":true,\"num\":3}]"));
  CAF_CHECK(rejects("51-[\"a\",{\"_placeholder\":true,\"num\":1}]"));
  CAF_CHECK(rejects("51-[\"a\",{\"x\":[{\"_placeholder\":true,\"num\":1}]}]"));
  CAF_CHECK(rejects("51-[\"a\",{\"_placeholder\":true,\"num\":-1}]"));
  CAF_CHECK(rejects("51-[\"a\",{\"_placeholder\":true,\"num\":\"0\"}]"));
  CAF_CHECK(rejects("51-[\"a\",{\"_placeholder\":true,\"num\":0.5}]"));
  CAF_CHECK(rejects("51-[\"a\",{\"_placeholder\":true}]"));
  CAF_CHECK(rejects("62-1[{\"_placeholder\":true,\"num\":2}]"));
  // Placeholders in a non-binary packet index no attachment at all.
  CAF_CHECK(rejects("2[\"a\",{\"_placeholder\":true,\"num\":0}]"));
  // Objects not marked as placeholders are plain data.
  CAF_CHECK(decode_one("2[\"a\",{\"_placeholder\":false,\"num\":9}]").has_value());
  CAF_CHECK(decode_one("2[\"a\",{\"num\":9}]").has_value());
}

CAF_TEST(engineio_message_4abc_is_unknown_type) {
  // The Engine.IO message "4abc" carries the Socket.IO text "abc".
  decoder d;
  auto r = d.feed_text("abc");
  CAF_CHECK(is_error(r));
  CAF_CHECK_EQUAL(reason(r), "unknown packet type");
}

CAF_TEST(non_binary_types_do_not_parse_attachments) {
  // "2" followed by digits and '-' is an ack id followed by (invalid) JSON.
  CAF_CHECK(rejects("21-[\"a\"]"));
  // ...whereas the digits alone are the ack id.
  auto p = decode_one("21[\"a\"]");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(*p->id, 1u);
  CAF_CHECK(p->attachments.empty());
}

CAF_TEST(numbers_json_cannot_carry_become_null) {
  // Boost.JSON parses 1e999 to an infinity and would write it back as a bare Infinity,
  // which no client parses: the decoder replaces it with null, as JSON.stringify does.
  auto p = decode_one("2[\"e\",1e999,-1e999,{\"a\":[1e999,1.5]},1e308]");
  CAF_REQUIRE(p.has_value());
  CAF_CHECK_EQUAL(json::serialize(p->data), "[\"e\",null,null,{\"a\":[null,1.5E0]},1E308]");
  auto v = parse_json("{\"x\":-1e400,\"y\":[[1e999]]}");
  CAF_REQUIRE(v.has_value());
  CAF_CHECK_EQUAL(json::serialize(*v), "{\"x\":null,\"y\":[[null]]}");
  // Whatever parse_json returns serializes to JSON that parses again.
  for (auto text : {"[1e999]", "-1e999", "[0.1,2e-400,-0.0]", "{\"\\u00e9\":\"\\ud83d\\ude00\"}"}) {
    auto parsed = parse_json(text);
    CAF_REQUIRE(parsed.has_value());
    json::error_code ec;
    json::parse(json::serialize(*parsed), ec);
    CAF_CHECK(!ec);
  }
}

// Found by fuzz_socketio: Boost.JSON 1.81 reads 991e199 as 9.910000000000001e201, not the
// nearest double, and its own output back as yet another: a relayed number changed.
CAF_TEST(numbers_read_as_json_parse_reads_them) {
  auto v = parse_json("[991e199,0.1,-2.5e-3,123456789012345678901234567890,1e-400]");
  CAF_REQUIRE(v.has_value());
  CAF_CHECK_EQUAL(v->at(0).as_double(), 9.91e201);
  CAF_CHECK_EQUAL(json::serialize(*v), "[9.91E201,1E-1,-2.5E-3,1.2345678901234568E29,0E0]");
  auto again = parse_json(json::serialize(*v));
  CAF_REQUIRE(again.has_value());
  CAF_CHECK(*again == *v);
}

CAF_TEST(text_json_cannot_carry_is_refused) {
  // Lone surrogates and invalid UTF-8 would be re-emitted as text no client decodes.
  CAF_CHECK(rejects("2[\"e\",\"\\ud800\"]"));
  CAF_CHECK(rejects("2[\"e\",\"\\udc00x\"]"));
  CAF_CHECK(rejects("2[\"e\",\"\xff\xfe\"]"));
  CAF_CHECK(rejects("2[\"e\",\"\xc3\"]"));
  CAF_CHECK(!parse_json("[\"\\ud800\"]").has_value());
  CAF_CHECK(!parse_json("NaN").has_value());
  CAF_CHECK(!parse_json("[Infinity]").has_value());
}

CAF_TEST(reserved_event_names) {
  for (auto name : {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}) {
    CAF_CHECK(is_reserved_event(name));
    CAF_CHECK(rejects(std::string("2[\"") + name + "\"]"));
  }
  CAF_CHECK(!is_reserved_event("message"));
  CAF_CHECK(!is_reserved_event("Connect"));
}
