// The recovery actor (actors/recovery.hpp) under CAF's deterministic coordinator: what a
// claim restores (the session once, the packets after the client's offset that its rooms
// would have got, in order) and what it refuses (an unknown pid or offset, another
// namespace, a session past the window, a replay past its bound), and the bounds on what
// it keeps.
#define CAF_SUITE recovery
#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/unit_test_impl.hpp>
#include <caf/test/dsl.hpp>

#include "actors/ids.hpp"
#include "actors/messages.hpp"
#include "actors/recovery.hpp"
#include "crossing.hpp"

#include <chrono>
#include <optional>
#include <set>

namespace {

using names = std::vector<std::string>;

struct config : caf::actor_system_config {
  config() { sio::announce_message_types(*this); }
};

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

sio::shared_frame frame(const std::string& text) {
  return sio::shared_frame{std::make_shared<const sio::wire_packet>(sio::wire_packet{text, {}, {}, true})};
}

struct fixture : test_coordinator_fixture<config> {
  caf::actor recovery;

  void start(sio::recovery_options opts = {}) {
    opts.enabled = true;
    recovery = sio::spawn_recovery(sys, opts);
    run();
  }

  void append(const std::string& offset, names rooms = {}, names except = {}, const std::string& nsp = "/") {
    anon_send(recovery, sio::recovery_append{nsp, offset, std::move(rooms), std::move(except), frame("42[\"e\",\"" + offset + "\"]")});
    run();
  }

  void park(const std::string& pid, names rooms, std::int64_t at = now_ms(), const std::string& nsp = "/") {
    anon_send(recovery, sio::recovery_park{sio::recovery_session{pid, nsp, "sid-" + pid, std::move(rooms), "{\"user\":\"u1\"}", at}});
    run();
  }

  // The claim's answer: the missed frames' texts, or the error.
  struct outcome {
    std::optional<sio::recovery_claimed> claimed;
    std::optional<caf::error> error;
    names texts() const {
      names out;
      if (claimed)
        for (auto& f : claimed->missed)
          out.push_back(f->text);
      return out;
    }
    bool refused(sio::recovery_errc code) const { return error && *error == sio::make_error(code); }
  };

