// The remote store (the persistence handle of a --store cluster node) under CAF's
// deterministic test coordinator. The store member's actor is a real persistence actor
// over a SQLite file in a temporary directory, or an actor that never answers (a store
// that hangs); node_up / node_down come as the node actor would send them.
#define CAF_SUITE remote_store
#include <caf/test/unit_test_impl.hpp>
#include <caf/test/dsl.hpp>

#include "actors/ids.hpp"
#include "actors/remote_store.hpp"
#include "persistence/sqlite_store.hpp"
#include "persistence_support.hpp"

using namespace std::chrono_literals;
namespace ps = chat::persistence;

namespace {

using namespace persistence_support;

// What the node actor saw: who subscribed.
struct node_state {
  std::vector<caf::actor> subscribers;
};

struct fixture : test_coordinator_fixture<config> {
  temp_dir dir;
  std::shared_ptr<node_state> node_seen = std::make_shared<node_state>();
  caf::actor node;
  caf::actor remote;
  caf::actor persistence;

  fixture() {
    // The node actor as far as the remote store sees it: it takes the subscription.
    // (An unused argument: CAF 0.17 binds a null tuple for an argument-less spawn.)
    node = sys.spawn([seen = node_seen](caf::event_based_actor*, int) -> caf::behavior {
      return {[seen](sio::subscribe_atom, caf::actor subscriber) { seen->subscribers.push_back(subscriber); }};
    }, 0);
    remote = chat::spawn_remote_store(sys, node, chat::remote_store_options{10s});
    consume_messages();
  }

