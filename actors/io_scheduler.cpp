#include "actors/io_scheduler.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/simple_actor_clock.hpp>
#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace sio {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

namespace {

// CAF's simple_actor_clock keeps the schedule; this one guards it with a mutex and
// fires it from one Asio timer on the scheduler's own thread. Setting a timer later than
// the earliest one (the usual case: a heartbeat 25 s out) touches no other thread; CAF's
// thread_safe_actor_clock wakes its clock thread for every timer set or cancelled.
class io_clock final : public caf::detail::simple_actor_clock {
public:
  using super = caf::detail::simple_actor_clock;

  explicit io_clock(asio::io_context& ioc) : ioc_(ioc), timer_(ioc) {}

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type, std::uint64_t id) override {
    locked([&] { super::set_ordinary_timeout(t, self, type, id); });
  }
  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override {
    locked([&] { super::set_request_timeout(t, self, id); });
  }
  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type, std::uint64_t id) override {
    locked([&] { super::set_multi_timeout(t, self, type, id); });
  }
  void cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) override {
    locked([&] { super::cancel_ordinary_timeout(self, type); });
  }
  void cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) override {
    locked([&] { super::cancel_request_timeout(self, id); });
  }
  void cancel_timeouts(caf::abstract_actor* self) override {
    locked([&] { super::cancel_timeouts(self); });
  }
  void schedule_message(time_point t, caf::strong_actor_ptr receiver, caf::mailbox_element_ptr content) override {
    locked([&] { super::schedule_message(t, std::move(receiver), std::move(content)); });
  }
  void schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender, caf::message content) override {
    locked([&] { super::schedule_message(t, std::move(target), std::move(sender), std::move(content)); });
  }
  void cancel_all() override {
    // Emptied under the lock, destroyed outside it: an entry may hold the last handle of an
    // actor, whose cleanup cancels its own timeouts through this clock (a clear() under the
    // lock deadlocked the exit of a cluster node, and would re-enter the map mid-clear).
    schedule_map doomed;
    actor_lookup_map doomed_lookup;
    locked([&] {
      doomed.swap(schedule_);
      doomed_lookup.swap(actor_lookup_);
    });
  }

  /// Stops firing (the scheduler is stopping); runs on the timer's thread.
  void halt() {
    std::lock_guard<std::recursive_mutex> guard(mutex_);
    halted_ = true;
    ++generation_;
    timer_.cancel();
  }

private:
  template <class F> void locked(F&& f) {
    std::lock_guard<std::recursive_mutex> guard(mutex_);
    f();
    // A new earliest deadline re-arms the timer (on its thread); a later one waits.
    if (!halted_ && !schedule_.empty() && schedule_.begin()->first < armed_) {
      armed_ = schedule_.begin()->first;
      asio::post(ioc_, [this] {
        std::lock_guard<std::recursive_mutex> g(mutex_);
        arm();
      });
    }
  }

  // On the timer's thread, mutex held.
  void arm() {
    ++generation_;
    if (halted_ || schedule_.empty()) {
      armed_ = time_point::max();
      timer_.cancel();
      return;
    }
    armed_ = schedule_.begin()->first;
    timer_.expires_at(armed_);
    timer_.async_wait([this, g = generation_](error_code ec) {
      if (ec)
        return;
      std::vector<unique_delayed_event_ptr> due;
      {
        std::lock_guard<std::recursive_mutex> guard(mutex_);
        if (g != generation_)
          return;
        take_expired(due);
        arm();
      }
      // Shipped and destroyed outside the lock: an expired entry may hold the last handle
      // of an actor that has quit, whose cleanup takes other locks (a session table) and
      // then this clock's; under the lock that order could invert.
      for (auto& e : due)
        ship(*e);
    });
  }

  // CAF's trigger_expired_timeouts, minus the shipping: moves the expired entries out.
  void take_expired(std::vector<unique_delayed_event_ptr>& due) {
    auto t = now();
    for (auto i = schedule_.begin(); i != schedule_.end() && i->first <= t; i = schedule_.begin()) {
      auto ptr = std::move(i->second);
      if (ptr->backlink != actor_lookup_.end())
        actor_lookup_.erase(ptr->backlink);
      schedule_.erase(i);
      due.push_back(std::move(ptr));
    }
  }

  asio::io_context& ioc_;
  asio::steady_timer timer_;
  // Recursive: an entry dropped under the lock (a timeout replaced or cancelled) may still
  // free an actor whose cleanup cancels its timeouts here; expired entries and the schedule
  // at exit are destroyed outside the lock.
  std::recursive_mutex mutex_;
  time_point armed_ = time_point::max();
  std::uint64_t generation_ = 0;
  bool halted_ = false;
};

// The batch of the innermost batch_scope on this thread (see io_scheduler::batch_scope).
struct pending_batch {
  io_scheduler* owner = nullptr;
  std::vector<caf::resumable*> jobs;
  int depth = 0;
};
thread_local pending_batch this_thread_batch;

} // namespace

