// The chat's state actors (apps/chat-server: presence, room chat users, rate limit
// replication) under CAF's deterministic test coordinator. Each node is a set of the real
// actors with a fake node actor and a fake namespace actor that records every broadcast
// (decoded back to event and argument), so a test reads what each node's sockets would
// hear. Cluster messages between the nodes' instances are the real ones; node_up and
// node_down are sent as the node actor would.
#define CAF_SUITE chat_state
// Ours first: the test DSL defines a macro `allow`, which rate_limiter.hpp's allow() meets.
#include "actors/cluster_node.hpp"
#include "actors/messages.hpp"
#include "actors/persistence_actor.hpp"
#include "apps/chat-server/chat_util.hpp"
#include "apps/chat-server/node_counts.hpp"
#include "apps/chat-server/presence_actor.hpp"
#include "apps/chat-server/rate_replicator.hpp"
#include "apps/chat-server/room_chat_users.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/test/unit_test_impl.hpp>
#include <caf/test/dsl.hpp>
#undef allow

#include <boost/json.hpp>

#include <algorithm>
#include <memory>
#include <optional>

using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

struct config : caf::actor_system_config {
  config() {
    sio::announce_message_types(*this);
    chat::announce_persistence_types(*this);
    chat::announce_presence_types(*this);
    chat::announce_room_chat_types(*this);
    chat::announce_rate_types(*this);
  }
};

/// A broadcast as the namespace actor got it.
struct broadcast_heard {
  std::string nsp;
  std::vector<std::string> rooms;
  std::vector<std::string> except;
  bool local = false;
  std::string event;
  json::value arg;
};

// "4" "2" ["/nsp,"] [event, arg]: the Engine.IO message of a Socket.IO event.
broadcast_heard decode(const sio::broadcast_request& b) {
  broadcast_heard h{"/", b.rooms, b.except, b.local, {}, nullptr};
  auto& text = b.frame->text;
  auto open = text.find('[');
  if (text.size() > 2 && text[2] == '/')
    h.nsp = text.substr(2, text.find(',') - 2);
  auto arr = json::parse(text.substr(open)).as_array();
  h.event = std::string(arr.at(0).as_string());
  if (arr.size() > 1)
    h.arg = arr[1];
  return h;
}

using heard_log = std::shared_ptr<std::vector<broadcast_heard>>;
using last_seen_log = std::shared_ptr<std::vector<std::string>>;

caf::behavior fake_namespace(caf::event_based_actor*, heard_log log) {
  return {[=](sio::broadcast_request& b) { log->push_back(decode(b)); }};
}

caf::behavior fake_store(caf::event_based_actor*, last_seen_log log) {
  return {[=](chat::update_last_seen& u) {
    log->push_back(u.user_id);
    return caf::ok_atom::value;
  }};
}

// The node actor: takes register_service and subscriptions, says nothing by itself.
// (An unused argument: CAF 0.17 binds a null tuple for an argument-less spawn, which
// UBSan reports.)
caf::behavior fake_node(caf::event_based_actor*, int) {
  return {[](const sio::register_service&) {}, [](sio::subscribe_atom, const caf::actor&) {}};
}

struct node {
  std::string name;
  caf::actor cluster, nsp, store;
  heard_log heard = std::make_shared<std::vector<broadcast_heard>>();
  last_seen_log last_seen = std::make_shared<std::vector<std::string>>();
  caf::actor presence, users;

  /// The broadcasts of `event` heard so far, taken out of the log.
  std::vector<broadcast_heard> take(const std::string& event) {
    std::vector<broadcast_heard> out;
    auto& log = *heard;
    for (auto it = log.begin(); it != log.end();)
      if (it->event == event) {
        out.push_back(std::move(*it));
        it = log.erase(it);
      } else {
        ++it;
      }
    return out;
  }
};

template <class T> struct reply { std::optional<T> value; };

struct fixture : test_coordinator_fixture<config> {
  std::vector<std::unique_ptr<node>> nodes;

  // The instances hold each other (peers): they end when told, as chat_app tells them.
  ~fixture() override {
    for (auto& n : nodes)
      for (auto* a : {&n->presence, &n->users, &n->nsp, &n->store, &n->cluster})
        if (*a)
          caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
    consume_messages();
  }

