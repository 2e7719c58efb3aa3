// The embedded store: one SQLite file in WAL mode through SQLiteCpp. The server creates
// and migrates the schema itself (PRAGMA user_version, migrations in order), so a fresh
// or an older file is brought to the current version on open; a file written by a newer
// server is refused rather than misread.
//
// Durability: synchronous=FULL is the default. With WAL, FULL fsyncs the WAL at every
// commit, so a committed transaction survives a power loss or kernel crash; NORMAL fsyncs
// only at checkpoints, which survives a crash of the server process but may lose the last
// transactions on power loss. The persistence actor acknowledges a write only after its
// commit ("an ack means durable"), which only holds for power loss with FULL; group
// commit is what makes FULL affordable (one fsync per batch, not per message).
#pragma once

#include "persistence/store.hpp"

#include <atomic>
#include <chrono>
#include <memory>

namespace chat::persistence {

enum class sync_mode { normal, full };

struct sqlite_options {
  /// The database file; its directories are created. ":memory:" for a private in-memory
  /// database (no WAL).
  std::string path = "data/chat.db";
  /// How long a statement waits for a lock held by another connection (SQLITE_BUSY).
  std::chrono::milliseconds busy_timeout{2000};
  sync_mode synchronous = sync_mode::full;
  /// SQLite's page cache for this connection. SQLite's own default (2 MiB) makes every
  /// batch re-read index pages from the OS once the file outgrows it.
  std::size_t cache_kib = 65536;
  /// Migrate only up to this version (tests build older files with it); 0: the latest.
  int schema_target = 0;
};

class sqlite_store final : public store {
public:
  /// Opens (creating) the file and migrates its schema. Throws on failure.
  explicit sqlite_store(sqlite_options opts);
  ~sqlite_store() override;
  sqlite_store(const sqlite_store&) = delete;
  sqlite_store& operator=(const sqlite_store&) = delete;

  /// The schema version this server writes.
  static int latest_schema_version();
  /// The schema version of the open file.
  int schema_version();
  /// "wal" for a file database.
  std::string journal_mode();
  /// SQLite transactions committed on this connection since it opened, counted by a
  /// commit hook (explicit and autocommit ones). Readable from any thread.
  std::uint64_t transactions_committed() const;
  /// SQLite's plan for a history page query (tests check that it uses the index).
  std::string explain_history_query();

  void begin() override;
  void commit() override;
  void rollback() noexcept override;

  conversation_message append_message(conversation_message msg) override;
  conversation_message edit_message(const std::string& message_id, const std::string& content,
                                    const std::optional<std::string>& editor_id, timestamp_ms at) override;
  conversation_message delete_message(const std::string& message_id, const std::optional<std::string>& deleter_id,
                                      timestamp_ms at) override;
  receipt mark_delivered(const std::string& message_id, const std::string& user_id, timestamp_ms at) override;
  receipt mark_read(const std::string& message_id, const std::string& user_id, timestamp_ms at) override;

  std::optional<conversation_message> find_message(const std::string& message_id) override;
  history_page history(const history_query& q) override;
  std::int64_t count_messages(const std::string& conversation_id) override;
  std::vector<active_conversation> active_conversations(const std::string& user_id, std::uint32_t limit) override;
  std::string conversation_of(const std::string& message_id) override;

  bool is_participant(const std::string& conversation_id, const std::string& user_id) override;
  void join_conversation(const std::string& conversation_id, const std::string& user_id, bool open_join,
                         timestamp_ms at) override;
  participant_list add_participants(const std::string& conversation_id, const std::vector<std::string>& user_ids,
                                    timestamp_ms at) override;
  participant_list remove_participant(const std::string& conversation_id, const std::string& user_id,
                                      timestamp_ms at) override;
  participant_list participants(const std::string& conversation_id) override;

  std::int64_t append_platform_message(platform_message m) override;
  std::int64_t count_platform_messages() override;

  void connection_opened(const std::string& socket_id, timestamp_ms at) override;
  void connection_identified(const std::string& socket_id, const std::string& user_id, const std::string& platform,
                             const std::string& app_version, timestamp_ms at) override;
  void connection_closed(const std::string& socket_id, timestamp_ms at) override;
  std::int64_t close_connections(const std::string& socket_id_prefix, timestamp_ms at) override;
  connection_totals connection_stats() override;
  std::vector<connection_record> active_connections(std::uint32_t limit) override;

  void set_last_seen(const std::string& user_id, timestamp_ms at) override;
  std::optional<timestamp_ms> last_seen(const std::string& user_id) override;

  void recovery_append(const recovery_packet& p) override;
  void recovery_save(const recovery_record& r) override;
  void recovery_forget(const std::string& pid) override;
  std::int64_t recovery_park_node(const std::string& node, timestamp_ms at) override;
  recovery_take_result recovery_take(const std::string& nsp, const std::string& pid, const std::string& offset,
                                     timestamp_ms oldest, std::size_t max_packets) override;
  std::int64_t recovery_purge(timestamp_ms packets_before, timestamp_ms parked_before, timestamp_ms connected_before,
                              std::size_t max_packets) override;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace chat::persistence
