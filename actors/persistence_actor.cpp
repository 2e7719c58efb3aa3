#include "actors/persistence_actor.hpp"

#include "actors/metrics.hpp"

#include "actors/io_scheduler.hpp"

#include "transport/digest.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include <pthread.h>
#include <sched.h>

namespace chat {

namespace {

using persistence::rejected;

persistence_errc code_of(rejected::reason why) {
  switch (why) {
  case rejected::reason::not_found:
    return persistence_errc::not_found;
  case rejected::reason::duplicate:
    return persistence_errc::duplicate;
  case rejected::reason::forbidden:
    return persistence_errc::forbidden;
  case rejected::reason::not_participant:
    return persistence_errc::not_participant;
  case rejected::reason::invalid:
    break;
  }
  return persistence_errc::invalid_argument;
}

persistence::timestamp_ms or_now(persistence::timestamp_ms at) {
  return at != 0 ? at : persistence::now_ms();
}

std::optional<std::string> unless_empty(const std::string& id) {
  if (id.empty())
    return std::nullopt;
  return id;
}

caf::message ok() {
  return caf::make_message(caf::ok_atom::value);
}

/// What the store keeps of a recovery pid: its SHA-256 in hex. The pid restores a
/// socket's identity; whoever reads the database (or a backup) must not be able to.
std::string stored_pid(const std::string& pid) {
  return digest::sha256_hex(pid);
}

persistence::recovery_record record_of(const sio::recovery_session& s, persistence::timestamp_ms now) {
  return persistence::recovery_record{stored_pid(s.pid), s.nsp, s.sid, s.rooms, s.data.empty() ? "{}" : s.data,
                                      now,               s.disconnected_at_ms, s.node};
}

/// A connected socket's record whose node died unseen (no member noticed, and it never
/// came back under its name) is never parked: it goes this long after its last write.
/// Longer than any window, so a socket connected for days without a join is still
/// recoverable when its node dies.
constexpr std::int64_t orphan_connected_ms = 7LL * 24 * 3600 * 1000;

const char* why_not(persistence::recovery_take_result::outcome o) {
  using outcome = persistence::recovery_take_result::outcome;
  switch (o) {
  case outcome::connected:
    return "connected";
  case outcome::expired:
    return "expired";
  case outcome::offset_unknown:
    return "offset_unknown";
  case outcome::too_many:
    return "too_many";
  default:
    return "unknown_session";
  }
}

} // namespace

// -- errors ------------------------------------------------------------------------------

std::string to_string(persistence_errc code) {
  switch (code) {
  case persistence_errc::storage_failure:
    return "storage_failure";
  case persistence_errc::not_found:
    return "not_found";
  case persistence_errc::duplicate:
    return "duplicate";
  case persistence_errc::forbidden:
    return "forbidden";
  case persistence_errc::invalid_argument:
    return "invalid_argument";
  case persistence_errc::unavailable:
    return "unavailable";
  case persistence_errc::not_participant:
    return "not_participant";
  }
  return "unknown";
}

caf::error make_error(persistence_errc code) {
  return {static_cast<std::uint8_t>(code), persistence_error_category};
}

caf::error make_error(persistence_errc code, std::string context) {
  return {static_cast<std::uint8_t>(code), persistence_error_category, caf::make_message(std::move(context))};
}

// -- the actor -------------------------------------------------------------------------------

persistence_actor::persistence_actor(caf::actor_config& cfg, std::unique_ptr<persistence::store> store,
                                     persistence_options opts)
    : caf::event_based_actor(cfg), store_(std::move(store)), opts_(opts) {
  opts_.max_batch = std::max<std::size_t>(opts_.max_batch, 1);
}

persistence_actor::~persistence_actor() = default;

void persistence_actor::enqueue(apply_fn apply) {
  auto promise = make_response_promise();
  if (!store_) {
    promise.deliver(make_error(persistence_errc::unavailable, "the store is closed"));
    return;
  }
  // The first queued write starts the max_delay timer (not needed when each write is a batch).
  if (pending_.empty() && opts_.max_batch > 1)
    delayed_send(this, opts_.max_delay, batch_timeout_atom::value, timer_generation_);
  pending_.push_back(pending_write{std::move(promise), std::move(apply)});
  sio::metrics::global().store_queue(pending_.size());
  if (pending_.size() >= opts_.max_batch)
    flush();
}

bool persistence_actor::flush() {
  if (pending_.empty())
    return true;
  auto batch = std::move(pending_);
  pending_.clear();
  sio::metrics::global().store_queue(0);
  ++timer_generation_; // the running timer belonged to this batch
  // Every answer of this commit reaches the I/O threads in one hand-off.
  sio::io_scheduler::batch_scope one_handoff;
  if (!store_) {
    for (auto& w : batch)
      w.promise.deliver(make_error(persistence_errc::unavailable, "the store is closed"));
    return false;
  }
  // A refused write gets its own error; it changed nothing, so the batch goes on.
  struct outcome {
    caf::message value;
    caf::error error;
  };
  std::vector<outcome> outcomes;
  outcomes.reserve(batch.size());
  std::string failure;
  bool failed = false;
  auto began = std::chrono::steady_clock::now();
  try {
    store_->begin();
    for (auto& w : batch) {
      try {
        outcomes.push_back(outcome{w.apply(*store_), caf::error{}});
      } catch (const rejected& e) {
        outcomes.push_back(outcome{caf::message{}, make_error(code_of(e.why()), e.what())});
      }
    }
    store_->commit();
    sio::metrics::global().commit(std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count(),
                                  batch.size());
  } catch (const std::exception& e) {
    failed = true;
    failure = e.what();
  } catch (...) {
    failed = true;
    failure = "unknown exception";
  }
  if (failed) {
    store_->rollback();
    ++stats_.failed_batches;
    spdlog::error("persistence: a batch of {} writes was rolled back: {}", batch.size(), failure);
    for (auto& w : batch)
      w.promise.deliver(make_error(persistence_errc::storage_failure, failure));
    return false;
  }
  ++stats_.batches;
  stats_.writes += batch.size();
  stats_.largest_batch = std::max<std::uint64_t>(stats_.largest_batch, batch.size());
  // Durable now: answer each write.
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (outcomes[i].error)
      batch[i].promise.deliver(std::move(outcomes[i].error));
    else
      batch[i].promise.deliver(std::move(outcomes[i].value));
  }
  return true;
}

