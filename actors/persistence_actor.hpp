// Persistence actor: owns the store and commits writes in groups (group commit). It runs
// detached (its own thread), because every store call blocks on the disk.
//
// Writes queue in memory and commit together, in one transaction, once `max_batch` are
// queued or `max_delay` has passed since the first of them; each write is answered only
// after that commit, so an answer means the write is durable. A write the store refuses
// (unknown message, duplicate id, ...) is answered with that error and does not affect the
// others. When the transaction fails, every write of the batch is answered with
// `storage_failure` (nothing of the batch is stored) and the actor keeps serving.
// Reads first commit what is queued, then answer, so they see every earlier write.
//
// Takes (request -> answer; errors are `persistence_errc` errors, see below):
//   writes, answered after their commit:
//     store_message          -> persistence::conversation_message (as stored: id, created_at)
//     edit_message           -> persistence::conversation_message   (not_found, forbidden)
//     delete_message         -> persistence::conversation_message   (not_found, forbidden)
//     mark_delivered         -> persistence::receipt                (not_found)
//     mark_read              -> persistence::receipt (also marks delivered; not_found)
//       (each of these five with `as_participant`: not_participant unless the acting user
//        takes part in the conversation, checked in the write's own transaction)
//     join_conversation      -> caf::ok_atom                        (not_participant)
//     add_participants       -> persistence::participant_list       (invalid_argument)
//     remove_participant     -> persistence::participant_list       (not_found, invalid_argument)
//     log_platform_message   -> std::int64_t, the log entry's sequence number
//     record_connect         -> caf::ok_atom
//     record_identify        -> caf::ok_atom
//     record_disconnect      -> caf::ok_atom                        (not_found)
//     close_open_connections -> std::int64_t, how many were still open
//     update_last_seen       -> caf::ok_atom
//     sio::recovery_append, recovery_park, recovery_live, recovery_forget -> caf::ok_atom
//       (sent with anon_send), sio::recovery_claim -> sio::recovery_claimed, or not_found /
//       invalid_argument when there is nothing to restore (actors/recovery.hpp: this actor
//       stands in for the recovery actor with a store); every 10 s of appends also purges
//   reads, after committing what is queued:
//     get_message               -> persistence::conversation_message (not_found)
//     persistence::history_query -> persistence::history_page (newest first; not_found
//                                  for an unknown before_id; invalid_argument for a bad limit)
//     count_messages            -> std::int64_t
//     count_platform_messages   -> std::int64_t
//     get_connection_totals     -> persistence::connection_totals
//     list_active_connections   -> connection_list
//     get_last_seen             -> last_seen_info
//     list_active_conversations -> conversation_list
//     read_history              -> persistence::history_page (not_participant, else as history_query)
//     get_participants          -> persistence::participant_list
//   control:
//     flush_atom                -> caf::ok_atom once everything queued is committed
//                                  (storage_failure if that commit failed)
//     shutdown_atom             -> like flush_atom, then the actor quits (and closes the store)
//     get_persistence_stats     -> persistence_stats (answered at once, no flush)
//   internal: batch_timeout_atom (the max_delay timer).
// A timestamp of 0 in a request means "now". The actor also commits what is queued when it
// exits for another reason (an exit message, a linked actor's failure). It never stops by
// itself: send shutdown_atom before the actor system goes away (the system waits for it).
//
// Fire and forget: caf::anon_send (the answer goes nowhere). A plain `send` from an actor
// gets the answer as an ordinary message, which that actor must then handle.
//
// From another actor, waiting for durability:
//   self->request(persistence, chat::persistence_timeout, chat::store_message{msg})
//     .then([](chat::persistence::conversation_message& stored) { /* durable */ },
//           [](caf::error& err) { /* storage_failure, invalid_argument, timeout, ... */ });
#pragma once

#include "actors/recovery.hpp"
#include "persistence/store.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace chat {

// -- atoms -------------------------------------------------------------------------------

// Same atom values as sio::flush_atom and sio::shutdown_atom, hence the same types.
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using batch_timeout_atom = caf::atom_constant<caf::atom("batchtmo")>;

/// A reasonable timeout for requests to the persistence actor: a batch waits at most
/// max_delay, and a commit at most the store's busy timeout plus an fsync.
inline constexpr std::chrono::seconds persistence_timeout{10};

