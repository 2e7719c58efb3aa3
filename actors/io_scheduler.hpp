// io_scheduler: a CAF scheduler that runs actors on the HTTP front end's I/O threads.
//
// With CAF's own schedulers every message between a WebSocket and its connection actor
// crosses threads: the I/O thread reads a frame and wakes a CAF worker, the worker runs
// the actor and wakes the I/O thread to write, and every delayed_send wakes CAF's clock
// thread. On a busy core each of those hand-offs is a futex wake and a context switch
// (8 per connect, measured with `perf stat -e context-switches`). This scheduler posts
// an actor that has mail to the I/O threads' asio::io_context instead, so a frame read
// on an I/O thread is handled by its actor on the same thread, and writes posted from
// there stay in Asio's thread-private queue. Timers live on an Asio timer.
//
// Lifecycle: until attach() (and after detach()) actors run on one thread of the
// scheduler's own. main() attaches the front end's io_context once it runs and detaches
// it before stopping it; detach() waits until every actor already posted there has run.
//
// CAF 0.17 loads it as a module: cfg.load<sio::io_scheduler>(). Actors must not block:
// they share their threads with the network (the persistence actor is detached).
#pragma once

#include <caf/actor_system.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include <chrono>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace sio {

class io_scheduler final : public caf::scheduler::abstract_coordinator {
public:
  static caf::actor_system::module* make(caf::actor_system& sys, caf::detail::type_list<>);

  explicit io_scheduler(caf::actor_system& sys);
  ~io_scheduler() override;

  /// The system's scheduler if it is an io_scheduler, else nullptr.
  static io_scheduler* of(caf::actor_system& sys);

  /// From now on actors run on the threads that run `ioc`.
  void attach(boost::asio::io_context& ioc);
  /// Back to the scheduler's own thread; waits (at most `bound`) until every actor
  /// posted to the attached io_context has run. Call before that io_context stops.
  void detach(std::chrono::milliseconds bound);

  /// On a thread that is not an I/O thread (a detached actor's), collects the actors it
  /// makes runnable and posts them as one job when the scope ends: the persistence actor
  /// answers a whole commit with one wake-up of the I/O thread instead of one each.
  /// Nests; a no-op for other schedulers.
  class batch_scope {
  public:
    batch_scope();
    ~batch_scope();
    batch_scope(const batch_scope&) = delete;
    batch_scope& operator=(const batch_scope&) = delete;
  };

  void enqueue(caf::resumable* job) override;
  caf::actor_clock& clock() noexcept override;

protected:
  void start() override;
  void stop() override;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace sio
