// The MongoDB store: the same data as the SQLite store (persistence/sqlite_store.hpp) in
// MongoDB collections, through libmongoc. Chosen with `--store mongodb://HOST:PORT/DB`.
//
// Collections (field names as seed 002's MongoDB documents and our JSON use them):
//   messages           {_id: ObjectId, conversationId, senderId, content, type, fileUrl?,
//                       fileName?, createdAt: Date, editedAt?: Date, deleted, deletedAt?: Date,
//                       deliveredTo: [user], readBy: [user]}
//                       A message id of 24 lower-case hex digits (every id this server
//                       makes) is the ObjectId `_id`; any other id (an import's) is kept in
//                       `messageId` beside a fresh `_id`. History pages order by
//                       (createdAt, _id), newest first.
//   conversations      {conversationId, participants: [user], closed, lastMessageAt: Date}
//   user_conversations {userId, conversationId, lastSentAt: Date}
//   platform_messages  {seq, socketId, sender, text, platform, createdAt: Date}
//   connections        {socketId, userId?, platform?, appVersion?, connectedAt: Date,
//                       disconnectedAt: Date | null}
//   users              {userId, lastSeen: Date}
//   counters           {name: "platform_messages", next}: the platform log's numbers, taken
//                       100 at a time by each store
//
// Group commit: the writes between begin() and commit() are queued as one ordered bulk
// write per collection and sent at commit(), with the URI's write concern, or
// {w: "majority", j: true} when the URI names none; commit() returns only after the
// server acknowledged them, so the persistence actor's "an ack means durable" holds as far
// as that write concern does. A write that must read what an earlier write of the same
// batch changed (mark_read of a message posted in the batch, say) sends that collection's
// queued writes first.
//
// What MongoDB does not give us here, and what the store does about it:
// - No multi-document transactions on a standalone server: a batch whose commit fails may
//   be partly applied. Every write is an idempotent update (upserts keyed by the
//   document's natural key, $max/$addToSet), so the writers, answered with an error, may
//   retry safely, except inserts with a fresh id or number: a retried message post
//   without an id makes a second message, a retried platform log entry a second entry.
// - The store never relies on unique indexes or duplicate-key errors (some wire-compatible
//   servers do not enforce them): a message id given by the caller is looked up first.
// - Several stores may share one database (every node of a cluster on the same URI): each
//   write is one atomic update of one document ($addToSet/$pull of participants, $max of
//   times, upserts keyed by socket/user/conversation id), and platform log numbers come from
//   a shared counter. Checks that read first (the sender of an edited message, whether a
//   conversation is closed when someone joins) see the database as it was at the read.
#pragma once

#include "persistence/store.hpp"

#include <chrono>
#include <memory>

namespace chat::persistence {

struct mongo_options {
  /// A MongoDB connection string naming the database: mongodb://HOST:PORT/DB[?options].
  /// Without a database name, "chat". Without serverSelectionTimeoutMS, 5000 (libmongoc's
  /// 30 s would hold the persistence actor that long when the server is gone).
  std::string uri;
};

class mongo_store final : public store {
public:
  /// Connects, checks the server answers, and creates the indexes. Throws on failure.
  explicit mongo_store(mongo_options opts);
  ~mongo_store() override;
  mongo_store(const mongo_store&) = delete;
  mongo_store& operator=(const mongo_store&) = delete;

  /// Whether `value` is a MongoDB connection string (mongodb:// or mongodb+srv://).
  static bool is_uri(std::string_view value);
  /// Why a connection string cannot be used (malformed, or w=0), without connecting.
  static std::optional<std::string> check_uri(const std::string& value);
  /// The database the store writes to.
  std::string database() const;
  /// Bulk writes sent since the store opened (tests check that a batch is one per
  /// collection it touches).
  std::uint64_t bulk_writes() const;

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