// -- errors ------------------------------------------------------------------------------

enum class persistence_errc : std::uint8_t {
  storage_failure = 1, ///< the batch's transaction failed: nothing of it was stored
  not_found,           ///< no such message / connection (or the message was deleted)
  duplicate,           ///< a message with this id exists
  forbidden,           ///< only the sender may edit or delete a message
  invalid_argument,    ///< missing field, unknown message type, bad limit
  unavailable,         ///< no store to ask: closed, or (actors/remote_store.hpp) the store node is unreachable
  not_participant,     ///< the acting user does not take part in the conversation
};

std::string to_string(persistence_errc code);
caf::error make_error(persistence_errc code);
caf::error make_error(persistence_errc code, std::string context);

/// The error category of persistence_errc errors.
inline constexpr caf::atom_value persistence_error_category = caf::atom("persist");

// -- requests: writes ----------------------------------------------------------------------

// `as_participant`: the acting user (sender, editor, deleter, receipt user) must take part
// in the (message's) conversation.
struct store_message {
  persistence::conversation_message message;
  bool as_participant = false;
};
struct edit_message {
  std::string message_id;
  std::string content;
  std::string editor_id; ///< must be the sender; empty: not checked
  persistence::timestamp_ms at = 0;
  bool as_participant = false;
};
struct delete_message {
  std::string message_id;
  std::string deleter_id; ///< must be the sender; empty: not checked
  persistence::timestamp_ms at = 0;
  bool as_participant = false;
};
struct mark_delivered {
  std::string message_id;
  std::string user_id;
  persistence::timestamp_ms at = 0;
  bool as_participant = false;
};
struct mark_read {
  std::string message_id;
  std::string user_id;
  persistence::timestamp_ms at = 0;
  bool as_participant = false;
};
struct join_conversation {
  std::string conversation_id;
  std::string user_id;
  bool open_join = true; ///< whether joining an open conversation makes a participant
  persistence::timestamp_ms at = 0;
};
struct add_participants {
  std::string conversation_id;
  std::vector<std::string> user_ids;
  persistence::timestamp_ms at = 0;
};
struct remove_participant {
  std::string conversation_id;
  std::string user_id;
  persistence::timestamp_ms at = 0;
};
struct log_platform_message {
  persistence::platform_message message;
};
struct record_connect {
  std::string socket_id;
  persistence::timestamp_ms at = 0;
};
struct record_identify {
  std::string socket_id;
  std::string user_id;
  std::string platform;
  std::string app_version;
  persistence::timestamp_ms at = 0;
};
struct record_disconnect {
  std::string socket_id;
  persistence::timestamp_ms at = 0;
};
struct close_open_connections {
  persistence::timestamp_ms at = 0;
  std::string socket_id_prefix; ///< only these (a node's: sio::id_prefix); empty: every one
};
struct update_last_seen {
  std::string user_id;
  persistence::timestamp_ms at = 0;
};

// -- requests: reads -----------------------------------------------------------------------

struct get_message {
  std::string message_id;
};
struct count_messages {
  std::string conversation_id; ///< empty: all messages
};
struct count_platform_messages {};
struct get_connection_totals {};
struct list_active_connections {
  std::uint32_t limit = 1000;
};
struct get_last_seen {
  std::string user_id;
};
struct list_active_conversations {
  std::string user_id;
  std::uint32_t limit = 50;
};
struct get_persistence_stats {};
struct read_history {
  persistence::history_query query;
  std::string reader; ///< must take part in the conversation; empty: not checked
};
struct get_participants {
  std::string conversation_id;
};

// -- answers ---------------------------------------------------------------------------------

struct connection_list {
  std::vector<persistence::connection_record> connections;
};
struct last_seen_info {
  std::string user_id;
  std::optional<persistence::timestamp_ms> last_seen; ///< nullopt: never seen
};
struct conversation_list {
  std::vector<persistence::active_conversation> conversations;
};
struct persistence_stats {
  std::uint64_t batches = 0;        ///< transactions committed
  std::uint64_t writes = 0;         ///< writes answered after a commit
  std::uint64_t failed_batches = 0; ///< transactions that failed
  std::uint64_t largest_batch = 0;
  std::uint64_t queued = 0; ///< writes waiting for their commit right now
};

// -- the actor -------------------------------------------------------------------------------