  node& add_node(const std::string& name, bool cluster = true) {
    auto n = std::make_unique<node>();
    n->name = name;
    if (cluster)
      n->cluster = sys.spawn(fake_node, 0);
    n->nsp = sys.spawn(fake_namespace, n->heard);
    n->store = sys.spawn(fake_store, n->last_seen);
    auto nsp = n->nsp;
    auto in = [nsp](const std::string& name) { return sio::broadcast(nsp, name, nullptr); };
    n->presence = chat::spawn_presence(sys, chat::presence_config{in, "/", "", n->store, n->cluster});
    n->users = chat::spawn_room_chat_users(sys, chat::room_chat_users_config{[in] { return in("/chat"); }, n->cluster});
    nodes.push_back(std::move(n));
    consume_messages();
    return *nodes.back();
  }

  sio::node_info info(const node& n) {
    sio::node_info i;
    i.name = n.name;
    i.number = 1;
    i.node = n.cluster;
    i.services = {{chat::presence_service, n.presence}, {chat::room_chat_users_service, n.users}};
    return i;
  }

  // What the node actor of `at` tells its subscribers: itself first, then the others.
  void form_cluster() {
    for (auto& at : nodes) {
      for (auto* a : {&at->presence, &at->users})
        caf::anon_send(*a, sio::node_up{info(*at)});
      for (auto& other : nodes)
        if (other != at)
          for (auto* a : {&at->presence, &at->users})
            caf::anon_send(*a, sio::node_up{info(*other)});
    }
    consume_messages();
    for (auto& n : nodes)
      n->heard->clear();
  }

  void node_down(node& at, const node& gone) {
    for (auto* a : {&at.presence, &at.users})
      caf::anon_send(*a, sio::node_down{gone.name, 1, "failed"});
    consume_messages();
  }

  // Sends `req` from a fresh requester actor and runs the actors until it is answered.
  template <class T, class Request> T ask(const caf::actor& to, Request req) {
    auto out = std::make_shared<reply<T>>();
    sys.spawn(
        [out](caf::event_based_actor* self, caf::actor target, Request r) {
          self->request(target, caf::infinite, std::move(r)).then([out](T x) { out->value = std::move(x); });
        },
        to, std::move(req));
    consume_messages();
    CAF_REQUIRE(out->value.has_value());
    return std::move(*out->value);
  }

  template <class Msg> void tell(const caf::actor& to, Msg m) {
    caf::anon_send(to, std::move(m));
    consume_messages();
  }

  std::vector<std::string> member_ids(const caf::actor& presence, const std::string& room) {
    std::vector<std::string> out;
    for (auto& m : ask<chat::presence_list>(presence, chat::presence_query{room}).members)
      out.push_back(m.user);
    return out;
  }

  bool online(const caf::actor& presence, const std::string& user) {
    return ask<chat::online_state>(presence, chat::online_query{user}).online;
  }
};

std::string user_of(const broadcast_heard& h) {
  return std::string(h.arg.as_object().at("user_id").as_string());
}

std::string status_of(const broadcast_heard& h) {
  auto& u = h.arg.as_object().at("user").as_object();
  return std::string(u.at("id").as_string()) + (u.at("is_online").as_bool() ? " online" : " offline");
}

std::vector<std::string> statuses(std::vector<broadcast_heard> hs) {
  std::vector<std::string> out;
  for (auto& h : hs)
    out.push_back(status_of(h));
  std::sort(out.begin(), out.end());
  return out;
}

using strings = std::vector<std::string>;

// What another node gets: the message serialized as BASP does (by the announced names).
caf::message across(caf::actor_system& sys, caf::message m) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  if (auto err = sink(m))
    CAF_FAIL("serialize: " << sys.render(err));
  caf::message out;
  caf::binary_deserializer source{sys, buf};
  if (auto err = source(out))
    CAF_FAIL("deserialize: " << sys.render(err));
  return out;
}

} // namespace

// -- node_counts -----------------------------------------------------------------------------

