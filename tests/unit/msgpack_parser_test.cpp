#define CAF_SUITE msgpack_parser
#include <caf/test/unit_test_impl.hpp>

#include "transport/socketio/msgpack_parser.hpp"

#include <boost/json/serialize.hpp>

#include <string>
#include <vector>

using namespace sio::socketio;
namespace mp = sio::socketio::msgpack_parser;
namespace json = boost::json;

namespace {

std::string bytes(std::initializer_list<unsigned> list) {
  std::string s;
  for (auto b : list)
    s.push_back(static_cast<char>(b));
  return s;
}

/// A msgpack str header and body (fixstr, up to 31 bytes).
std::string str(std::string_view s) {
  return static_cast<char>(0xa0 | s.size()) + std::string(s);
}

/// {"type": T, "nsp": "/", "data": <data>} with `data` already encoded.
std::string packet_bytes(unsigned type, const std::string& data, std::string nsp = "/") {
  return bytes({0x83}) + str("type") + bytes({type}) + str("nsp") + str(nsp) + str("data") + data;
}

bool is_error(const std::variant<packet, parse_error>& r) {
  return std::holds_alternative<parse_error>(r);
}

} // namespace

CAF_TEST(encodes_as_the_npm_parser_does) {
  // ["hello", <Buffer 01 02>] on "/": socket.io's packet {type: 2, data, nsp}, binary inline.
  packet p;
  p.type = packet_type::binary_event;
  p.nsp = "/";
  p.attachments.push_back(bytes({1, 2}));
  p.data = json::array{"hello", json::object{{"_placeholder", true}, {"num", 0}}};
  p.has_data = true;
  auto expected = bytes({0x83}) + str("type") + bytes({0x02}) + str("data") + bytes({0x92}) + str("hello")
                  + bytes({0xc4, 0x02, 0x01, 0x02}) + str("nsp") + str("/");
  CAF_CHECK(mp::encode(p) == expected);
  // An ack with an id; a CONNECT without data.
  packet ack;
  ack.type = packet_type::ack;
  ack.nsp = "/chat";
  ack.id = 7;
  ack.data = json::array{1};
  ack.has_data = true;
  auto decoded = mp::decode(mp::encode(ack), 64);
  CAF_REQUIRE(!is_error(decoded));
  auto& a = std::get<packet>(decoded);
  CAF_CHECK(a.type == packet_type::ack && a.nsp == "/chat" && a.id && *a.id == 7);
  CAF_CHECK_EQUAL(json::serialize(a.data), "[1]");
}

CAF_TEST(decodes_binary_into_attachments) {
  auto in = packet_bytes(2, bytes({0x93}) + str("file") + bytes({0x81}) + str("chunk") + bytes({0xc4, 3, 'a', 'b', 'c'})
                               + bytes({0xc4, 0}));
  auto r = mp::decode(in, 64);
  CAF_REQUIRE(!is_error(r));
  auto& p = std::get<packet>(r);
  CAF_CHECK(p.type == packet_type::binary_event);
  CAF_REQUIRE_EQUAL(p.attachments.size(), 2u);
  CAF_CHECK_EQUAL(p.attachments[0], "abc");
  CAF_CHECK_EQUAL(p.attachments[1], "");
  CAF_CHECK_EQUAL(json::serialize(p.data),
                  R"(["file",{"chunk":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":1}])");
  // And back: the same bytes the client sent (keys in our order).
  auto again = mp::decode(mp::encode(p), 64);
  CAF_REQUIRE(!is_error(again));
  CAF_CHECK(std::get<packet>(again).attachments == p.attachments);
  // notepack's `undefined` (fixext 1, type 0) reads as null; floats stay, infinities become null.
  auto odd = mp::decode(packet_bytes(2, bytes({0x94}) + str("x") + bytes({0xd4, 0, 0}) + bytes({0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0})
                                            + bytes({0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0})),
                        64);
  CAF_REQUIRE(!is_error(odd));
  CAF_CHECK_EQUAL(json::serialize(std::get<packet>(odd).data), R"(["x",null,1.5E0,null])");
}

CAF_TEST(from_text_turns_our_frames_into_msgpack) {
  auto text = std::string(R"(51-/chat,3["file",{"_placeholder":true,"num":0}])");
  auto out = mp::from_text(text, {bytes({9, 9})});
  CAF_REQUIRE(out);
  auto r = mp::decode(*out, 64);
  CAF_REQUIRE(!is_error(r));
  auto& p = std::get<packet>(r);
  CAF_CHECK(p.type == packet_type::binary_event && p.nsp == "/chat" && p.id && *p.id == 3);
  CAF_CHECK_EQUAL(p.attachments.at(0), bytes({9, 9}));
  // The server's own packets: CONNECT with the sid, CONNECT_ERROR, DISCONNECT.
  for (auto t : {std::string(R"(0{"sid":"abc"})"), std::string(R"(4/x,{"message":"no"})"), std::string("1/x,")}) {
    auto m = mp::from_text(t, {});
    CAF_CHECK(m && !is_error(mp::decode(*m, 64)));
  }
  CAF_CHECK(!mp::from_text("not a packet", {}));
}