struct persistence_options {
  std::size_t max_batch = 256;                            ///< commit when this many writes wait
  caf::timespan max_delay = std::chrono::milliseconds(2); ///< or when the first waited this long
  /// Connection state recovery's bounds, when this actor keeps its packets and sockets.
  sio::recovery_options recovery = {};
};

class persistence_actor : public caf::event_based_actor {
public:
  persistence_actor(caf::actor_config& cfg, std::unique_ptr<persistence::store> store, persistence_options opts);
  ~persistence_actor() override;

  const char* name() const override { return "persistence"; }
  caf::behavior make_behavior() override;
  void on_exit() override;

private:
  using apply_fn = std::function<caf::message(persistence::store&)>;
  struct pending_write {
    caf::response_promise promise;
    apply_fn apply;
  };

  void enqueue(apply_fn apply);
  bool flush(); // commits the queued writes and answers them; false when the commit failed
  template <class F> auto read(F&& f) -> caf::result<decltype(f(std::declval<persistence::store&>()))>;

  std::unique_ptr<persistence::store> store_;
  persistence_options opts_;
  std::vector<pending_write> pending_;
  std::uint64_t timer_generation_ = 0; // a timer of an older generation is stale
  persistence::timestamp_ms last_recovery_purge_ms_ = 0;
  persistence_stats stats_;
};

/// Spawns the persistence actor detached (on its own thread), owning `store`.
caf::actor spawn_persistence(caf::actor_system& sys, std::unique_ptr<persistence::store> store,
                             persistence_options opts = {});

/// Announces the persistence message types and the error category; call on the config.
void announce_persistence_types(caf::actor_system_config& cfg);

// -- inspect ---------------------------------------------------------------------------------

namespace detail {

// CAF 0.17 cannot inspect std::optional: it crosses the wire as a flag and a value.
template <class T> struct wire_optional {
  bool has_value = false;
  T value{};
  wire_optional() = default;
  explicit wire_optional(const std::optional<T>& x) : has_value(x.has_value()), value(x.value_or(T{})) {}
  std::optional<T> get() const { return has_value ? std::optional<T>(value) : std::nullopt; }
};
template <class Inspector, class T> typename Inspector::result_type inspect(Inspector& f, wire_optional<T>& x) {
  return f(caf::meta::type_name("optional"), x.has_value, x.value);
}

} // namespace detail

