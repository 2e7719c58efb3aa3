#include "actors/recovery.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <stdexcept>
#include <unordered_map>

namespace sio {

namespace {

constexpr caf::atom_value recovery_error_category = caf::atom("recovery");

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// One packet kept for restores. `seq` orders a namespace's packets as this node sent them.
struct log_entry {
  std::uint64_t seq = 0;
  std::string offset;
  std::vector<std::string> rooms;
  std::vector<std::string> except;
  shared_frame frame;
  std::int64_t at_ms = 0;
  std::size_t bytes = 0;
};

struct recovery_state {
  recovery_options opts;
  std::uint64_t next_seq = 1;
  std::unordered_map<std::string, std::deque<log_entry>> logs; // by namespace
  std::unordered_map<std::string, std::pair<std::string, std::uint64_t>> offsets; // offset -> (nsp, seq)
  std::size_t log_bytes = 0;
  std::unordered_map<std::string, recovery_session> sessions; // by pid
  std::multimap<std::int64_t, std::string> parked_at;           // disconnected_at -> pid, oldest first
  std::int64_t last_purge_ms = 0;

  void drop_front(std::deque<log_entry>& log) {
    offsets.erase(log.front().offset);
    log_bytes -= log.front().bytes;
    log.pop_front();
  }

  void forget_session(const std::string& pid) {
    auto it = sessions.find(pid);
    if (it == sessions.end())
      return;
    auto range = parked_at.equal_range(it->second.disconnected_at_ms);
    for (auto p = range.first; p != range.second; ++p)
      if (p->second == pid) {
        parked_at.erase(p);
        break;
      }
    sessions.erase(it);
  }

  // Packets and sessions past the window go; at most once a second (each step is cheap
  // but a burst of appends should not walk the maps each time).
  void purge(std::int64_t now) {
    if (now - last_purge_ms < 1000)
      return;
    last_purge_ms = now;
    auto oldest = now - opts.max_disconnection.count();
    for (auto it = logs.begin(); it != logs.end();) {
      auto& log = it->second;
      while (!log.empty() && log.front().at_ms < oldest)
        drop_front(log);
      it = log.empty() ? logs.erase(it) : std::next(it);
    }
    while (!parked_at.empty() && parked_at.begin()->first < oldest)
      forget_session(parked_at.begin()->second);
  }

  // The byte budget: the oldest packet of any namespace goes first.
  void fit_log() {
    while (log_bytes > opts.max_log_bytes) {
      std::deque<log_entry>* oldest = nullptr;
      for (auto& [nsp, log] : logs)
        if (!log.empty() && (!oldest || log.front().seq < oldest->front().seq))
          oldest = &log;
      if (!oldest)
        return;
      drop_front(*oldest);
    }
  }

  void append(recovery_append& a) {
    auto now = now_ms();
    purge(now);
    if (a.offset.empty() || !a.frame || offsets.count(a.offset))
      return;
    log_entry e;
    e.seq = next_seq++;
    e.offset = a.offset;
    e.rooms = std::move(a.rooms);
    e.except = std::move(a.except);
    e.bytes = a.frame.bytes() + e.offset.size() + 64;
    e.frame = std::move(a.frame);
    e.at_ms = now;
    offsets.emplace(e.offset, std::make_pair(a.nsp, e.seq));
    log_bytes += e.bytes;
    logs[a.nsp].push_back(std::move(e));
    fit_log();
  }

  void park(recovery_session& s) {
    purge(now_ms());
    if (s.pid.empty())
      return;
    forget_session(s.pid);
    while (!sessions.empty() && sessions.size() >= opts.max_sessions)
      forget_session(parked_at.begin()->second);
    parked_at.emplace(s.disconnected_at_ms, s.pid);
    auto pid = s.pid;
    sessions.emplace(std::move(pid), std::move(s));
  }