CAF_TEST(node_counts_sum_over_nodes) {
  chat::node_counts<std::string> c;
  using ch = chat::count_change;
  CAF_CHECK(c.add("", "u", 1) == ch::first);
  CAF_CHECK(c.add("b", "u", 1) == ch::none);
  CAF_CHECK_EQUAL(c.total("u"), 2);
  CAF_CHECK(c.add("", "u", -1) == ch::none);
  // A late decrement of a count already gone moves nothing.
  int moved = 7;
  CAF_CHECK(c.add("", "u", -1, &moved) == ch::none);
  CAF_CHECK_EQUAL(moved, 0);
  CAF_CHECK(c.add("b", "u", -1) == ch::last);
  CAF_CHECK_EQUAL(c.total("u"), 0);
  CAF_CHECK(c.entries().empty());
  // A snapshot replaces one node's counts; dropping a node ends what only it counted.
  c.add("", "x", 1);
  auto changes = c.replace("b", {{"x", 2}, {"y", 1}});
  CAF_REQUIRE_EQUAL(changes.size(), 1u);
  CAF_CHECK_EQUAL(changes[0].first, "y");
  CAF_CHECK(changes[0].second == ch::first);
  CAF_CHECK_EQUAL(c.total("x"), 3);
  CAF_CHECK_EQUAL(c.drop("b"), strings{"y"});
  CAF_CHECK_EQUAL(c.total("x"), 1);
  CAF_CHECK(c.of_node("b").empty());
}

CAF_TEST_FIXTURE_SCOPE(chat_state_tests, fixture)

// -- the messages that cross nodes ---------------------------------------------------------------

CAF_TEST(state_messages_cross_a_serializer) {
  chat::presence_snapshot snap{"a", {{"/", "presence-x", "u1", R"({"name":"U"})", "t0", 2}}, {{"u1", 3}}, true};
  auto m = across(sys, caf::make_message(snap, chat::online_delta{"a", "u2", -1, 42}));
  CAF_REQUIRE(m.match_elements<chat::presence_snapshot, chat::online_delta>());
  auto& s2 = m.get_as<chat::presence_snapshot>(0);
  CAF_CHECK_EQUAL(s2.origin, "a");
  CAF_REQUIRE_EQUAL(s2.rooms.size(), 1u);
  CAF_CHECK_EQUAL(s2.rooms[0].info, R"({"name":"U"})");
  CAF_CHECK_EQUAL(s2.rooms[0].sockets, 2);
  CAF_CHECK_EQUAL(s2.online.at(0).sockets, 3);
  CAF_CHECK(s2.answer_wanted);
  CAF_CHECK_EQUAL(m.get_as<chat::online_delta>(1).at_ms, 42);
  m = across(sys, caf::make_message(chat::presence_delta{"b", "/", "presence-x", "u1", "{}", "t1", -1},
                                    chat::chat_users_delta{"b", chat::chat_users_delta::leave_room, "s1", "", "r"}));
  CAF_REQUIRE(m.match_elements<chat::presence_delta, chat::chat_users_delta>());
  CAF_CHECK_EQUAL(m.get_as<chat::presence_delta>(0).diff, -1);
  CAF_CHECK_EQUAL(m.get_as<chat::chat_users_delta>(1).op, chat::chat_users_delta::leave_room);
  CAF_CHECK_EQUAL(m.get_as<chat::chat_users_delta>(1).room, "r");
  chat::chat_users_snapshot users{"b", {{{"s1", "bob", "r"}, {"r", "q"}}}, false};
  m = across(sys, caf::make_message(users, chat::rate_counts{"b", {"u1", "a127.0.0.1"}, {2, 5}}));
  CAF_REQUIRE(m.match_elements<chat::chat_users_snapshot, chat::rate_counts>());
  CAF_CHECK_EQUAL(m.get_as<chat::chat_users_snapshot>(0).users.at(0).rooms, (strings{"r", "q"}));
  CAF_CHECK_EQUAL(m.get_as<chat::rate_counts>(1).counts, (std::vector<std::int64_t>{2, 5}));
}

// -- presence, one node ----------------------------------------------------------------------

