#include "actors/activity.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>

namespace sio {

using activity_tick_atom = caf::atom_constant<caf::atom("acttick")>;

namespace {

using shared_state = activity_feed::shared_state;

struct watcher {
  activity_filter filter;
  std::uint32_t sent_this_second = 0;
  std::uint64_t dropped = 0;
};

/// The filters admit() checks: one per watcher, rewritten when the watchers change.
void publish_filters(shared_state& shared, const std::map<caf::actor, watcher>& ws) {
  std::lock_guard<std::mutex> guard(shared.mutex);
  shared.filters.clear();
  for (auto& [sink, w] : ws)
    shared.filters.push_back(w.filter);
  shared.generation.fetch_add(1, std::memory_order_release);
  shared.watchers.store(static_cast<int>(ws.size()));
}

/// A thread's copy of the filters of one feed (the last it asked).
struct filter_copy {
  std::uint64_t owner = 0; // shared_state::id; 0: none yet
  std::uint64_t generation = 0;
  std::vector<activity_filter> filters;
};

struct hub_state {
  std::map<caf::actor, watcher> watchers;
  bool ticking = false;
};

bool matches(const watcher& w, const activity& a) {
  return w.filter.wants(a.kind, a.nsp, a.name, true);
}

caf::behavior activity_hub(caf::stateful_actor<hub_state>* self, std::shared_ptr<shared_state> shared) {
  auto forget = [=](const caf::actor_addr& who) {
    auto& ws = self->state.watchers;
    for (auto it = ws.begin(); it != ws.end(); ++it)
      if (it->first.address() == who) {
        ws.erase(it);
        publish_filters(*shared, ws);
        return;
      }
  };
  // No answer to anything, and nothing a sender does (an error, a stray message from a
  // remote node) ends the hub: CAF's defaults would quit on an error message.
  self->set_error_handler([](caf::error&) {});
  self->set_default_handler(caf::drop);
  self->set_down_handler([=](caf::down_msg& dm) {
    spdlog::debug("activity: a watcher is gone ({})", caf::to_string(dm.reason));
    forget(dm.source);
  });
  return {
      [=](watch_atom, caf::actor sink, activity_filter filter) {
        auto& ws = self->state.watchers;
        spdlog::debug("activity: watched{}{}", filter.nsp.empty() ? "" : " in " + filter.nsp,
                      filter.event.empty() ? "" : ", event " + filter.event);
        if (!ws.count(sink))
          self->monitor(sink);
        ws[sink] = watcher{std::move(filter), 0, 0};
        publish_filters(*shared, ws);
        if (!self->state.ticking) {
          self->state.ticking = true;
          self->delayed_send(self, std::chrono::seconds(1), activity_tick_atom::value);
        }
      },
      [=](unwatch_atom, const caf::actor& sink) {
        self->demonitor(sink);
        forget(sink.address());
      },
      [=](const activity& a) {
        for (auto& [sink, w] : self->state.watchers) {
          if (!matches(w, a))
            continue;
          if (w.sent_this_second >= activity_feed::max_lines_per_second) {
            ++w.dropped;
            continue;
          }
          ++w.sent_this_second;
          self->send(sink, a);
        }
      },
      [=](activity_tick_atom) {
        std::uint64_t skipped = shared->skipped.exchange(0, std::memory_order_relaxed);
        for (auto& [sink, w] : self->state.watchers) {
          w.dropped += skipped;
          if (w.dropped) {
            activity d;
            d.at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
            d.kind = "dropped";
            d.bytes = w.dropped;
            self->send(sink, d);
          }
          w.sent_this_second = 0;
          w.dropped = 0;
        }
        // The tick runs only while someone watches.
        self->state.ticking = !self->state.watchers.empty();
        if (self->state.ticking)
          self->delayed_send(self, std::chrono::seconds(1), activity_tick_atom::value);
      },
  };
}

} // namespace

bool activity_feed::admit(std::string_view kind, std::string_view nsp, std::string_view name, bool name_known) const {
  auto& st = *state_;
  if (st.watchers.load(std::memory_order_relaxed) == 0)
    return false;
  thread_local filter_copy copy;
  auto generation = st.generation.load(std::memory_order_acquire);
  if (copy.owner != st.id || copy.generation != generation) {
    std::lock_guard<std::mutex> guard(st.mutex);
    copy.filters = st.filters;
    copy.generation = st.generation.load(std::memory_order_relaxed);
    copy.owner = st.id;
  }
  bool wanted = false;
  for (auto& f : copy.filters)
    if (f.wants(kind, nsp, name, name_known)) {
      wanted = true;
      break;
    }
  if (!wanted)
    return false;
  auto second = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  if (st.second.load(std::memory_order_relaxed) != second) {
    std::lock_guard<std::mutex> guard(st.mutex);
    if (st.second.load(std::memory_order_relaxed) != second) {
      st.made.store(0, std::memory_order_relaxed);
      st.second.store(second, std::memory_order_relaxed);
    }
  }
  if (st.made.fetch_add(1, std::memory_order_relaxed) >= max_lines_per_second * copy.filters.size()) {
    st.skipped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

std::uint64_t activity_feed::shared_state::next_id() {
  static std::atomic<std::uint64_t> ids{0};
  return ++ids;
}

void activity_feed::publish(activity a) const {
  if (!hub_)
    return;
  a.at_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  a.node = node_;
  caf::anon_send(hub_, std::move(a));
}

std::string activity_feed::cut(std::string text) {
  if (text.size() <= max_detail_bytes)
    return text;
  auto end = max_detail_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
    --end; // not inside a UTF-8 sequence
  text.resize(end);
  text += "...";
  return text;
}

void activity_feed::start(caf::actor_system& sys, std::string node) {
  node_ = std::move(node);
  // Hidden: the actor system does not wait for it at shutdown; the feed ends it.
  hub_ = sys.spawn<caf::hidden>(activity_hub, state_);
}

activity_feed::~activity_feed() {
  if (hub_)
    caf::anon_send_exit(hub_, caf::exit_reason::user_shutdown);
}

std::uint32_t activity_kind_bit(std::string_view kind) {
  static constexpr std::pair<std::string_view, activity_kind> names[] = {
      {"connect", activity_connect}, {"event", activity_event},   {"emit", activity_emit},
      {"broadcast", activity_broadcast}, {"join", activity_join}, {"leave", activity_leave},
      {"disconnect", activity_disconnect}, {"upgrade", activity_upgrade}};
  for (auto& [name, bit] : names)
    if (name == kind)
      return bit;
  return 0;
}

bool activity_filter::wants(std::string_view kind, std::string_view item_nsp, std::string_view name,
                            bool name_known) const {
  auto bit = activity_kind_bit(kind);
  if (!(kinds & bit))
    return false;
  if (!nsp.empty() && nsp != item_nsp)
    return false;
  bool message = bit & (activity_event | activity_emit | activity_broadcast);
  if (message && !quiet_nsp.empty() && quiet_nsp == item_nsp)
    return false;
  if (event.empty())
    return true;
  return message && (!name_known || event == name);
}

void announce_activity_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<activity>("sio::activity");
  cfg.add_message_type<activity_filter>("sio::activity_filter");
  cfg.add_message_type<std::vector<activity>>("std::vector<sio::activity>");
}

} // namespace sio