  caf::result<recovery_claimed> claim(const recovery_claim& c) {
    auto now = now_ms();
    purge(now);
    auto it = sessions.find(c.pid);
    if (it == sessions.end() || it->second.nsp != c.nsp)
      return make_error(recovery_errc::unknown_session);
    if (it->second.disconnected_at_ms + opts.max_disconnection.count() < now) {
      forget_session(c.pid);
      return make_error(recovery_errc::expired);
    }
    auto found = offsets.find(c.offset);
    if (found == offsets.end() || found->second.first != c.nsp)
      return make_error(recovery_errc::offset_unknown); // too old, or never ours
    recovery_claimed out;
    auto& log = logs[c.nsp];
    auto after = std::upper_bound(log.begin(), log.end(), found->second.second,
                                  [](std::uint64_t seq, const log_entry& e) { return seq < e.seq; });
    for (auto e = after; e != log.end(); ++e) {
      if (!recovery_includes(it->second.rooms, e->rooms, e->except))
        continue;
      if (out.missed.size() == opts.max_replay)
        return make_error(recovery_errc::too_many);
      out.missed.push_back(e->frame);
    }
    out.session = std::move(it->second);
    forget_session(c.pid); // one use: a second CONNECT with this pid starts afresh
    return out;
  }
};

} // namespace

std::string to_string(recovery_errc x) {
  switch (x) {
  case recovery_errc::unknown_session:
    return "unknown_session";
  case recovery_errc::expired:
    return "expired";
  case recovery_errc::offset_unknown:
    return "offset_unknown";
  case recovery_errc::too_many:
    return "too_many";
  }
  return "unknown";
}

caf::error make_error(recovery_errc x) {
  return {static_cast<std::uint8_t>(x), recovery_error_category};
}

bool recovery_includes(const std::vector<std::string>& session_rooms, const std::vector<std::string>& rooms,
                       const std::vector<std::string>& except) {
  auto in_session = [&](const std::string& room) {
    return std::find(session_rooms.begin(), session_rooms.end(), room) != session_rooms.end();
  };
  bool included = rooms.empty() || std::any_of(rooms.begin(), rooms.end(), in_session);
  return included && std::none_of(except.begin(), except.end(), in_session);
}

bool recoverable_disconnect(std::string_view reason) {
  return reason == "transport error" || reason == "transport close" || reason == "ping timeout"
         || reason == "forced close" || reason == "server shutting down" || reason == "server draining";
}

namespace {

// A function with an argument: CAF 0.17 spawns an argument-less one through a null
// std::shared_ptr<std::tuple<>> (UBSan: reference binding to a null pointer).
caf::behavior recovery_actor(caf::stateful_actor<recovery_state>* self, recovery_options opts) {
  self->state.opts = opts;
  return {
      [self](recovery_append& a) { self->state.append(a); },
      [self](recovery_park& p) { self->state.park(p.session); },
      [](const recovery_live&) {}, // this node's sockets die with it: nothing to keep
      [self](const recovery_forget& f) { self->state.forget_session(f.pid); },
      [self](const recovery_claim& c) { return self->state.claim(c); },
  };
}

} // namespace

caf::actor spawn_recovery(caf::actor_system& sys, recovery_options opts) {
  return sys.spawn(recovery_actor, opts);
}

void announce_recovery_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<recovery_session>("sio::recovery_session");
  cfg.add_message_type<recovery_append>("sio::recovery_append");
  cfg.add_message_type<recovery_park>("sio::recovery_park");
  cfg.add_message_type<recovery_live>("sio::recovery_live");
  cfg.add_message_type<recovery_forget>("sio::recovery_forget");
  cfg.add_message_type<recovery_claim>("sio::recovery_claim");
  cfg.add_message_type<recovery_claimed>("sio::recovery_claimed");
  cfg.add_message_type<std::vector<shared_frame>>("std::vector<sio::shared_frame>");
  cfg.add_error_category(recovery_error_category, [](std::uint8_t code, caf::atom_value, const caf::message&) {
    return "recovery: " + to_string(static_cast<recovery_errc>(code));
  });
}

} // namespace sio
