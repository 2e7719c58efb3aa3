// The room-actor path: a room of the namespace that reaches room_actor_threshold members
// is handed to a room actor, and given back (the actor stopped) once it is empty. Each
// broadcast must reach each member exactly once across the hand-off, across `except`
// rooms that are room actors, and while members come and go with a broadcast in flight.
#define CAF_SUITE room_actor
#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/unit_test_impl.hpp>
#include <caf/test/dsl.hpp>

#include "actors/namespace_actor.hpp"
#include "actors_fixture.hpp"

#include <set>

namespace {

using names = std::vector<std::string>;

std::string json_list(const names& xs) {
  json::array a;
  for (auto& x : xs)
    a.emplace_back(x);
  return json::serialize(a);
}

struct room_fixture : sio_test::fixture {
  std::vector<std::size_t> connect_n(std::size_t n) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < n; ++i)
      out.push_back(connect());
    return out;
  }

  // Hands a text message to client i's connection actor without running anything.
  void post_text(std::size_t i, std::string text) {
    anon_send(clients[i].actor, sio::ws_in{clients[i].channel, false, std::move(text)});
  }
  void post_gone(std::size_t i) { anon_send(clients[i].actor, sio::ws_gone{clients[i].channel, "transport close"}); }

  static std::string join_text(const std::string& room) { return "42[\"join\",\"" + room + "\"]"; }
  static std::string leave_text(const std::string& room) { return "42[\"leave\",\"" + room + "\"]"; }
  static std::string bcast_text(const names& rooms, const names& except, const std::string& text) {
    return "42[\"bcast\",{\"rooms\":" + json_list(rooms) + ",\"except\":" + json_list(except) + ",\"text\":\"" + text
           + "\"}]";
  }
  static std::string news(const std::string& text) { return "42[\"news\",\"" + text + "\"]"; }

  void join(std::size_t i, const std::string& room) { send_text(i, join_text(room)); }
  void join_all(const std::vector<std::size_t>& who, const std::string& room) {
    for (auto i : who)
      join(i, room);
  }
  void leave(std::size_t i, const std::string& room) { send_text(i, leave_text(room)); }
  void gone(std::size_t i) {
    post_gone(i);
    consume_messages();
  }
  void bcast(std::size_t from, const names& rooms, const names& except, const std::string& text) {
    send_text(from, bcast_text(rooms, except, text));
  }
  // n new clients in `room`, which is a room actor's by then.
  std::vector<std::size_t> big_room(std::size_t n, const std::string& room) {
    auto members = connect_n(n);
    join_all(members, room);
    CAF_REQUIRE(room_actor_of(room));
    return members;
  }

  sio::namespace_state& nsp_state() {
    return deref<caf::stateful_actor<sio::namespace_state>>(core->namespaces.at("/").actor).state;
  }
  std::size_t room_size(const std::string& room) {
    auto& rooms = nsp_state().rooms;
    auto it = rooms.find(room);
    return it == rooms.end() ? 0 : it->second.members.size();
  }
  // The room's actor; null while the namespace delivers the room itself.
  caf::actor room_actor_of(const std::string& room) {
    auto& rooms = nsp_state().rooms;
    auto it = rooms.find(room);
    return it == rooms.end() ? caf::actor{} : it->second.actor;
  }

  // Runs every job except `held`'s: what is sent to it waits in its mailbox, in flight.
  void run_all_but(const caf::actor& held) {
    auto* ptr = dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(held));
    sched.run_jobs_filtered([ptr](caf::resumable* job) { return job != ptr; });
  }

  // The news frames client i received, in order.
  names news_of(std::size_t i) {
    names out;
    for (auto& frame : ws(i).sent)
      if (frame.rfind("42[\"news\",", 0) == 0)
        out.push_back(frame);
    return out;
  }

  // Every client got `text` once if it is in `to`, else not at all.
  void check_reached(const std::string& text, const std::set<std::size_t>& to) {
    auto frame = news(text);
    for (std::size_t i = 0; i < clients.size(); ++i) {
      auto n = ws(i).count(frame);
      if (n != (to.count(i) ? 1u : 0u))
        CAF_FAIL("'" << text << "': client " << i << " got it " << n << " times, expected " << to.count(i));
    }
  }
};