CAF_TEST(malformed_packets_are_parse_errors) {
  std::vector<std::string> bad = {
      "",
      bytes({0xc0}),                                         // nil, not a map
      bytes({0x92, 1, 2}),                                    // an array
      packet_bytes(5, bytes({0x91}) + str("x")),              // BINARY_EVENT is not a msgpack type
      packet_bytes(2, bytes({0x91}) + str("x"), "chat"),      // no leading slash
      packet_bytes(2, bytes({0x90})),                         // an event without a name
      packet_bytes(2, bytes({0x91, 0x01})),                   // a name that is not a string
      packet_bytes(2, bytes({0x91}) + str("connect")),        // a reserved name
      packet_bytes(2, str("x")),                              // data not an array
      packet_bytes(1, bytes({0x90})),                         // DISCONNECT with data
      packet_bytes(0, bytes({0x90})),                         // CONNECT with an array
      packet_bytes(2, bytes({0x91, 0xa2, 0xc3, 0x28})),       // invalid UTF-8
      packet_bytes(2, bytes({0x92}) + str("x") + bytes({0x81, 0x01, 0x02})), // a map key that is not a string
      packet_bytes(2, bytes({0x92}) + str("x") + bytes({0x81}) + str("_placeholder") + bytes({0xc3})),
      packet_bytes(2, bytes({0x92, 0xa2, 0x41, 0xe2})),                  // a cut UTF-8 sequence
      packet_bytes(2, bytes({0x91}) + str("x")) + bytes({0xc0}),        // bytes after the packet
      packet_bytes(2, bytes({0x91}) + str("x")).substr(0, 20),          // cut short
      packet_bytes(2, bytes({0xdd, 0xff, 0xff, 0xff, 0xff})),           // 4 G elements announced
      packet_bytes(2, bytes({0xdf, 0xff, 0xff, 0xff, 0xff})),           // 4 G pairs announced
      packet_bytes(2, bytes({0xc6, 0x7f, 0xff, 0xff, 0xff})),           // 2 GiB of bin announced
  };
  // The id: negative, or not an integer.
  bad.push_back(bytes({0x84}) + str("type") + bytes({2}) + str("nsp") + str("/") + str("data") + bytes({0x91}) + str("x")
                + str("id") + bytes({0xff}));
  bad.push_back(bytes({0x84}) + str("type") + bytes({2}) + str("nsp") + str("/") + str("data") + bytes({0x91}) + str("x")
                + str("id") + str("1"));
  // A key of the packet's own map that is not a string.
  bad.push_back(bytes({0x84}) + str("type") + bytes({2}) + str("nsp") + str("/") + str("data") + bytes({0x91}) + str("x")
                + bytes({0x07}) + str("x"));
  // Nesting past 128.
  bad.push_back(packet_bytes(2, bytes({0x92}) + str("x") + std::string(200, static_cast<char>(0x91)) + bytes({0xc0})));
  for (std::size_t i = 0; i < bad.size(); ++i) {
    CAF_MESSAGE("case " << i);
    CAF_CHECK(is_error(mp::decode(bad[i], 64)));
  }
  // More binary values than allowed.
  std::string many = bytes({0xdc, 0, 66}) + str("x");
  for (int i = 0; i < 65; ++i)
    many += bytes({0xc4, 0});
  CAF_CHECK(is_error(mp::decode(packet_bytes(2, many), 64)));
  CAF_CHECK(!is_error(mp::decode(packet_bytes(2, many), 65)));
}

CAF_TEST(notepack_extensions_read_as_notepack_reads_them) {
  // undefined (fixext 1, type 0) -> null; a Date (fixext 8, type 0, ms) -> its ISO string;
  // an ArrayBuffer (ext 8, type 0), even of 1 byte -> binary; another type -> [type, bytes].
  auto in = packet_bytes(2, bytes({0x95}) + str("x") + bytes({0xd4, 0, 0})
                               + bytes({0xd7, 0, 0, 0, 0x01, 0x7f, 0x3d, 0x3e, 0xcc, 0x00})
                               + bytes({0xc7, 0x01, 0x00, 0x2a}) + bytes({0xd5, 0x05, 0x01, 0x02}));
  auto r = mp::decode(in, 64);
  CAF_REQUIRE(!is_error(r));
  auto& p = std::get<packet>(r);
  CAF_CHECK(p.type == packet_type::binary_event);
  CAF_REQUIRE_EQUAL(p.attachments.size(), 2u);
  CAF_CHECK_EQUAL(p.attachments[0], bytes({0x2a}));
  CAF_CHECK_EQUAL(p.attachments[1], bytes({0x01, 0x02}));
  // 0x017f3d3ecc00 ms = 1646000000000 = 2022-02-27T22:13:20.000Z
  CAF_CHECK_EQUAL(json::serialize(p.data), R"(["x",null,"2022-02-27T22:13:20.000Z",{"_placeholder":true,"num":0},)"
                                           R"([5,{"_placeholder":true,"num":1}]])");
  // A Date before 1970 and one JavaScript cannot hold.
  auto old = mp::decode(packet_bytes(2, bytes({0x92}) + str("x") + bytes({0xd7, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfc, 0x18})), 64);
  CAF_REQUIRE(!is_error(old));
  CAF_CHECK_EQUAL(json::serialize(std::get<packet>(old).data), R"(["x","1969-12-31T23:59:59.000Z"])");
  auto far = mp::decode(packet_bytes(2, bytes({0x92}) + str("x") + bytes({0xd7, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})), 64);
  CAF_REQUIRE(!is_error(far));
  CAF_CHECK_EQUAL(json::serialize(std::get<packet>(far).data), R"(["x",null])");
}
