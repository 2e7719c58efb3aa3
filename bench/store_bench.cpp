// store_bench: conversation messages stored through the persistence actor (a real actor
// system, the actor detached, a real SQLite file in a temporary directory, or with
// --store a MongoDB database: a fresh one per row, named after the URI's). Many
// requesters each keep one store_message outstanding (a closed loop), so batches fill;
// each batch size runs for a bounded time and reports messages/second and the latency
// from sending a request to its durable answer.
//
//   store_bench [--seconds S] [--requesters N] [--batches 1,64,512] [--sync full|normal|both]
//               [--store mongodb://HOST:PORT/DB]
#include "actors/persistence_actor.hpp"
#include "persistence/mongo_store.hpp"
#include "persistence/sqlite_store.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace ps = chat::persistence;
using steady = std::chrono::steady_clock;

namespace {

using done_atom = caf::atom_constant<caf::atom("benchdone")>;

struct settings {
  double seconds = 3.0;
  double warmup = 0.5;
  int requesters = 1024;
  std::vector<std::size_t> batches{1, 64, 512};
  std::vector<ps::sync_mode> modes{ps::sync_mode::full, ps::sync_mode::normal};
  std::string mongodb_uri; ///< --store: a MongoDB database instead of SQLite files
};

struct result {
  ps::sync_mode mode;
  std::size_t batch;
  double messages_per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double avg_batch = 0;
  std::uint64_t commits = 0;
  std::uint64_t errors = 0;
};

// What one requester measured; written only by that requester, read by main after the
// requester's done message (which orders the two).
struct slot {
  std::vector<std::int64_t> latencies_us; // completed inside the measured window
  std::uint64_t errors = 0;
};

struct run_plan {
  caf::actor persistence;
  caf::actor collector;
  steady::time_point measure_from;
  steady::time_point deadline;
};

ps::conversation_message make_message(int requester, std::uint64_t n) {
  ps::conversation_message m;
  m.conversation_id = "conversation-" + std::to_string((requester + n) % 100);
  m.sender_id = "user-" + std::to_string(requester % 500);
  m.content = "message " + std::to_string(n) + " from requester " + std::to_string(requester)
              + ": the quick brown fox jumps over the lazy dog, twice over, for a realistic length.";
  return m;
}

void send_next(caf::event_based_actor* self, std::shared_ptr<run_plan> plan, slot* out, int id, std::uint64_t n) {
  auto sent = steady::now();
  if (sent >= plan->deadline) {
    self->send(plan->collector, done_atom::value);
    self->quit();
    return;
  }
  auto record = [=](bool ok) {
    auto now = steady::now();
    if (!ok)
      ++out->errors;
    else if (now >= plan->measure_from && now < plan->deadline)
      out->latencies_us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(now - sent).count());
    send_next(self, plan, out, id, n + 1);
  };
  self->request(plan->persistence, chat::persistence_timeout, chat::store_message{make_message(id, n)})
      .then([=](ps::conversation_message&) { record(true); }, [=](caf::error&) { record(false); });
}

void requester(caf::event_based_actor* self, std::shared_ptr<run_plan> plan, slot* out, int id) {
  send_next(self, std::move(plan), out, id, 0);
}

std::filesystem::path make_temp_dir() {
  auto pattern = (std::filesystem::temp_directory_path() / "store_bench.XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  return pattern;
}

double percentile(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty())
    return 0;
  auto index = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return static_cast<double>(sorted[std::min(index, sorted.size() - 1)]) / 1000.0;
}