std::set<std::size_t> set_of(std::initializer_list<std::vector<std::size_t>> groups) {
  std::set<std::size_t> out;
  for (auto& g : groups)
    out.insert(g.begin(), g.end());
  return out;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(room_actor_tests, room_fixture)

CAF_TEST(handoff_at_64_members) {
  auto sender = connect();
  auto members = connect_n(sio::room_actor_threshold);
  for (std::size_t i = 0; i + 1 < members.size(); ++i)
    join(members[i], "big");
  CAF_REQUIRE_EQUAL(room_size("big"), 63u);
  CAF_CHECK(!room_actor_of("big"));
  bcast(sender, {"big"}, {}, "at63");
  join(members.back(), "big");
  auto actor = room_actor_of("big");
  CAF_REQUIRE(actor);
  bcast(sender, {"big"}, {}, "at64");
  // A member joining after the hand-off is added to the room actor.
  auto late = connect();
  join(late, "big");
  CAF_CHECK_EQUAL(room_actor_of("big"), actor);
  bcast(sender, {"big"}, {}, "at65");
  for (std::size_t i = 0; i + 1 < members.size(); ++i)
    CAF_CHECK_EQUAL(news_of(members[i]), (names{news("at63"), news("at64"), news("at65")}));
  CAF_CHECK_EQUAL(news_of(members.back()), (names{news("at64"), news("at65")}));
  CAF_CHECK_EQUAL(news_of(late), (names{news("at65")}));
  CAF_CHECK(news_of(sender).empty());
}

CAF_TEST(handoff_racing_a_broadcast) {
  // The 64th join and a broadcast reach the namespace in either order, both in one run.
  auto sender = connect();
  auto members = connect_n(sio::room_actor_threshold);
  for (const std::string room : {"join-first", "bcast-first"}) {
    for (std::size_t i = 0; i + 1 < members.size(); ++i)
      join(members[i], room);
    clear_all();
    if (room == "join-first") {
      post_text(members.back(), join_text(room));
      post_text(sender, bcast_text({room}, {}, room));
    } else {
      post_text(sender, bcast_text({room}, {}, room));
      post_text(members.back(), join_text(room));
    }
    consume_messages();
    CAF_REQUIRE(room_actor_of(room));
    for (std::size_t i = 0; i + 1 < members.size(); ++i)
      CAF_CHECK_EQUAL(news_of(members[i]), names{news(room)});
    CAF_CHECK_EQUAL(news_of(members.back()).size(), room == "join-first" ? 1u : 0u);
    bcast(sender, {room}, {}, room + "-after");
    for (auto m : members)
      CAF_CHECK_EQUAL(ws(m).count(news(room + "-after")), 1u);
  }
}

CAF_TEST(except_across_room_actors) {
  // A and B are room actors (70 members each, 30 in both); S is small.
  auto sender = connect();
  auto only_a = connect_n(40), both = connect_n(30), only_b = connect_n(40);
  auto loner = connect();
  join_all(only_a, "A");
  join_all(both, "A");
  join_all(both, "B");
  join_all(only_b, "B");
  for (auto i : {only_a[0], both[0], only_b[0], loner})
    join(i, "S");
  CAF_REQUIRE(room_actor_of("A"));
  CAF_REQUIRE(room_actor_of("B"));
  CAF_REQUIRE(!room_actor_of("S"));
  clear_all();

  bcast(sender, {"A"}, {"B"}, "a-not-b");
  check_reached("a-not-b", set_of({only_a}));
  bcast(sender, {"B"}, {"A"}, "b-not-a");
  check_reached("b-not-a", set_of({only_b}));
  bcast(sender, {"A"}, {"A"}, "a-not-a");
  check_reached("a-not-a", {});
  bcast(sender, {"A", "B"}, {}, "a-and-b");
  check_reached("a-and-b", set_of({only_a, both, only_b}));
  bcast(sender, {"A", "A"}, {}, "a-twice");
  check_reached("a-twice", set_of({only_a, both}));
  bcast(sender, {"A", "B"}, {"S"}, "ab-not-s");
  auto ab_not_s = set_of({only_a, both, only_b});
  for (auto i : {only_a[0], both[0], only_b[0]})
    ab_not_s.erase(i);
  check_reached("ab-not-s", ab_not_s);
  bcast(sender, {"S", "A"}, {"B"}, "sa-not-b");
  check_reached("sa-not-b", set_of({only_a, {loner}}));
  bcast(sender, {"B", "S", "A"}, {}, "b-s-a");
  check_reached("b-s-a", set_of({only_a, both, only_b, {loner}}));
  bcast(sender, {"S"}, {"A"}, "s-not-a");
  check_reached("s-not-a", {only_b[0], loner});
  bcast(sender, {"S"}, {"A", "B"}, "s-not-ab");
  check_reached("s-not-ab", {loner});
  bcast(sender, {}, {"A"}, "all-not-a");
  check_reached("all-not-a", set_of({only_b, {loner, sender}}));
  bcast(sender, {}, {"A", "B"}, "all-not-ab");
  check_reached("all-not-ab", {loner, sender});
}

CAF_TEST(shrink_below_threshold_and_to_empty) {
  auto sender = connect();
  auto members = big_room(66, "r");
  auto actor = room_actor_of("r");
  auto addr = actor.address();
  // Two leave and one disconnects: 63 left, still delivered by the same actor.
  leave(members[0], "r");
  leave(members[1], "r");
  gone(members[2]);
  CAF_CHECK_EQUAL(room_size("r"), 63u);
  CAF_CHECK_EQUAL(room_actor_of("r"), actor);
  clear_all();
  bcast(sender, {"r"}, {}, "below");
  check_reached("below", std::set<std::size_t>(members.begin() + 3, members.end()));
  // Everyone goes, by leaving or by disconnecting: the room and its actor are gone.
  for (std::size_t i = 3; i < members.size(); ++i) {
    if (i % 2)
      leave(members[i], "r");
    else
      gone(members[i]);
  }
  CAF_CHECK_EQUAL(nsp_state().rooms.count("r"), 0u);
  actor = nullptr;
  CAF_CHECK(!caf::actor_cast<caf::actor>(addr)); // stopped, and nothing holds it
  clear_all();
  bcast(sender, {"r"}, {}, "empty");
  check_reached("empty", {});
  // The room comes back small, then big again with a new actor.
  join(members[0], "r");
  join(members[1], "r");
  CAF_CHECK(!room_actor_of("r"));
  bcast(sender, {"r"}, {}, "small-again");
  check_reached("small-again", {members[0], members[1]});
  auto fresh = connect_n(62);
  join_all(fresh, "r");
  auto again = room_actor_of("r");
  CAF_REQUIRE(again);
  CAF_CHECK(again.address() != addr);
  bcast(sender, {"r"}, {}, "big-again");
  check_reached("big-again", set_of({fresh, {members[0], members[1]}}));
}

CAF_TEST(membership_changes_while_a_broadcast_is_in_flight) {
  auto sender = connect();
  auto members = big_room(70, "r");
  auto actor = room_actor_of("r");
  clear_all();
  // f1 waits in the room actor's mailbox while m0 leaves, m1 disconnects, m2 leaves and
  // joins again, and a newcomer joins: each change is ordered after f1.
  auto newcomer = connect();
  post_text(sender, bcast_text({"r"}, {}, "f1"));
  run_all_but(actor);
  post_text(members[0], leave_text("r"));
  run_all_but(actor);
  post_gone(members[1]);
  run_all_but(actor);
  post_text(members[2], leave_text("r"));
  run_all_but(actor);
  post_text(members[2], join_text("r"));
  post_text(newcomer, join_text("r"));
  run_all_but(actor);
  post_text(sender, bcast_text({"r"}, {}, "f2"));
  consume_messages();
  CAF_CHECK_EQUAL(news_of(members[0]), names{news("f1")});
  CAF_CHECK_EQUAL(ws(members[1]).count(news("f2")), 0u);
  CAF_CHECK_EQUAL(news_of(members[2]), (names{news("f1"), news("f2")}));
  CAF_CHECK_EQUAL(news_of(newcomer), names{news("f2")});
  for (std::size_t i = 3; i < members.size(); ++i)
    CAF_CHECK_EQUAL(news_of(members[i]), (names{news("f1"), news("f2")}));
}

CAF_TEST(room_emptied_while_a_broadcast_is_in_flight) {
  // f1 waits in the actor's mailbox while every member leaves: the actor delivers it to
  // them, then stops; the room, joined again, is the namespace's.
  auto sender = connect();
  auto members = big_room(64, "r");
  auto addr = room_actor_of("r").address();
  clear_all();
  post_text(sender, bcast_text({"r"}, {}, "f1"));
  run_all_but(caf::actor_cast<caf::actor>(addr));
  for (auto m : members)
    post_text(m, leave_text("r"));
  consume_messages();
  CAF_CHECK_EQUAL(nsp_state().rooms.count("r"), 0u);
  CAF_CHECK(!caf::actor_cast<caf::actor>(addr));
  check_reached("f1", set_of({members}));
  join(members[5], "r");
  bcast(sender, {"r"}, {}, "f2");
  CAF_CHECK_EQUAL(news_of(members[5]), (names{news("f1"), news("f2")}));
  check_reached("f2", {members[5]});
}

CAF_TEST_FIXTURE_SCOPE_END()