template <class F>
auto persistence_actor::read(F&& f) -> caf::result<decltype(f(std::declval<persistence::store&>()))> {
  flush(); // a failed flush answered its writers; the read still runs
  if (!store_)
    return make_error(persistence_errc::unavailable, "the store is closed");
  try {
    return f(*store_);
  } catch (const rejected& e) {
    return make_error(code_of(e.why()), e.what());
  } catch (const std::exception& e) {
    return make_error(persistence_errc::storage_failure, e.what());
  }
}

caf::behavior persistence_actor::make_behavior() {
  using persistence::store;
  // This actor runs detached, on its own thread (this one). A write request wakes it;
  // as a normal thread it preempted the I/O thread on a shared core for every request
  // and went back to sleep after one (~6 context switches per stored message measured).
  // SCHED_BATCH lets the waker run on: requests pile up and join one commit.
  sched_param param{};
  param.sched_priority = 0;
  if (pthread_setschedparam(pthread_self(), SCHED_BATCH, &param) != 0)
    spdlog::debug("persistence: SCHED_BATCH not available");
  // In a cluster, members send requests here too (actors/remote_store.hpp): an error
  // message nobody asked for would end the actor (CAF's default); it is only logged.
  set_error_handler([](caf::scheduled_actor*, caf::error& err) {
    spdlog::warn("persistence: an error message nobody asked for: {}", caf::to_string(err));
  });
  return {
      // -- writes --
      [this](store_message& m) {
        m.message.created_at = or_now(m.message.created_at);
        enqueue([msg = std::move(m.message), check = m.as_participant](store& s) mutable {
          if (check)
            require_participant(s, msg.conversation_id, msg.sender_id);
          return caf::make_message(s.append_message(std::move(msg)));
        });
      },
      [this](edit_message& m) {
        m.at = or_now(m.at);
        enqueue([m = std::move(m)](store& s) {
          if (m.as_participant)
            require_participant(s, s.conversation_of(m.message_id), m.editor_id);
          return caf::make_message(s.edit_message(m.message_id, m.content, unless_empty(m.editor_id), m.at));
        });
      },
      [this](delete_message& m) {
        m.at = or_now(m.at);
        enqueue([m = std::move(m)](store& s) {
          if (m.as_participant)
            require_participant(s, s.conversation_of(m.message_id), m.deleter_id);
          return caf::make_message(s.delete_message(m.message_id, unless_empty(m.deleter_id), m.at));
        });
      },
      [this](mark_delivered& m) {
        m.at = or_now(m.at);
        enqueue([m = std::move(m)](store& s) {
          if (m.as_participant)
            require_participant(s, s.conversation_of(m.message_id), m.user_id);
          return caf::make_message(s.mark_delivered(m.message_id, m.user_id, m.at));
        });
      },
      [this](mark_read& m) {
        m.at = or_now(m.at);
        enqueue([m = std::move(m)](store& s) {
          if (m.as_participant)
            require_participant(s, s.conversation_of(m.message_id), m.user_id);
          return caf::make_message(s.mark_read(m.message_id, m.user_id, m.at));
        });
      },
      [this](join_conversation& m) {
        m.at = or_now(m.at);
        enqueue([m = std::move(m)](store& s) {
          s.join_conversation(m.conversation_id, m.user_id, m.open_join, m.at);
          return ok();
        });
      },
      [this](add_participants& m) {
        m.at = or_now(m.at);
        enqueue([m = std::move(m)](store& s) {
          return caf::make_message(s.add_participants(m.conversation_id, m.user_ids, m.at));
        });
      },
      [this](remove_participant& m) {
        m.at = or_now(m.at);
        enqueue([m = std::move(m)](store& s) {
          return caf::make_message(s.remove_participant(m.conversation_id, m.user_id, m.at));
        });
      },
      [this](log_platform_message& m) {
        m.message.created_at = or_now(m.message.created_at);
        enqueue([msg = std::move(m.message)](store& s) mutable {
          return caf::make_message(s.append_platform_message(std::move(msg)));
        });
      },
      [this](record_connect& m) {
        m.at = or_now(m.at);
        enqueue([m = std::move(m)](store& s) {
          s.connection_opened(m.socket_id, m.at);
          return ok();
        });
      },
      [this](record_identify& m) {
        m.at = or_now(m.at);
        enqueue([m = std::move(m)](store& s) {
          s.connection_identified(m.socket_id, m.user_id, m.platform, m.app_version, m.at);
          return ok();
        });
      },
      [this](record_disconnect& m) {
        m.at = or_now(m.at);
        enqueue([m = std::move(m)](store& s) {
          s.connection_closed(m.socket_id, m.at);
          return ok();
        });
      },
      [this](close_open_connections& m) {
        m.at = or_now(m.at);
        // The node is gone: its connections end, and its connected sockets are parked for
        // connection state recovery (their record holds the same id prefix as node).
        enqueue([m = std::move(m)](store& s) {
          auto closed = s.close_connections(m.socket_id_prefix, m.at);
          s.recovery_park_node(m.socket_id_prefix, m.at);
          return caf::make_message(closed);
        });
      },
      [this](update_last_seen& m) {
        m.at = or_now(m.at);
        enqueue([m = std::move(m)](store& s) {
          s.set_last_seen(m.user_id, m.at);
          return ok();
        });
      },
      // -- connection state recovery (actors/recovery.hpp): writes like the others --
      [this](sio::recovery_append& a) {
        auto now = persistence::now_ms();
        // Every 10 s of appends, the one that comes also purges (in its own write: one
        // request, one answer).
        bool purge = now - last_recovery_purge_ms_ >= 10000;
        if (purge)
          last_recovery_purge_ms_ = now;
        persistence::recovery_packet p;
        p.nsp = std::move(a.nsp);
        p.offset = std::move(a.offset);
        p.rooms = std::move(a.rooms);
        p.except = std::move(a.except);
        if (a.frame) {
          p.text = a.frame->text;
          p.attachments = a.frame->attachments;
        }
        p.at = now;
        enqueue([p = std::move(p), purge, oldest = now - opts_.recovery.max_disconnection.count(),
                 orphans = now - orphan_connected_ms, max = opts_.recovery.max_stored_packets](store& s) {
          if (purge)
            s.recovery_purge(oldest, oldest, orphans, max);
          s.recovery_append(p);
          return ok();
        });
      },
      [this](sio::recovery_park& m) {
        enqueue([r = record_of(m.session, persistence::now_ms())](store& s) {
          s.recovery_save(r);
          return ok();
        });
      },
      [this](sio::recovery_live& m) {
        m.session.disconnected_at_ms = 0;
        enqueue([r = record_of(m.session, persistence::now_ms())](store& s) {
          s.recovery_save(r);
          return ok();
        });
      },
      [this](sio::recovery_forget& m) {
        enqueue([pid = stored_pid(m.pid)](store& s) {
          s.recovery_forget(pid);
          return ok();
        });
      },
      [this](sio::recovery_claim& c) {
        auto oldest = persistence::now_ms() - opts_.recovery.max_disconnection.count();
        enqueue([c = std::move(c), oldest, max = opts_.recovery.max_replay](store& s) {
          // Packets are filtered by rooms here, so the store reads up to ten times the
          // replay bound before it gives up.
          auto taken = s.recovery_take(c.nsp, stored_pid(c.pid), c.offset, oldest, max * 10);
          if (taken.result != persistence::recovery_take_result::outcome::taken)
            throw rejected(rejected::reason::not_found, std::string("nothing to recover: ") + why_not(taken.result));
          sio::recovery_claimed out;
          auto& r = taken.record;
          out.session = sio::recovery_session{c.pid, r.nsp, r.sid, r.rooms, r.data, r.disconnected_at, {}};
          for (auto& p : taken.packets) {
            if (!sio::recovery_includes(out.session.rooms, p.rooms, p.except))
              continue;
            if (out.missed.size() == max)
              throw rejected(rejected::reason::invalid, "nothing to recover: too_many");
            out.missed.push_back(sio::shared_frame{std::make_shared<const sio::wire_packet>(
                sio::wire_packet{std::move(p.text), std::move(p.attachments), {}, true})});
          }
          return caf::make_message(std::move(out));
        });
      },
      // -- reads --
      [this](const get_message& q) {
        return read([&](store& s) {
          auto found = s.find_message(q.message_id);
          if (!found)
            throw rejected(rejected::reason::not_found, "no message " + q.message_id);
          return std::move(*found);
        });
      },
      [this](const persistence::history_query& q) { return read([&](store& s) { return s.history(q); }); },
      [this](const read_history& q) {
        return read([&](store& s) {
          if (!q.reader.empty())
            require_participant(s, q.query.conversation_id, q.reader);
          return s.history(q.query);
        });
      },
      [this](const get_participants& q) { return read([&](store& s) { return s.participants(q.conversation_id); }); },
      [this](const count_messages& q) { return read([&](store& s) { return s.count_messages(q.conversation_id); }); },
      [this](const count_platform_messages&) { return read([](store& s) { return s.count_platform_messages(); }); },
      [this](const get_connection_totals&) { return read([](store& s) { return s.connection_stats(); }); },
      [this](const list_active_connections& q) {
        return read([&](store& s) { return connection_list{s.active_connections(q.limit)}; });
      },
      [this](const get_last_seen& q) {
        return read([&](store& s) { return last_seen_info{q.user_id, s.last_seen(q.user_id)}; });
      },
      [this](const list_active_conversations& q) {
        return read([&](store& s) { return conversation_list{s.active_conversations(q.user_id, q.limit)}; });
      },
      // -- control --
      [this](const get_persistence_stats&) {
        auto result = stats_;
        result.queued = pending_.size();
        return result;
      },
      [this](flush_atom) -> caf::result<caf::ok_atom> {
        if (flush())
          return caf::ok_atom::value;
        return make_error(persistence_errc::storage_failure, "the commit of the queued writes failed");
      },
      [this](shutdown_atom) -> caf::result<caf::ok_atom> {
        bool committed = flush();
        quit();
        if (committed)
          return caf::ok_atom::value;
        return make_error(persistence_errc::storage_failure, "the commit of the queued writes failed");
      },
      [this](batch_timeout_atom, std::uint64_t generation) {
        if (generation == timer_generation_)
          flush();
      },
  };
}

