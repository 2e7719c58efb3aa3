// The cluster's seams that need no second process: node numbers, the directory the HTTP
// front end reads, the cluster messages crossing a serializer, and what a namespace actor
// tells its node (rooms gained and lost, the broadcasts that are not `local`), with a
// recording actor standing in for the node. The links themselves are tested with real
// processes (tests/integration/cluster_nodes.test.js).
#define CAF_SUITE cluster
#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/unit_test_impl.hpp>
#include <caf/test/dsl.hpp>

#include "actors/cluster_node.hpp"
#include "actors_fixture.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

namespace {

struct recorded {
  std::vector<sio::room_interest> interest;
  std::vector<sio::cluster_broadcast> broadcasts;
};

caf::behavior recorder(caf::event_based_actor*, std::shared_ptr<recorded> out) {
  return {
      [out](sio::room_interest& ri) { out->interest.push_back(ri); },
      [out](sio::cluster_broadcast& b) { out->broadcasts.push_back(b); },
  };
}

struct cluster_fixture : sio_test::fixture {
  std::shared_ptr<recorded> seen = std::make_shared<recorded>();
  cluster_fixture() {
    core->cluster = sys.spawn(recorder, seen);
    core->cluster_members = std::make_shared<sio::cluster_directory>();
  }
  bool has_interest(const std::string& room, bool add) {
    for (auto& ri : seen->interest)
      if (ri.nsp == "/" && ri.room == room && ri.add == add)
        return true;
    return false;
  }
};

template <class T> T round_trip(caf::actor_system& sys, T value) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  if (auto err = sink(value))
    CAF_FAIL("serialize: " << sys.render(err));
  T out;
  caf::binary_deserializer source{sys, buf};
  if (auto err = source(out))
    CAF_FAIL("deserialize: " << sys.render(err));
  return out;
}

} // namespace

CAF_TEST(node_numbers_are_stable_and_never_zero) {
  CAF_CHECK_EQUAL(sio::node_number("a"), sio::node_number("a"));
  CAF_CHECK_NOT_EQUAL(sio::node_number("a"), sio::node_number("b"));
  CAF_CHECK_NOT_EQUAL(sio::node_number(""), 0u);
  CAF_CHECK_EQUAL(sio::node_number(""), 2166136261u); // FNV-1a's offset basis
}

CAF_TEST(directory_puts_finds_and_removes_members) {
  sio::cluster_directory dir;
  dir.set_self(sio::node_number("a"));
  sio::node_info a{"a", sio::node_number("a"), "127.0.0.1:1", {}, {}};
  sio::node_info b{"b", sio::node_number("b"), "127.0.0.1:2", {}, {}};
  dir.put(a);
  dir.put(b);
  CAF_CHECK_EQUAL(dir.members().size(), 2u);
  auto found = dir.find(b.number); // a copy: the check reads it after the call
  CAF_REQUIRE(found);
  CAF_CHECK_EQUAL(found->address, "127.0.0.1:2");
  dir.remove(b.number);
  CAF_CHECK(!dir.find(b.number));
  // A node that was a member is remembered (its socket ids stay closed rooms).
  CAF_CHECK(dir.ever_member(b.number));
  CAF_CHECK(!dir.ever_member(sio::node_number("never")));
  CAF_CHECK_EQUAL(dir.self_number(), a.number);
}

CAF_TEST_FIXTURE_SCOPE(cluster_tests, cluster_fixture)

CAF_TEST(cluster_messages_cross_a_serializer) {
  sio::broadcast_request req{{"r1", "r2"}, {"x"},
                             sio::shared_frame{std::make_shared<const sio::wire_packet>(
                                 sio::wire_packet{"42[\"news\",1,\"off-1\"]", {"\x01\x02"}, {}, true})},
                             true, false, "off-1"};
  auto b = round_trip(sys, sio::cluster_broadcast{"/chat", req});
  CAF_CHECK_EQUAL(b.nsp, "/chat");
  CAF_CHECK_EQUAL(b.req.rooms, (std::vector<std::string>{"r1", "r2"}));
  CAF_CHECK_EQUAL(b.req.except, (std::vector<std::string>{"x"}));
  CAF_REQUIRE(b.req.frame);
  CAF_CHECK_EQUAL(b.req.frame->text, "42[\"news\",1,\"off-1\"]");
  CAF_CHECK_EQUAL(b.req.frame->attachments.size(), 1u);
  CAF_CHECK(b.req.frame->ends_with_offset);
  CAF_CHECK_EQUAL(b.req.offset, "off-1");
  CAF_CHECK(b.req.is_volatile);
  auto ri = round_trip(sys, sio::room_interest{"/", "room", true});
  CAF_CHECK(ri.add);
  CAF_CHECK_EQUAL(ri.room, "room");
  sio::interest_snapshot snap;
  snap.rooms["/"] = {"a", "b"};
  CAF_CHECK_EQUAL(round_trip(sys, snap).rooms.at("/").size(), 2u);
  auto ans = round_trip(sys, sio::join_answer{sio::node_info{"n", 7, "h:1", {}, {}}, "proof", {}});
  CAF_CHECK_EQUAL(ans.self.name, "n");
  CAF_CHECK_EQUAL(ans.self.number, 7u);
  CAF_CHECK_EQUAL(ans.proof, "proof");
}

CAF_TEST(a_namespace_tells_its_node_of_rooms_gained_and_lost) {
  auto a = connect();
  auto b = connect();
  send_text(a, "42[\"join\",\"room\"]");
  CAF_CHECK(has_interest("room", true));
  auto adds = seen->interest.size();
  send_text(b, "42[\"join\",\"room\"]");
  CAF_CHECK_EQUAL(seen->interest.size(), adds); // not the first member: nothing new
  send_text(a, "42[\"leave\",\"room\"]");
  CAF_CHECK(!has_interest("room", false));
  send_text(b, "42[\"leave\",\"room\"]");
  CAF_CHECK(has_interest("room", false)); // the last member left
}

CAF_TEST(a_namespace_hands_its_node_each_broadcast_that_is_not_local) {
  auto a = connect();
  send_text(a, R"(42["bcast",{"rooms":["r"],"except":["x"],"text":"hi"}])");
  CAF_REQUIRE_EQUAL(seen->broadcasts.size(), 1u);
  auto& b = seen->broadcasts.front();
  CAF_CHECK_EQUAL(b.nsp, "/");
  CAF_CHECK_EQUAL(b.req.rooms, (std::vector<std::string>{"r"}));
  CAF_CHECK(!b.req.local);
  // A broadcast that came from a member is delivered here only.
  auto nsp = core->find_namespace("/");
  CAF_REQUIRE(nsp);
  sio::broadcast_request from_member{{}, {}, b.req.frame, false, true, {}};
  anon_send(nsp->actor, from_member);
  consume_messages();
  CAF_CHECK_EQUAL(seen->broadcasts.size(), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
