// write_batch (server.hpp): the flushes of many WebSocket sessions collected on one thread
// and handed to the I/O thread as one job.
#include "transport/http/write_batch_collect.hpp"
#include "transport/http/ws_session.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>

namespace sio::http {

namespace asio = boost::asio;

struct write_batch::state {
  std::vector<std::shared_ptr<ws_session>> sessions;
};

namespace {

// The flushes of one batch, a chunk at a time: after each chunk the rest goes to the back
// of the I/O queue, so reads and actors (which share these threads, see io_scheduler) run
// in between, and frames they queue for sessions not flushed yet leave in the same write.
// Flushing 5000 sessions in one go (~20 ms) let each write carry one frame while the
// broadcasts behind it waited.
struct chunked_flush : std::enable_shared_from_this<chunked_flush> {
  static constexpr std::size_t chunk = 128;
  std::vector<std::shared_ptr<ws_session>> sessions;
  asio::io_context& ioc;
  std::size_t next = 0;

  chunked_flush(std::vector<std::shared_ptr<ws_session>> s, asio::io_context& c) : sessions(std::move(s)), ioc(c) {}

  void run() {
    auto end = std::min(next + chunk, sessions.size());
    for (; next < end; ++next) {
      sessions[next]->flush_from_batch();
      sessions[next].reset();
    }
    if (next < sessions.size())
      asio::post(ioc, [self = shared_from_this()] { self->run(); });
  }
};

thread_local write_batch::state* current_state = nullptr; // the active collector, if any

} // namespace

bool write_batch_collect(std::shared_ptr<ws_session> s) {
  if (!current_state)
    return false;
  current_state->sessions.push_back(std::move(s));
  return true;
}

write_batch::write_batch() : state_(std::make_unique<state>()) {}

write_batch::~write_batch() {
  flush();
}

write_batch::scope::scope(write_batch& batch) : previous_(current_state) {
  current_state = batch.state_.get();
}

write_batch::scope::~scope() {
  current_state = previous_;
}

bool write_batch::empty() const {
  return state_->sessions.empty();
}

void write_batch::flush() {
  if (state_->sessions.empty())
    return;
  auto sessions = std::move(state_->sessions);
  state_->sessions.clear();
  // One job per I/O context (there is one per server) instead of one post per session.
  auto& ioc = sessions.front()->io_context();
  auto delay = sessions.front()->write_delay();
  auto run = [job = std::make_shared<chunked_flush>(std::move(sessions), ioc)] { job->run(); };
  // Only a busy server waits: after a quiet spell the first broadcast goes at once, so
  // the delay costs latency only where it saves writes.
  static std::atomic<std::int64_t> last_flush_ns{0};
  auto now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  auto quiet = now - last_flush_ns.exchange(now, std::memory_order_relaxed) > 10'000'000; // 10 ms
  if (delay.count() <= 0 || quiet)
    return asio::post(ioc, std::move(run));
  // Frames that reach these connections meanwhile join the same write.
  auto timer = std::make_shared<asio::steady_timer>(ioc, delay);
  timer->async_wait([timer, run = std::move(run)](boost::system::error_code) { run(); });
}

} // namespace sio::http