CAF_TEST(presence_one_node_announces_first_and_last_socket) {
  auto& a = add_node("a", false);
  auto list =
      ask<chat::presence_list>(a.presence, chat::presence_enter{"/", "presence-x", "u1", R"({"name":"U"})", "s1"});
  CAF_REQUIRE_EQUAL(list.members.size(), 1u);
  CAF_CHECK_EQUAL(list.members[0].user, "u1");
  CAF_CHECK_EQUAL(list.members[0].info, R"({"name":"U"})");
  auto joined = a.take("user.joined");
  CAF_REQUIRE_EQUAL(joined.size(), 1u);
  CAF_CHECK_EQUAL(joined[0].rooms, strings{"presence-x"});
  CAF_CHECK_EQUAL(joined[0].except, strings{"s1"}); // not to the socket that entered
  CAF_CHECK_EQUAL(user_of(joined[0]), "u1");
  // The user's second socket: one member, nothing announced.
  ask<chat::presence_list>(a.presence, chat::presence_enter{"/", "presence-x", "u1", "{}", "s2"});
  CAF_CHECK(a.take("user.joined").empty());
  CAF_CHECK_EQUAL(member_ids(a.presence, "presence-x"), strings{"u1"});
  ask<caf::ok_atom>(a.presence, chat::presence_exit{"/", "presence-x", "u1"});
  CAF_CHECK(a.take("user.left").empty());
  ask<caf::ok_atom>(a.presence, chat::presence_exit{"/", "presence-x", "u1"});
  auto left = a.take("user.left");
  CAF_REQUIRE_EQUAL(left.size(), 1u);
  CAF_CHECK_EQUAL(user_of(left[0]), "u1");
  CAF_CHECK(member_ids(a.presence, "presence-x").empty());
  // An exit without an enter counts nothing and says nothing.
  ask<caf::ok_atom>(a.presence, chat::presence_exit{"/", "presence-x", "u1"});
  CAF_CHECK(a.take("user.left").empty());
  CAF_CHECK_EQUAL(ask<chat::presence_counts>(a.presence, chat::presence_count_query{{"presence-x", "none"}}).users,
                  (std::vector<std::uint64_t>{0, 0}));
}

CAF_TEST(online_one_node_first_and_last_socket_with_last_seen) {
  auto& a = add_node("a", false);
  tell(a.presence, chat::online_enter{"u1"});
  tell(a.presence, chat::online_enter{"u1"});
  CAF_CHECK_EQUAL(statuses(a.take("user.status.changed")), strings{"u1 online"});
  CAF_CHECK(online(a.presence, "u1"));
  tell(a.presence, chat::online_exit{"u1"});
  CAF_CHECK(a.take("user.status.changed").empty());
  CAF_CHECK(a.last_seen->empty());
  tell(a.presence, chat::online_exit{"u1"});
  CAF_CHECK_EQUAL(statuses(a.take("user.status.changed")), strings{"u1 offline"});
  CAF_CHECK_EQUAL(*a.last_seen, strings{"u1"});
  CAF_CHECK(!online(a.presence, "u1"));
}

// -- presence, three nodes -------------------------------------------------------------------

CAF_TEST(presence_cluster_merges_users_and_announces_once_per_node) {
  auto& a = add_node("a");
  auto& b = add_node("b");
  auto& c = add_node("c");
  form_cluster();
  ask<chat::presence_list>(a.presence, chat::presence_enter{"/", "presence-x", "u1", R"({"name":"U"})", "s1"});
  // Every node's sockets hear it once, each from its own node (local broadcasts).
  for (auto* n : {&a, &b, &c}) {
    auto joined = n->take("user.joined");
    CAF_REQUIRE_EQUAL(joined.size(), 1u);
    CAF_CHECK(joined[0].local);
    CAF_CHECK_EQUAL(user_of(joined[0]), "u1");
  }
  // The same user's socket on c: still one member everywhere, nothing announced.
  auto list = ask<chat::presence_list>(c.presence, chat::presence_enter{"/", "presence-x", "u1", "{}", "s9"});
  CAF_CHECK_EQUAL(list.members.size(), 1u);
  CAF_CHECK_EQUAL(list.members[0].info, R"({"name":"U"})");
  ask<chat::presence_list>(c.presence, chat::presence_enter{"/", "presence-x", "u2", "{}", "s8"});
  for (auto* n : {&a, &b, &c}) {
    CAF_CHECK_EQUAL(member_ids(n->presence, "presence-x"), (strings{"u1", "u2"}));
    auto joined = n->take("user.joined");
    CAF_REQUIRE_EQUAL(joined.size(), 1u);
    CAF_CHECK_EQUAL(user_of(joined[0]), "u2");
  }
  // u1 leaves a: still on c, so nobody hears user.left.
  ask<caf::ok_atom>(a.presence, chat::presence_exit{"/", "presence-x", "u1"});
  for (auto* n : {&a, &b, &c})
    CAF_CHECK(n->take("user.left").empty());
  CAF_CHECK_EQUAL(member_ids(b.presence, "presence-x"), (strings{"u1", "u2"}));
  // Online status the same way.
  tell(a.presence, chat::online_enter{"u1"});
  tell(c.presence, chat::online_enter{"u1"});
  for (auto* n : {&a, &b, &c})
    CAF_CHECK_EQUAL(statuses(n->take("user.status.changed")), strings{"u1 online"});
  tell(a.presence, chat::online_exit{"u1"});
  CAF_CHECK(online(b.presence, "u1"));
  for (auto* n : {&a, &b, &c})
    CAF_CHECK(n->take("user.status.changed").empty());
  // a wrote last_seen for its own last socket; the user is still online on c.
  CAF_CHECK_EQUAL(*a.last_seen, strings{"u1"});
}