namespace persistence {

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, conversation_message& x) {
  detail::wire_optional<std::string> file_url{x.file_url};
  detail::wire_optional<std::string> file_name{x.file_name};
  detail::wire_optional<timestamp_ms> edited_at{x.edited_at};
  detail::wire_optional<timestamp_ms> deleted_at{x.deleted_at};
  return f(caf::meta::type_name("conversation_message"), x.id, x.conversation_id, x.sender_id, x.content, x.type,
           file_url, file_name, x.created_at, edited_at, x.deleted, deleted_at, x.delivered_to, x.read_by,
           caf::meta::load_callback([&]() -> caf::error {
             x.file_url = file_url.get();
             x.file_name = file_name.get();
             x.edited_at = edited_at.get();
             x.deleted_at = deleted_at.get();
             return caf::none;
           }));
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, history_query& x) {
  detail::wire_optional<std::string> before_id{x.before_id};
  detail::wire_optional<timestamp_ms> before{x.before};
  return f(caf::meta::type_name("history_query"), x.conversation_id, before_id, before, x.limit,
           caf::meta::load_callback([&]() -> caf::error {
             x.before_id = before_id.get();
             x.before = before.get();
             return caf::none;
           }));
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, history_page& x) {
  return f(caf::meta::type_name("history_page"), x.messages, x.has_more);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, receipt& x) {
  return f(caf::meta::type_name("receipt"), x.message_id, x.conversation_id, x.user_id, x.at);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, active_conversation& x) {
  return f(caf::meta::type_name("active_conversation"), x.conversation_id, x.last_sent_at, x.last_message_at);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, platform_message& x) {
  return f(caf::meta::type_name("platform_message"), x.socket_id, x.sender, x.text, x.platform, x.created_at);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, connection_record& x) {
  detail::wire_optional<std::string> user_id{x.user_id};
  detail::wire_optional<std::string> platform{x.platform};
  detail::wire_optional<std::string> app_version{x.app_version};
  detail::wire_optional<timestamp_ms> disconnected_at{x.disconnected_at};
  return f(caf::meta::type_name("connection_record"), x.socket_id, user_id, platform, app_version, x.connected_at,
           disconnected_at, caf::meta::load_callback([&]() -> caf::error {
             x.user_id = user_id.get();
             x.platform = platform.get();
             x.app_version = app_version.get();
             x.disconnected_at = disconnected_at.get();
             return caf::none;
           }));
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, platform_count& x) {
  return f(caf::meta::type_name("platform_count"), x.platform, x.total, x.active);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, connection_totals& x) {
  return f(caf::meta::type_name("connection_totals"), x.total, x.active, x.by_platform);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, participant_list& x) {
  return f(caf::meta::type_name("participant_list"), x.conversation_id, x.open, x.user_ids);
}

} // namespace persistence

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, store_message& x) {
  return f(caf::meta::type_name("store_message"), x.message, x.as_participant);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, edit_message& x) {
  return f(caf::meta::type_name("edit_message"), x.message_id, x.content, x.editor_id, x.at, x.as_participant);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, delete_message& x) {
  return f(caf::meta::type_name("delete_message"), x.message_id, x.deleter_id, x.at, x.as_participant);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, mark_delivered& x) {
  return f(caf::meta::type_name("mark_delivered"), x.message_id, x.user_id, x.at, x.as_participant);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, mark_read& x) {
  return f(caf::meta::type_name("mark_read"), x.message_id, x.user_id, x.at, x.as_participant);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, join_conversation& x) {
  return f(caf::meta::type_name("join_conversation"), x.conversation_id, x.user_id, x.open_join, x.at);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, add_participants& x) {
  return f(caf::meta::type_name("add_participants"), x.conversation_id, x.user_ids, x.at);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, remove_participant& x) {
  return f(caf::meta::type_name("remove_participant"), x.conversation_id, x.user_id, x.at);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, read_history& x) {
  return f(caf::meta::type_name("read_history"), x.query, x.reader);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, get_participants& x) {
  return f(caf::meta::type_name("get_participants"), x.conversation_id);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, log_platform_message& x) {
  return f(caf::meta::type_name("log_platform_message"), x.message);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, record_connect& x) {
  return f(caf::meta::type_name("record_connect"), x.socket_id, x.at);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, record_identify& x) {
  return f(caf::meta::type_name("record_identify"), x.socket_id, x.user_id, x.platform, x.app_version, x.at);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, record_disconnect& x) {
  return f(caf::meta::type_name("record_disconnect"), x.socket_id, x.at);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, close_open_connections& x) {
  return f(caf::meta::type_name("close_open_connections"), x.at, x.socket_id_prefix);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, update_last_seen& x) {
  return f(caf::meta::type_name("update_last_seen"), x.user_id, x.at);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, get_message& x) {
  return f(caf::meta::type_name("get_message"), x.message_id);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, count_messages& x) {
  return f(caf::meta::type_name("count_messages"), x.conversation_id);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, count_platform_messages&) {
  return f(caf::meta::type_name("count_platform_messages"));
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, get_connection_totals&) {
  return f(caf::meta::type_name("get_connection_totals"));
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, list_active_connections& x) {
  return f(caf::meta::type_name("list_active_connections"), x.limit);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, get_last_seen& x) {
  return f(caf::meta::type_name("get_last_seen"), x.user_id);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, list_active_conversations& x) {
  return f(caf::meta::type_name("list_active_conversations"), x.user_id, x.limit);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, get_persistence_stats&) {
  return f(caf::meta::type_name("get_persistence_stats"));
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, connection_list& x) {
  return f(caf::meta::type_name("connection_list"), x.connections);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, last_seen_info& x) {
  detail::wire_optional<persistence::timestamp_ms> last_seen{x.last_seen};
  return f(caf::meta::type_name("last_seen_info"), x.user_id, last_seen, caf::meta::load_callback([&]() -> caf::error {
             x.last_seen = last_seen.get();
             return caf::none;
           }));
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, conversation_list& x) {
  return f(caf::meta::type_name("conversation_list"), x.conversations);
}
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, persistence_stats& x) {
  return f(caf::meta::type_name("persistence_stats"), x.batches, x.writes, x.failed_batches, x.largest_batch, x.queued);
}

} // namespace chat
