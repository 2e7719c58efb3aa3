// io_scheduler with a real actor system: where actors run before, while and after an
// io_context is attached, its clock (delayed messages, request timeouts, a later timer
// set before an earlier one), and batch_scope.
#define CAF_SUITE io_scheduler
#include <caf/test/unit_test_impl.hpp>

#include "actors/io_scheduler.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <caf/all.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

using where_atom = caf::atom_constant<caf::atom("where")>;
using later_atom = caf::atom_constant<caf::atom("later")>;
using fired_atom = caf::atom_constant<caf::atom("fired")>;

std::string id_of(std::thread::id id) {
  std::ostringstream out;
  out << id;
  return out.str();
}

// Answers `where` with the id of the thread it runs on. (Actors here take an unused
// argument: CAF 0.17 spawning without arguments dereferences a null pointer, which
// UBSan reports.)
caf::behavior locator(int) {
  return {[](where_atom) { return id_of(std::this_thread::get_id()); }};
}

// An I/O thread of our own, then an actor system whose scheduler is io_scheduler; torn
// down in the order main() uses: detach, actor system, I/O thread.
struct fixture {
  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  std::thread io_thread{[this] { ioc.run(); }};
  std::string io_thread_id = id_of(io_thread.get_id());
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  sio::io_scheduler* sched = nullptr;

  fixture() {
    cfg = std::make_unique<caf::actor_system_config>();
    cfg->load<sio::io_scheduler>();
    sys = std::make_unique<caf::actor_system>(*cfg);
    sched = sio::io_scheduler::of(*sys);
  }

  ~fixture() {
    sched->detach(std::chrono::seconds(2));
    sys.reset();
    work.reset();
    ioc.stop();
    io_thread.join();
  }