struct io_scheduler::impl : caf::execution_unit {
  io_scheduler& owner;
  asio::io_context own{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
  std::thread thread;
  std::promise<void> thread_done;
  std::atomic<asio::io_context*> target{nullptr};
  std::atomic<std::int64_t> posted_to_target{0};
  io_clock clock{own};

  impl(io_scheduler& o, caf::actor_system& sys) : caf::execution_unit(&sys), owner(o) {}

  // An actor resumed from inside an actor (a send to an idle actor): the same queue.
  void exec_later(caf::resumable* job) override { owner.enqueue(job); }

  void run(caf::resumable* job) {
    switch (job->resume(this, owner.max_throughput())) {
    case caf::resumable::resume_later:
      owner.enqueue(job); // more mail: behind what the I/O threads have queued meanwhile
      break;
    case caf::resumable::done:
    case caf::resumable::awaiting_message:
    case caf::resumable::shutdown_execution_unit:
      intrusive_ptr_release(job);
      break;
    }
  }

  // The posted handler: one actor, or the actors of a batch_scope. One that is destroyed
  // without running (its io_context went away) releases its actors the way CAF's
  // coordinators do at shutdown.
  struct posted_jobs {
    impl* self;
    caf::resumable* first;
    std::vector<caf::resumable*> rest; // empty (no allocation) for a single actor
    bool counted = false;              // posted to the attached io_context (detach() waits)

    posted_jobs(impl* s, caf::resumable* f, std::vector<caf::resumable*> r = {})
        : self(s), first(f), rest(std::move(r)) {}
    posted_jobs(posted_jobs&& other) noexcept
        : self(other.self), first(std::exchange(other.first, nullptr)), rest(std::exchange(other.rest, {})),
          counted(std::exchange(other.counted, false)) {}
    posted_jobs(const posted_jobs&) = delete;
    posted_jobs& operator=(const posted_jobs&) = delete;
    posted_jobs& operator=(posted_jobs&&) = delete;
    ~posted_jobs() {
      if (first)
        caf::scheduler::abstract_coordinator::cleanup_and_release(first);
      for (auto* job : rest)
        caf::scheduler::abstract_coordinator::cleanup_and_release(job);
      if (counted)
        self->posted_to_target.fetch_sub(1);
    }
    void operator()() {
      self->run(std::exchange(first, nullptr));
      auto more = std::exchange(rest, {});
      for (auto* job : more)
        self->run(job);
    }
  };

  // To the attached io_context, else to the own one. Counted before `target` is read
  // (both sequentially consistent): once detach() sees zero, nothing more reaches the
  // old io_context.
  void post(posted_jobs jobs) {
    posted_to_target.fetch_add(1);
    if (auto* ioc = target.load()) {
      jobs.counted = true;
      asio::post(*ioc, std::move(jobs));
      return;
    }
    posted_to_target.fetch_sub(1);
    asio::post(own, std::move(jobs));
  }
};

caf::actor_system::module* io_scheduler::make(caf::actor_system& sys, caf::detail::type_list<>) {
  return new io_scheduler(sys);
}

io_scheduler::io_scheduler(caf::actor_system& sys)
    : caf::scheduler::abstract_coordinator(sys), impl_(std::make_unique<impl>(*this, sys)) {}

io_scheduler::~io_scheduler() = default;

io_scheduler* io_scheduler::of(caf::actor_system& sys) {
  return dynamic_cast<io_scheduler*>(&sys.scheduler());
}

void io_scheduler::attach(asio::io_context& ioc) {
  impl_->target.store(&ioc);
}

void io_scheduler::detach(std::chrono::milliseconds bound) {
  auto& i = *impl_;
  i.target.store(nullptr);
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (i.posted_to_target.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

io_scheduler::batch_scope::batch_scope() {
  ++this_thread_batch.depth;
}

io_scheduler::batch_scope::~batch_scope() {
  auto& b = this_thread_batch;
  if (--b.depth > 0 || b.jobs.empty())
    return;
  auto jobs = std::move(b.jobs);
  b.jobs.clear();
  auto* owner = std::exchange(b.owner, nullptr);
  auto* first = jobs.front();
  jobs.erase(jobs.begin());
  owner->impl_->post(impl::posted_jobs{owner->impl_.get(), first, std::move(jobs)});
}

void io_scheduler::enqueue(caf::resumable* job) {
  auto& i = *impl_;
  if (this_thread_batch.depth > 0 && (!this_thread_batch.owner || this_thread_batch.owner == this)) {
    this_thread_batch.owner = this;
    this_thread_batch.jobs.push_back(job);
    return;
  }
  i.post(impl::posted_jobs{&i, job});
}

caf::actor_clock& io_scheduler::clock() noexcept {
  return impl_->clock;
}

void io_scheduler::start() {
  auto& i = *impl_;
  i.keep_running.emplace(i.own.get_executor());
  i.thread = std::thread([this] {
    auto& i = *impl_;
    caf::detail::set_thread_name("caf.io-sched");
    system().thread_started();
    i.own.run();
    system().thread_terminates();
    i.thread_done.set_value();
  });
  abstract_coordinator::start(); // spawns CAF's (detached) printer actor
}

void io_scheduler::stop() {
  auto& i = *impl_;
  stop_actors();
  i.target.store(nullptr);
  i.clock.cancel_all();
  asio::post(i.own, [&i] { i.clock.halt(); });
  // Whatever is still queued runs; then the thread runs out of work and ends.
  i.keep_running.reset();
  if (i.thread_done.get_future().wait_for(std::chrono::seconds(5)) != std::future_status::ready)
    i.own.stop(); // actors still mailing each other after the system stopped: drop them
  i.thread.join();
  // Timeouts set by the jobs that ran last go too, while the clock is still whole.
  i.clock.cancel_all();
}

} // namespace sio