void persistence_actor::on_exit() {
  // Whatever way the actor ends, queued writes are committed (and answered) first, and
  // the store closes here rather than whenever the last handle lets go of the actor.
  flush();
  store_.reset();
}

caf::actor spawn_persistence(caf::actor_system& sys, std::unique_ptr<persistence::store> store,
                             persistence_options opts) {
  return sys.spawn<persistence_actor, caf::detached>(std::move(store), opts);
}

// -- announce ------------------------------------------------------------------------------

void announce_persistence_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<persistence::conversation_message>("chat::conversation_message");
  cfg.add_message_type<persistence::history_query>("chat::history_query");
  cfg.add_message_type<persistence::history_page>("chat::history_page");
  cfg.add_message_type<persistence::receipt>("chat::receipt");
  cfg.add_message_type<persistence::connection_totals>("chat::connection_totals");
  cfg.add_message_type<persistence::participant_list>("chat::participant_list");
  cfg.add_message_type<join_conversation>("chat::join_conversation");
  cfg.add_message_type<add_participants>("chat::add_participants");
  cfg.add_message_type<remove_participant>("chat::remove_participant");
  cfg.add_message_type<read_history>("chat::read_history");
  cfg.add_message_type<get_participants>("chat::get_participants");
  cfg.add_message_type<store_message>("chat::store_message");
  cfg.add_message_type<edit_message>("chat::edit_message");
  cfg.add_message_type<delete_message>("chat::delete_message");
  cfg.add_message_type<mark_delivered>("chat::mark_delivered");
  cfg.add_message_type<mark_read>("chat::mark_read");
  cfg.add_message_type<log_platform_message>("chat::log_platform_message");
  cfg.add_message_type<record_connect>("chat::record_connect");
  cfg.add_message_type<record_identify>("chat::record_identify");
  cfg.add_message_type<record_disconnect>("chat::record_disconnect");
  cfg.add_message_type<close_open_connections>("chat::close_open_connections");
  cfg.add_message_type<update_last_seen>("chat::update_last_seen");
  cfg.add_message_type<get_message>("chat::get_message");
  cfg.add_message_type<count_messages>("chat::count_messages");
  cfg.add_message_type<count_platform_messages>("chat::count_platform_messages");
  cfg.add_message_type<get_connection_totals>("chat::get_connection_totals");
  cfg.add_message_type<list_active_connections>("chat::list_active_connections");
  cfg.add_message_type<get_last_seen>("chat::get_last_seen");
  cfg.add_message_type<list_active_conversations>("chat::list_active_conversations");
  cfg.add_message_type<get_persistence_stats>("chat::get_persistence_stats");
  cfg.add_message_type<connection_list>("chat::connection_list");
  cfg.add_message_type<last_seen_info>("chat::last_seen_info");
  cfg.add_message_type<conversation_list>("chat::conversation_list");
  cfg.add_message_type<persistence_stats>("chat::persistence_stats");
  cfg.add_error_category(persistence_error_category,
                         [](std::uint8_t code, caf::atom_value, const caf::message& context) -> std::string {
                           std::string text = "persistence: " + to_string(static_cast<persistence_errc>(code));
                           if (context.size() == 1 && context.match_element<std::string>(0))
                             text += " (" + context.get_as<std::string>(0) + ")";
                           return text;
                         });
}

} // namespace chat