  ~fixture() override {
    if (persistence) {
      caf::anon_send(persistence, chat::shutdown_atom::value);
      consume_messages();
    }
    caf::anon_send_exit(remote, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
    consume_messages();
  }

  // A real persistence actor (run by the test coordinator); writes commit when
  // `max_batch` wait or after `max_delay`.
  caf::actor spawn_store(std::size_t max_batch = 1, caf::timespan max_delay = 2ms) {
    ps::sqlite_options o;
    o.path = (dir.path / "chat.db").string();
    persistence = sys.spawn<chat::persistence_actor>(std::make_unique<ps::sqlite_store>(o),
                                                     chat::persistence_options{max_batch, max_delay});
    consume_messages();
    return persistence;
  }

  static sio::node_info member(std::string name, std::uint32_t number, caf::actor store = nullptr) {
    sio::node_info info;
    info.name = std::move(name);
    info.number = number;
    info.address = "127.0.0.1:1";
    if (store)
      info.services[chat::store_service] = std::move(store);
    return info;
  }

  void up(sio::node_info info) {
    caf::anon_send(remote, sio::node_up{std::move(info)});
    consume_messages();
  }

  void down(std::string name, std::uint32_t number, std::string reason = "failed") {
    caf::anon_send(remote, sio::node_down{std::move(name), number, std::move(reason)});
  }

  // Sends `req` to the remote store from a fresh requester; the reply is recorded.
  template <class T, class Request> reply_ptr<T> ask(Request req) {
    auto out = std::make_shared<reply<T>>();
    sys.spawn(
        [out](caf::event_based_actor* self, caf::actor target, Request r) {
          self->request(target, caf::infinite, std::move(r))
              .then(
                  [out](T& x) {
                    out->value = std::move(x);
                    ++out->answers;
                  },
                  [out](caf::error& e) {
                    out->error = std::move(e);
                    ++out->answers;
                  });
        },
        remote, std::move(req));
    return out;
  }

  template <class T, class Request> reply_ptr<T> ask_now(Request req) {
    auto r = ask<T>(std::move(req));
    consume_messages();
    CAF_REQUIRE(r->answered());
    return r;
  }
};

// An actor that takes every request and never answers: a store that hangs.
caf::behavior silent_store(caf::event_based_actor* self, std::shared_ptr<int> taken) {
  // Kept, never delivered: the requester waits until someone else answers it.
  auto held = std::make_shared<std::vector<caf::response_promise>>();
  self->set_default_handler(
      [self, taken, held](caf::scheduled_actor*, caf::message_view&) -> caf::result<caf::message> {
        ++*taken;
        held->push_back(self->make_response_promise());
        return held->back();
      });
  return {[](caf::ok_atom) {}};
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(remote_store_tests, fixture)

CAF_TEST(subscribes_to_the_node_actor) {
  CAF_REQUIRE_EQUAL(node_seen->subscribers.size(), 1u);
  CAF_CHECK_EQUAL(node_seen->subscribers[0], remote);
}

CAF_TEST(without_a_store_member_every_request_is_refused_at_once) {
  // This node (first on subscribe) and another member: neither offers a store.
  up(member("b", 2));
  up(member("c", 3));
  auto stored = ask_now<ps::conversation_message>(chat::store_message{text("c1", "alice", "hi")});
  CAF_CHECK(!stored->value);
  CAF_CHECK(stored->failed_with(chat::persistence_errc::unavailable));
  CAF_CHECK_EQUAL(sys.render(*stored->error),
                  "persistence: unavailable (the store is unreachable: no member offers it)");
  auto count = ask_now<std::int64_t>(chat::count_messages{});
  CAF_CHECK(count->failed_with(chat::persistence_errc::unavailable));
  auto flushed = ask_now<caf::ok_atom>(chat::flush_atom::value);
  CAF_CHECK(flushed->failed_with(chat::persistence_errc::unavailable));
}

CAF_TEST(requests_reach_the_store_member_and_its_answers_come_back) {
  auto store = spawn_store();
  up(member("b", 2));
  up(member("a", 1, store));
  // One request of each answer type the persistence actor gives.
  auto stored = ask_now<ps::conversation_message>(chat::store_message{text("c1", "alice", "hello")});
  CAF_REQUIRE(stored->value);
  CAF_CHECK(!stored->value->id.empty());
  auto id = stored->value->id;
  auto receipt = ask_now<ps::receipt>(chat::mark_delivered{id, "bob", 0});
  CAF_REQUIRE(receipt->value);
  CAF_CHECK_EQUAL(receipt->value->conversation_id, "c1");
  ps::history_query q;
  q.conversation_id = "c1";
  q.limit = 10;
  auto page = ask_now<ps::history_page>(q);
  CAF_REQUIRE(page->value);
  CAF_REQUIRE_EQUAL(page->value->messages.size(), 1u);
  CAF_CHECK_EQUAL(page->value->messages[0].id, id);
  CAF_CHECK_EQUAL(page->value->messages[0].delivered_to, std::vector<std::string>{"bob"});
  auto added = ask_now<ps::participant_list>(chat::add_participants{"c2", {"alice"}, 0});
  CAF_REQUIRE(added->value);
  CAF_CHECK_EQUAL(added->value->user_ids, std::vector<std::string>{"alice"});
  CAF_CHECK(ask_now<caf::ok_atom>(chat::record_connect{"sock-1", 0})->value);
  CAF_CHECK(ask_now<caf::ok_atom>(chat::update_last_seen{"alice", 5000})->value);
  auto totals = ask_now<ps::connection_totals>(chat::get_connection_totals{});
  CAF_REQUIRE(totals->value);
  CAF_CHECK_EQUAL(totals->value->active, 1);
  auto active = ask_now<chat::connection_list>(chat::list_active_connections{10});
  CAF_REQUIRE(active->value);
  CAF_REQUIRE_EQUAL(active->value->connections.size(), 1u);
  CAF_CHECK_EQUAL(active->value->connections[0].socket_id, "sock-1");
  auto seen = ask_now<chat::last_seen_info>(chat::get_last_seen{"alice"});
  CAF_REQUIRE(seen->value);
  CAF_CHECK(seen->value->last_seen == 5000);
  auto conversations = ask_now<chat::conversation_list>(chat::list_active_conversations{"alice", 10});
  CAF_REQUIRE(conversations->value);
  CAF_CHECK_EQUAL(conversations->value->conversations.size(), 1u);
  auto stats = ask_now<chat::persistence_stats>(chat::get_persistence_stats{});
  CAF_REQUIRE(stats->value);
  CAF_CHECK_GREATER_OR_EQUAL(stats->value->writes, 5u);
  auto count = ask_now<std::int64_t>(chat::count_messages{"c1"});
  CAF_CHECK(count->value == 1);
  // Connection state recovery's messages (actors/recovery.hpp), the claim's answer too.
  auto frame = sio::shared_frame{std::make_shared<const sio::wire_packet>(sio::wire_packet{"42[\"e\",\"o1\"]", {}, {}, true})};
  CAF_CHECK(ask_now<caf::ok_atom>(sio::recovery_append{"/", "o1", {}, {}, frame})->value);
  CAF_CHECK(ask_now<caf::ok_atom>(
                sio::recovery_live{sio::recovery_session{"p1", "/", "s1", {"s1"}, "{}", 0, sio::id_prefix(7)}})
                ->value);
  CAF_CHECK(ask_now<caf::ok_atom>(sio::recovery_append{"/", "o2", {}, {}, frame})->value);
  // Claimed once its node is gone (a connected socket's record is not).
  CAF_CHECK(ask_now<std::int64_t>(chat::close_open_connections{0, sio::id_prefix(7)})->value);
  auto claimed = ask_now<sio::recovery_claimed>(sio::recovery_claim{"/", "p1", "o1"});
  CAF_REQUIRE(claimed->value);
  CAF_CHECK_EQUAL(claimed->value->session.sid, "s1");
  CAF_CHECK_EQUAL(claimed->value->missed.size(), 1u);
  CAF_CHECK(ask_now<sio::recovery_claimed>(sio::recovery_claim{"/", "p1", "o1"})
                ->failed_with(chat::persistence_errc::not_found));
  CAF_CHECK(ask_now<caf::ok_atom>(chat::flush_atom::value)->value);
  // The store's own refusals come back as they are.
  auto missing = ask_now<ps::conversation_message>(chat::get_message{"no-such-id"});
  CAF_CHECK(missing->failed_with(chat::persistence_errc::not_found));
  auto outsider = ask_now<ps::history_page>(chat::read_history{q, "mallory"});
  CAF_CHECK(outsider->failed_with(chat::persistence_errc::not_participant));
}

CAF_TEST(fire_and_forget_writes_reach_the_store) {
  auto store = spawn_store();
  up(member("a", 1, store));
  caf::anon_send(remote, chat::record_connect{"sock-2", 0});
  consume_messages();
  auto totals = ask_now<ps::connection_totals>(chat::get_connection_totals{});
  CAF_REQUIRE(totals->value);
  CAF_CHECK_EQUAL(totals->value->total, 1);
}

CAF_TEST(the_first_store_closes_what_this_nodes_previous_run_left_open) {
  auto store = spawn_store();
  // Left by this node's previous run (its id prefix), and another member's.
  auto previous = sio::id_prefix(sio::node_id()) + "previous";
  caf::anon_send(store, chat::record_connect{previous, 1000});
  caf::anon_send(store, sio::recovery_live{sio::recovery_session{"p1", "/", previous, {previous}, "{}", 0,
                                                                 sio::id_prefix(sio::node_id())}});
  caf::anon_send(store, chat::record_connect{"another-member", 1000});
  consume_messages();
  up(member("a", 1, store));
  auto totals = ask_now<ps::connection_totals>(chat::get_connection_totals{});
  CAF_REQUIRE(totals->value);
  CAF_CHECK_EQUAL(totals->value->total, 2);
  CAF_CHECK_EQUAL(totals->value->active, 1);
  // Its connected socket is parked: it can come back.
  auto frame = sio::shared_frame{std::make_shared<const sio::wire_packet>(sio::wire_packet{"42[\"e\",\"o1\"]", {}, {}, true})};
  CAF_CHECK(ask_now<caf::ok_atom>(sio::recovery_append{"/", "o1", {}, {}, frame})->value);
  CAF_CHECK(ask_now<sio::recovery_claimed>(sio::recovery_claim{"/", "p1", "o1"})->value);
  // Once per start: the store coming back does not close this run's connections.
  caf::anon_send(remote, chat::record_connect{sio::id_prefix(sio::node_id()) + "current", 0});
  consume_messages();
  down("a", 1);
  consume_messages();
  up(member("a", 1, store));
  auto later = ask_now<ps::connection_totals>(chat::get_connection_totals{});
  CAF_REQUIRE(later->value);
  CAF_CHECK_EQUAL(later->value->active, 2);
}

CAF_TEST(requests_in_flight_fail_when_the_store_node_goes_down) {
  // Writes wait for a batch of 8 or 1 s: the first ones stay in flight.
  auto store = spawn_store(8, 1s);
  up(member("a", 1, store));
  auto first = ask<ps::conversation_message>(chat::store_message{text("c1", "alice", "one")});
  auto second = ask<ps::conversation_message>(chat::store_message{text("c1", "alice", "two")});
  consume_messages();
  CAF_REQUIRE(!first->answered());
  CAF_REQUIRE(!second->answered());
  // Another member going down changes nothing.
  down("b", 2);
  consume_messages();
  CAF_CHECK(!first->answered());
  down("a", 1);
  consume_messages();
  CAF_CHECK(first->failed_with(chat::persistence_errc::unavailable));
  CAF_CHECK(second->failed_with(chat::persistence_errc::unavailable));
  CAF_CHECK_EQUAL(sys.render(*first->error),
                  "persistence: unavailable (the store is unreachable: node a is down (failed))");
  // Later requests are refused at once.
  auto third = ask_now<ps::conversation_message>(chat::store_message{text("c1", "alice", "three")});
  CAF_CHECK(third->failed_with(chat::persistence_errc::unavailable));
  // The store's late answers (its batch commits now) reach nobody twice.
  advance_time(1s);
  consume_messages();
  CAF_CHECK_EQUAL(first->answers, 1);
  CAF_CHECK_EQUAL(second->answers, 1);
  CAF_CHECK(!first->value);
  // The store node comes back: requests go through again.
  up(member("a", 1, store));
  auto fourth = ask<ps::conversation_message>(chat::store_message{text("c1", "alice", "four")});
  consume_messages();
  caf::anon_send(persistence, chat::flush_atom::value);
  consume_messages();
  CAF_REQUIRE(fourth->answered());
  CAF_CHECK(fourth->value);
}

CAF_TEST(requests_in_flight_fail_when_the_store_actor_is_down) {
  auto taken = std::make_shared<int>(0);
  auto hanging = sys.spawn(silent_store, taken);
  up(member("a", 1, hanging));
  auto pending = ask<ps::conversation_message>(chat::store_message{text("c1", "alice", "one")});
  consume_messages();
  CAF_REQUIRE_EQUAL(*taken, 2); // close_open_connections for this node's previous run, then it
  CAF_REQUIRE(!pending->answered());
  // CAF's down signal (the link to its node broke) before any node_down.
  caf::anon_send_exit(hanging, caf::exit_reason::kill);
  consume_messages();
  CAF_CHECK(pending->failed_with(chat::persistence_errc::unavailable));
  auto next = ask_now<std::int64_t>(chat::count_messages{});
  CAF_CHECK(next->failed_with(chat::persistence_errc::unavailable));
}

CAF_TEST(a_request_the_store_never_answers_fails_after_the_timeout) {
  auto taken = std::make_shared<int>(0);
  auto hanging = sys.spawn(silent_store, taken);
  up(member("a", 1, hanging));
  auto early = ask<std::int64_t>(chat::count_messages{});
  consume_messages();
  advance_time(5s);
  auto late = ask<std::int64_t>(chat::count_messages{});
  consume_messages();
  CAF_REQUIRE_EQUAL(*taken, 3); // close_open_connections (at the first store), then these two
  CAF_CHECK(!early->answered());
  advance_time(5s); // the first one's 10 s are up
  consume_messages();
  CAF_CHECK(early->failed_with(chat::persistence_errc::unavailable));
  CAF_CHECK(!late->answered());
  advance_time(5s);
  consume_messages();
  CAF_CHECK(late->failed_with(chat::persistence_errc::unavailable));
  caf::anon_send_exit(hanging, caf::exit_reason::kill);
  consume_messages();
}

CAF_TEST(shutdown_stops_the_remote_store_not_the_store) {
  auto store = spawn_store();
  up(member("a", 1, store));
  auto done = ask_now<caf::ok_atom>(chat::shutdown_atom::value);
  CAF_CHECK(done->value);
  // The store member still serves.
  auto out = std::make_shared<reply<std::int64_t>>();
  sys.spawn([out, store](caf::event_based_actor* self, int) {
    self->request(store, caf::infinite, chat::count_messages{})
        .then(
            [out](std::int64_t n) {
              out->value = n;
              ++out->answers;
            },
            [out](caf::error& e) {
              out->error = e;
              ++out->answers;
            });
  }, 0);
  consume_messages();
  CAF_CHECK(out->value == 0);
}

CAF_TEST(a_second_store_is_ignored) {
  auto store = spawn_store();
  auto taken = std::make_shared<int>(0);
  auto other = sys.spawn(silent_store, taken);
  up(member("a", 1, store));
  up(member("z", 26, other));
  auto count = ask_now<std::int64_t>(chat::count_messages{});
  CAF_CHECK(count->value == 0);
  CAF_CHECK_EQUAL(*taken, 0);
  caf::anon_send_exit(other, caf::exit_reason::kill);
  consume_messages();
}

CAF_TEST_FIXTURE_SCOPE_END()