result run_one(caf::actor_system& sys, const settings& s, ps::sync_mode mode, std::size_t batch) {
  auto dir = make_temp_dir();
  std::unique_ptr<ps::store> store;
  if (!s.mongodb_uri.empty()) {
    static int rows = 0;
    auto uri = s.mongodb_uri;
    uri.insert(std::min(uri.find('?'), uri.size()), "_" + std::to_string(++rows));
    store = std::make_unique<ps::mongo_store>(ps::mongo_options{uri});
  } else {
    ps::sqlite_options so;
    so.path = (dir / "bench.db").string();
    so.synchronous = mode;
    store = std::make_unique<ps::sqlite_store>(so);
  }
  auto persistence = chat::spawn_persistence(sys, std::move(store), chat::persistence_options{batch, 2ms});
  caf::scoped_actor self{sys};
  auto plan = std::make_shared<run_plan>();
  plan->persistence = persistence;
  plan->collector = caf::actor_cast<caf::actor>(self);
  auto start = steady::now();
  plan->measure_from = start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(s.warmup));
  plan->deadline =
      plan->measure_from + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(s.seconds));
  std::vector<slot> slots(static_cast<std::size_t>(s.requesters));
  for (int i = 0; i < s.requesters; ++i)
    sys.spawn(requester, plan, &slots[static_cast<std::size_t>(i)], i);
  int finished = 0;
  self->receive_for(finished, s.requesters)([](done_atom) {});
  result r{mode, batch};
  self->request(persistence, caf::infinite, chat::get_persistence_stats{})
      .receive(
          [&](chat::persistence_stats& st) {
            r.commits = st.batches;
            r.avg_batch = st.batches ? static_cast<double>(st.writes) / static_cast<double>(st.batches) : 0;
          },
          [](caf::error&) {});
  self->request(persistence, caf::infinite, chat::shutdown_atom::value)
      .receive([](caf::ok_atom) {}, [](caf::error&) {});
  std::vector<std::int64_t> all;
  for (auto& sl : slots) {
    all.insert(all.end(), sl.latencies_us.begin(), sl.latencies_us.end());
    r.errors += sl.errors;
  }
  std::sort(all.begin(), all.end());
  r.messages_per_second = static_cast<double>(all.size()) / s.seconds;
  r.p50_ms = percentile(all, 0.50);
  r.p99_ms = percentile(all, 0.99);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return r;
}

bool parse(int argc, char** argv, settings& s) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--seconds") {
      s.seconds = std::atof(value().c_str());
    } else if (arg == "--requesters") {
      s.requesters = std::atoi(value().c_str());
    } else if (arg == "--batches") {
      s.batches.clear();
      std::stringstream in(value());
      for (std::string item; std::getline(in, item, ',');)
        s.batches.push_back(static_cast<std::size_t>(std::atoi(item.c_str())));
    } else if (arg == "--store") {
      s.mongodb_uri = value();
      if (!ps::mongo_store::is_uri(s.mongodb_uri))
        return false;
      s.modes = {ps::sync_mode::full}; // the database's write concern decides
    } else if (arg == "--sync") {
      auto v = value();
      if (v == "full")
        s.modes = {ps::sync_mode::full};
      else if (v == "normal")
        s.modes = {ps::sync_mode::normal};
      else if (v != "both")
        return false;
    } else {
      return false;
    }
  }
  return s.seconds > 0 && s.requesters > 0 && !s.batches.empty();
}

} // namespace

int main(int argc, char** argv) {
  settings s;
  if (!parse(argc, argv, s)) {
    std::cerr << "usage: store_bench [--seconds S] [--requesters N] [--batches 1,64,512] [--sync full|normal|both] "
                 "[--store mongodb://HOST:PORT/DB]\n";
    return 2;
  }
  caf::actor_system_config cfg;
  chat::announce_persistence_types(cfg);
  caf::actor_system sys{cfg};
  std::printf("store_bench: %d requesters, one store_message outstanding each; %.1f s measured per row after "
              "%.1f s warm-up; max_delay 2 ms; %s %s\n",
              s.requesters, s.seconds, s.warmup, s.mongodb_uri.empty() ? "SQLite WAL in" : "MongoDB",
              s.mongodb_uri.empty() ? std::filesystem::temp_directory_path().c_str() : s.mongodb_uri.c_str());
  std::printf("%-8s %6s %12s %9s %9s %10s %9s %7s\n", "sync", "batch", "msgs/s", "p50 ms", "p99 ms", "avg batch",
              "commits", "errors");
  for (auto mode : s.modes) {
    for (auto batch : s.batches) {
      auto r = run_one(sys, s, mode, batch);
      const char* label = !s.mongodb_uri.empty() ? "MONGODB" : mode == ps::sync_mode::full ? "FULL" : "NORMAL";
      std::printf("%-8s %6zu %12.0f %9.2f %9.2f %10.1f %9llu %7llu\n", label,
                  r.batch, r.messages_per_second, r.p50_ms, r.p99_ms, r.avg_batch,
                  static_cast<unsigned long long>(r.commits), static_cast<unsigned long long>(r.errors));
      std::fflush(stdout);
    }
  }
  return 0;
}