CAF_TEST(presence_node_down_removes_its_users_with_local_announcements) {
  auto& a = add_node("a");
  auto& b = add_node("b");
  auto& c = add_node("c");
  form_cluster();
  // u1 only on b; u2 on b and a; u3 only on a.
  ask<chat::presence_list>(b.presence, chat::presence_enter{"/", "presence-x", "u1", "{}", "s1"});
  ask<chat::presence_list>(b.presence, chat::presence_enter{"/", "presence-x", "u2", "{}", "s2"});
  ask<chat::presence_list>(a.presence, chat::presence_enter{"/", "presence-x", "u2", "{}", "s3"});
  ask<chat::presence_list>(a.presence, chat::presence_enter{"/", "presence-x", "u3", "{}", "s4"});
  for (auto& user : {"u1", "u2"})
    tell(b.presence, chat::online_enter{user});
  for (auto& user : {"u2", "u3"})
    tell(a.presence, chat::online_enter{user});
  CAF_CHECK_EQUAL(member_ids(c.presence, "presence-x"), (strings{"u1", "u2", "u3"}));
  for (auto& n : nodes)
    n->heard->clear();
  // b dies: a and c each tell their own sockets that u1 left and went offline, once.
  for (auto* n : {&a, &c})
    node_down(*n, b);
  for (auto* n : {&a, &c}) {
    auto left = n->take("user.left");
    CAF_REQUIRE_EQUAL(left.size(), 1u);
    CAF_CHECK_EQUAL(user_of(left[0]), "u1");
    CAF_CHECK_EQUAL(left[0].rooms, strings{"presence-x"});
    CAF_CHECK(left[0].local);
    auto status = n->take("user.status.changed");
    CAF_CHECK_EQUAL(statuses(status), strings{"u1 offline"});
    CAF_REQUIRE_EQUAL(status.size(), 1u);
    CAF_CHECK(status[0].local);
    CAF_CHECK(n->heard->empty());
    CAF_CHECK_EQUAL(member_ids(n->presence, "presence-x"), (strings{"u2", "u3"}));
    CAF_CHECK(!online(n->presence, "u1"));
    CAF_CHECK(online(n->presence, "u2"));
    CAF_CHECK_EQUAL(*n->last_seen, strings{"u1"});
  }
  // What b still had in flight is dropped: it is down.
  tell(c.presence, chat::presence_delta{"b", "/", "presence-x", "u9", "{}", "t", 1});
  CAF_CHECK_EQUAL(member_ids(c.presence, "presence-x"), (strings{"u2", "u3"}));
  CAF_CHECK(c.take("user.joined").empty());
}

CAF_TEST(presence_snapshot_brings_a_new_member_up_to_date) {
  auto& a = add_node("a");
  ask<chat::presence_list>(a.presence, chat::presence_enter{"/", "presence-x", "u1", R"({"name":"U"})", "s1"});
  tell(a.presence, chat::online_enter{"u1"});
  // b comes up later: the snapshots go both ways.
  auto& b = add_node("b");
  form_cluster();
  CAF_CHECK_EQUAL(member_ids(b.presence, "presence-x"), strings{"u1"});
  CAF_CHECK(online(b.presence, "u1"));
  auto list = ask<chat::presence_list>(b.presence, chat::presence_query{"presence-x"});
  CAF_CHECK_EQUAL(list.members.at(0).info, R"({"name":"U"})");
}

// -- room chat users ---------------------------------------------------------------------------