  // A reply reaches us while the actor's resume is still returning, so a request sent
  // right after can be handled by that same resume, on the thread it ran on before. The
  // move shows on a later request: ask again (bounded) until the answer is `expected`,
  // and return the last answer.
  std::string where_eventually(const caf::actor& a, const std::string& expected) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    auto got = where(a);
    while (got != expected && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      got = where(a);
    }
    return got;
  }

  std::string where(const caf::actor& a) {
    caf::scoped_actor self{*sys};
    std::string result;
    self->request(a, std::chrono::seconds(5), where_atom::value)
        .receive([&](const std::string& id) { result = id; },
                 [&](caf::error& err) { CAF_FAIL("no answer: " << sys->render(err)); });
    return result;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(io_scheduler_tests, fixture)

CAF_TEST(the_system_uses_the_io_scheduler) {
  CAF_REQUIRE(sched != nullptr);
}

CAF_TEST(actors_run_on_the_attached_io_context_and_leave_it_on_detach) {
  auto a = sys->spawn(locator, 0);
  auto own = where(a);
  CAF_CHECK_NOT_EQUAL(own, io_thread_id);
  CAF_CHECK_NOT_EQUAL(own, id_of(std::this_thread::get_id()));
  sched->attach(ioc);
  CAF_CHECK_EQUAL(where_eventually(a, io_thread_id), io_thread_id);
  auto b = sys->spawn(locator, 0); // spawned while attached
  CAF_CHECK_EQUAL(where(b), io_thread_id);
  sched->detach(std::chrono::seconds(2));
  CAF_CHECK_EQUAL(where_eventually(a, own), own);
  CAF_CHECK_EQUAL(where_eventually(b, own), own);
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
}

CAF_TEST(delayed_messages_fire_after_their_delay_earliest_first) {
  sched->attach(ioc);
  caf::scoped_actor self{*sys};
  auto start = std::chrono::steady_clock::now();
  // The later timer is set first: the earlier one must re-arm the Asio timer.
  self->delayed_send(self, 3s, later_atom::value);
  self->delayed_send(self, 50ms, fired_atom::value);
  bool fired = false;
  self->receive([&](fired_atom) { fired = true; }, [&](later_atom) { CAF_FAIL("the 3 s timer came first"); },
                caf::after(std::chrono::seconds(2)) >> [] { CAF_FAIL("the 50 ms timer did not fire within 2 s"); });
  CAF_CHECK(fired);
  CAF_CHECK_GREATER_OR_EQUAL(std::chrono::steady_clock::now() - start, 50ms);
}

CAF_TEST(request_timeouts_come_from_the_clock) {
  sched->attach(ioc);
  auto silent = sys->spawn([](int) -> caf::behavior {
    return {[](where_atom) -> caf::result<std::string> { return caf::delegated<std::string>(); }};
  }, 0);
  caf::scoped_actor self{*sys};
  bool timed_out = false;
  auto start = std::chrono::steady_clock::now();
  self->request(silent, 100ms, where_atom::value)
      .receive([&](const std::string&) { CAF_FAIL("the silent actor answered"); },
               [&](caf::error& err) { timed_out = err == caf::sec::request_timeout; });
  CAF_CHECK(timed_out);
  CAF_CHECK_GREATER_OR_EQUAL(std::chrono::steady_clock::now() - start, 100ms);
  caf::anon_send_exit(silent, caf::exit_reason::user_shutdown);
}

CAF_TEST(a_batch_scope_hands_its_actors_over_when_it_ends) {
  sched->attach(ioc);
  std::atomic<int> handled{0};
  auto counter = [&handled](int) -> caf::behavior {
    return {[&handled](fired_atom) { ++handled; }, [](where_atom) { return id_of(std::this_thread::get_id()); }};
  };
  std::vector<caf::actor> actors;
  for (int i = 0; i < 3; ++i) {
    actors.push_back(sys->spawn(counter, 0));
    where(actors.back()); // started
  }
  // The answer reaches us while the actor's resume is still returning; a message sent
  // before it returned would be picked up by that same resume, without the scheduler.
  std::this_thread::sleep_for(100ms);
  {
    sio::io_scheduler::batch_scope scope;
    for (auto& a : actors)
      caf::anon_send(a, fired_atom::value);
    std::this_thread::sleep_for(100ms);
    CAF_CHECK_EQUAL(handled.load(), 0); // collected, not yet posted
  }
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (handled.load() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  CAF_CHECK_EQUAL(handled.load(), 3);
  for (auto& a : actors)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

CAF_TEST_FIXTURE_SCOPE_END()

// A pending request timeout holds its actor. When it is the last handle, the actor is
// destroyed while the clock drops its schedule at shutdown, and its cleanup cancels its
// own timeouts through that same clock: the exit must complete (a cluster node hung there).
CAF_TEST(an_actor_held_only_by_its_request_timeout_ends_with_the_system) {
  auto cfg = std::make_unique<caf::actor_system_config>();
  cfg->load<sio::io_scheduler>();
  auto sys = std::make_unique<caf::actor_system>(*cfg);
  auto silent = sys->spawn([](int) -> caf::behavior {
    return {[](where_atom) -> caf::result<std::string> { return caf::delegated<std::string>(); }};
  }, 0);
  std::atomic<bool> asked{false};
  sys->spawn([&asked, silent](caf::event_based_actor* self, int) -> caf::behavior {
    self->request(silent, std::chrono::seconds(3600), where_atom::value).then([](const std::string&) {});
    asked = true;
    return {[](fired_atom) {}};
  }, 0);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!asked && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  CAF_REQUIRE(asked.load());
  caf::anon_send_exit(silent, caf::exit_reason::user_shutdown);
  sys->await_actors_before_shutdown(false); // the asking actor never ends by itself
  // On this thread (CAF waits at exit for the logger that this thread's actor calls set).
  // A deadlock aborts the test binary rather than leave ctest waiting.
  std::mutex m;
  std::condition_variable cv;
  bool finished = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(m);
    if (!cv.wait_for(lock, 10s, [&] { return finished; })) {
      std::fputs("the actor system did not end within 10 s\n", stderr);
      std::abort();
    }
  });
  sys.reset();
  {
    std::lock_guard<std::mutex> guard(m);
    finished = true;
  }
  cv.notify_all();
  watchdog.join();
  CAF_CHECK(finished);
}