  outcome claim(const std::string& pid, const std::string& offset, const std::string& nsp = "/") {
    auto result = std::make_shared<outcome>();
    // (With arguments: CAF 0.17 spawns an argument-less function through a null pointer.)
    sys.spawn(
        [result](caf::event_based_actor* self, caf::actor target, sio::recovery_claim c) {
          self->request(target, caf::infinite, std::move(c))
              .then([result](sio::recovery_claimed& x) { result->claimed = std::move(x); },
                    [result](caf::error& e) { result->error = std::move(e); });
        },
        recovery, sio::recovery_claim{nsp, pid, offset});
    run();
    CAF_REQUIRE(result->claimed || result->error);
    return *result;
  }
};

std::string event(const std::string& offset) {
  return "42[\"e\",\"" + offset + "\"]";
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(recovery_tests, fixture)

CAF_TEST(a_claim_restores_the_session_and_what_its_rooms_missed_in_order) {
  start();
  append("o1");                    // the client got this one, then left
  park("p1", {"sid-p1", "r1"});
  append("o2", {"r1"});            // to its room
  append("o3", {"r2"});            // to another room
  append("o4", {}, {"r1"});        // to everyone but its room
  append("o5");                    // to everyone
  append("o6", {"r2", "sid-p1"});  // to it by its id
  append("o7", {"r1"}, {"sid-p1"}); // to its room except itself
  auto got = claim("p1", "o1");
  CAF_REQUIRE(got.claimed);
  CAF_CHECK_EQUAL(got.texts(), (names{event("o2"), event("o5"), event("o6")}));
  CAF_CHECK_EQUAL(got.claimed->session.sid, "sid-p1");
  CAF_CHECK_EQUAL(got.claimed->session.rooms, (names{"sid-p1", "r1"}));
  CAF_CHECK_EQUAL(got.claimed->session.data, "{\"user\":\"u1\"}");
  // One use: the same claim again finds nothing.
  CAF_CHECK(claim("p1", "o1").refused(sio::recovery_errc::unknown_session));
}

CAF_TEST(an_offset_at_the_end_replays_nothing) {
  start();
  append("o1");
  park("p1", {"sid-p1"});
  auto got = claim("p1", "o1");
  CAF_REQUIRE(got.claimed);
  CAF_CHECK(got.claimed->missed.empty());
}

CAF_TEST(unknown_pids_offsets_and_namespaces_are_refused) {
  start();
  append("o1");
  append("x1", {}, {}, "/chat");
  park("p1", {"sid-p1"});
  CAF_CHECK(claim("nobody", "o1").refused(sio::recovery_errc::unknown_session));
  CAF_CHECK(claim("p1", "o1", "/chat").refused(sio::recovery_errc::unknown_session)); // its namespace is "/"
  CAF_CHECK(claim("p1", "never-sent").refused(sio::recovery_errc::offset_unknown));
  CAF_CHECK(claim("p1", "x1").refused(sio::recovery_errc::offset_unknown)); // another namespace's offset
  // A refused offset does not use the session up.
  CAF_CHECK(claim("p1", "o1").claimed.has_value());
}

CAF_TEST(a_session_past_the_window_is_gone) {
  sio::recovery_options opts;
  opts.max_disconnection = std::chrono::milliseconds(1000);
  start(opts);
  append("o1");
  park("old", {"sid-old"}, now_ms() - 5000);
  park("new", {"sid-new"});
  CAF_CHECK(claim("old", "o1").refused(sio::recovery_errc::expired));
  CAF_CHECK(claim("new", "o1").claimed.has_value());
}

CAF_TEST(the_byte_budget_drops_the_oldest_packets) {
  sio::recovery_options opts;
  opts.max_log_bytes = 416; // room for five packets of this size (78-80 bytes each as counted)
  start(opts);
  for (int i = 1; i <= 10; ++i)
    append("o" + std::to_string(i));
  park("p1", {"sid-p1"});
  // o1 went long ago: a client that last saw it cannot be brought up to date.
  CAF_CHECK(claim("p1", "o1").refused(sio::recovery_errc::offset_unknown));
  auto got = claim("p1", "o8");
  CAF_REQUIRE(got.claimed);
  CAF_CHECK_EQUAL(got.texts(), (names{event("o9"), event("o10")}));
}

CAF_TEST(a_replay_past_its_bound_is_refused) {
  sio::recovery_options opts;
  opts.max_replay = 2;
  start(opts);
  append("o1");
  park("p1", {"sid-p1"});
  for (int i = 2; i <= 4; ++i)
    append("o" + std::to_string(i));
  CAF_CHECK(claim("p1", "o1").refused(sio::recovery_errc::too_many));
  CAF_CHECK_EQUAL(claim("p1", "o2").texts(), (names{event("o3"), event("o4")}));
}

CAF_TEST(the_session_budget_drops_the_oldest_sessions) {
  sio::recovery_options opts;
  opts.max_sessions = 2;
  start(opts);
  append("o1");
  park("p1", {"sid-p1"}, now_ms() - 30);
  park("p2", {"sid-p2"}, now_ms() - 20);
  park("p3", {"sid-p3"}, now_ms() - 10);
  CAF_CHECK(claim("p1", "o1").refused(sio::recovery_errc::unknown_session));
  CAF_CHECK(claim("p2", "o1").claimed.has_value());
  CAF_CHECK(claim("p3", "o1").claimed.has_value());
}

CAF_TEST(rooms_except_and_reasons) {
  CAF_CHECK(sio::recovery_includes({"a"}, {}, {}));
  CAF_CHECK(sio::recovery_includes({"a", "b"}, {"b", "c"}, {}));
  CAF_CHECK(!sio::recovery_includes({"a"}, {"c"}, {}));
  CAF_CHECK(!sio::recovery_includes({"a", "b"}, {}, {"b"}));
  CAF_CHECK(!sio::recovery_includes({"a", "b"}, {"a"}, {"b"}));
  for (auto reason : {"transport close", "transport error", "ping timeout", "server shutting down", "forced close"})
    CAF_CHECK(sio::recoverable_disconnect(reason));
  for (auto reason : {"client namespace disconnect", "server namespace disconnect", "parse error"})
    CAF_CHECK(!sio::recoverable_disconnect(reason));
  std::set<std::string> pids;
  for (int i = 0; i < 100; ++i) {
    auto pid = sio::make_private_id();
    CAF_CHECK_EQUAL(pid.size(), 20u);
    CAF_CHECK_EQUAL(pid.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                    std::string::npos);
    pids.insert(pid);
  }
  CAF_CHECK_EQUAL(pids.size(), 100u);
}

CAF_TEST(messages_cross_a_node) {
  using sio_test::crossed;
  sio::recovery_session s{"pid-1", "/nsp-1", "sid-1", {"room-1"}, "{\"data\":1}", 1234567};
  auto back = crossed(sys, sio::recovery_park{s}, {"pid-1", "/nsp-1", "sid-1", "room-1", "1234567"});
  CAF_CHECK_EQUAL(back.session.rooms, s.rooms);
  auto a = crossed(sys, sio::recovery_append{"/nsp-1", "offset-1", {"room-1"}, {"except-1"}, frame("42[\"x\"]")},
                   {"offset-1", "except-1"});
  CAF_REQUIRE(a.frame);
  CAF_CHECK(a.frame->ends_with_offset);
  crossed(sys, sio::recovery_claim{"/nsp-1", "pid-1", "offset-1"}, {"pid-1", "offset-1"});
  auto c = crossed(sys, sio::recovery_claimed{s, {frame("42[\"y\"]")}}, {"sid-1"});
  CAF_CHECK_EQUAL(c.missed.size(), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