CAF_TEST(room_chat_users_lists_and_departures) {
  auto& a = add_node("a");
  auto& b = add_node("b");
  form_cluster();
  auto all = ask<chat::room_chat_users>(a.users, chat::chat_user_join{"s1", "alice"});
  CAF_REQUIRE_EQUAL(all.users.size(), 1u);
  all = ask<chat::room_chat_users>(b.users, chat::chat_user_join{"s2", "bob"});
  CAF_REQUIRE_EQUAL(all.users.size(), 2u); // the whole cluster, in join order
  CAF_CHECK_EQUAL(all.users[0].username, "alice");
  CAF_CHECK_EQUAL(all.users[1].username, "bob");
  auto room = ask<chat::room_chat_users>(b.users, chat::chat_user_join_room{"s2", "r"});
  CAF_CHECK_EQUAL(room.users.size(), 1u);
  room = ask<chat::room_chat_users>(a.users, chat::chat_user_join_room{"s1", "r"});
  CAF_REQUIRE_EQUAL(room.users.size(), 2u);
  CAF_CHECK_EQUAL(room.users[1].room, "r");
  // A recipient on the other node is found.
  auto found = ask<chat::room_chat_users>(a.users, chat::chat_user_find{"s2"});
  CAF_REQUIRE_EQUAL(found.users.size(), 1u);
  CAF_CHECK_EQUAL(found.users[0].username, "bob");
  tell(a.users, chat::chat_user_leave_room{"s1", "r"});
  CAF_CHECK_EQUAL(ask<chat::room_chat_users>(b.users, chat::chat_user_join_room{"s2", "r"}).users.size(), 1u);
  // A disconnect on a: a tells the namespace (and so the cluster) once.
  tell(a.users, chat::chat_user_gone{"s1"});
  auto gone = a.take("user-disconnected");
  CAF_REQUIRE_EQUAL(gone.size(), 1u);
  CAF_CHECK(!gone[0].local);
  CAF_CHECK_EQUAL(a.take("users-list").size(), 1u);
  CAF_CHECK(b.heard->empty());
  CAF_CHECK(ask<chat::room_chat_users>(b.users, chat::chat_user_find{"s1"}).users.empty());
  // b goes down: a forgets bob and tells its own sockets.
  node_down(a, b);
  gone = a.take("user-disconnected");
  CAF_REQUIRE_EQUAL(gone.size(), 1u);
  CAF_CHECK(gone[0].local);
  CAF_CHECK_EQUAL(gone[0].nsp, "/chat");
  CAF_CHECK_EQUAL(gone[0].arg.as_object().at("username").as_string(), "bob");
  auto lists = a.take("users-list");
  CAF_REQUIRE_EQUAL(lists.size(), 1u);
  CAF_CHECK(lists[0].arg.as_array().empty());
  CAF_CHECK(ask<chat::room_chat_users>(a.users, chat::chat_user_find{"s2"}).users.empty());
}

// -- rate limit replication ------------------------------------------------------------------

CAF_TEST(rate_counts_reach_the_other_node_within_an_interval) {
  auto la = std::make_shared<chat::rate_limiter>(16, 60000);
  auto lb = std::make_shared<chat::rate_limiter>(16, 60000);
  auto ca = sys.spawn(fake_node, 0);
  auto cb = sys.spawn(fake_node, 0);
  auto ra = chat::spawn_rate_replicator(sys, la, ca);
  auto rb = chat::spawn_rate_replicator(sys, lb, cb);
  auto info = [](std::string name, caf::actor node, caf::actor r) {
    sio::node_info i;
    i.name = std::move(name);
    i.node = std::move(node);
    i.services = {{chat::rate_limit_service, std::move(r)}};
    return i;
  };
  for (auto& [to, self_info, other] : {std::make_tuple(ra, info("a", ca, ra), info("b", cb, rb)),
                                       std::make_tuple(rb, info("b", cb, rb), info("a", ca, ra))}) {
    caf::anon_send(to, sio::node_up{self_info});
    caf::anon_send(to, sio::node_up{other});
  }
  consume_messages();
  auto now = chat::now_ms(); // the replicator adds what it hears at the wall-clock time
  CAF_CHECK(la->allow({{"u1", 3}}, now, 2));
  // Before the interval b knows nothing.
  CAF_CHECK(lb->allow({{"u1", 3}}, now, 3));
  advance_time(chat::rate_replication_interval);
  consume_messages();
  // a's 2 and b's own 3 are over the limit of 3 on both now.
  CAF_CHECK(!lb->allow({{"u1", 3}}, now, 1));
  CAF_CHECK(!la->allow({{"u1", 3}}, now, 1));
  // Refused sends are not counted, so nothing more travels.
  CAF_CHECK(la->take_unsent().empty());
  for (auto& r : {ra, rb})
    caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  consume_messages();
}

CAF_TEST_FIXTURE_SCOPE_END()
