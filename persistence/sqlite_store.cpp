#include "persistence/sqlite_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <limits>
#include <unordered_map>

namespace chat::persistence {

namespace {

// -- schema --------------------------------------------------------------------------------

// Migrations in order; migration N brings a file from version N-1 to N. Never edit a
// released one: append a new one.
struct migration {
  int version;
  const char* sql;
};

const migration migrations[] = {
    {1, R"sql(
    -- Conversation messages (APP_PROTOCOL section 2). seq is the insertion order: it
    -- breaks ties between messages of the same millisecond, so paging is stable.
    CREATE TABLE messages (
      seq             INTEGER PRIMARY KEY,
      id              TEXT    NOT NULL UNIQUE,
      conversation_id TEXT    NOT NULL,
      sender_id       TEXT    NOT NULL,
      content         TEXT    NOT NULL,
      type            TEXT    NOT NULL CHECK (type IN ('text', 'file', 'image')),
      file_url        TEXT,
      file_name       TEXT,
      created_at      INTEGER NOT NULL,
      edited_at       INTEGER,
      deleted         INTEGER NOT NULL DEFAULT 0,
      deleted_at      INTEGER
    );
    -- History pages: newest first within a conversation, seq breaking ties.
    CREATE INDEX messages_history ON messages (conversation_id, created_at DESC, seq DESC);
    -- Delivery and read receipts, one row per (message, kind, user); kind 0 delivered, 1 read.
    CREATE TABLE message_receipts (
      message_seq INTEGER NOT NULL REFERENCES messages (seq),
      kind        INTEGER NOT NULL CHECK (kind IN (0, 1)),
      user_id     TEXT    NOT NULL,
      at          INTEGER NOT NULL,
      PRIMARY KEY (message_seq, kind, user_id)
    ) WITHOUT ROWID;
  )sql"},
    {2, R"sql(
    -- The platform protocol's send-message log (APP_PROTOCOL section 1), indexed like the
    -- seed's Laravel table.
    CREATE TABLE platform_messages (
      seq        INTEGER PRIMARY KEY,
      socket_id  TEXT    NOT NULL,
      sender     TEXT    NOT NULL,
      text       TEXT    NOT NULL,
      platform   TEXT    NOT NULL,
      created_at INTEGER NOT NULL
    );
    CREATE INDEX platform_messages_sender ON platform_messages (sender);
    CREATE INDEX platform_messages_platform ON platform_messages (platform);
    CREATE INDEX platform_messages_created ON platform_messages (created_at);
    -- Connection tracking: every connection ever, active while disconnected_at is NULL.
    CREATE TABLE connections (
      socket_id       TEXT    PRIMARY KEY,
      user_id         TEXT,
      platform        TEXT,
      app_version     TEXT,
      connected_at    INTEGER NOT NULL,
      disconnected_at INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX connections_platform ON connections (platform, disconnected_at);
    CREATE INDEX connections_active ON connections (connected_at) WHERE disconnected_at IS NULL;
    -- Presence (section 5): when each user was last online.
    CREATE TABLE users (
      user_id   TEXT    PRIMARY KEY,
      last_seen INTEGER NOT NULL
    ) WITHOUT ROWID;
  )sql"},
    {3, R"sql(
    -- Active conversations per user (section 6), kept up to date on every message so the
    -- query does not scan a user's whole message history; backfilled from the messages.
    CREATE TABLE user_conversations (
      user_id         TEXT    NOT NULL,
      conversation_id TEXT    NOT NULL,
      last_sent_at    INTEGER NOT NULL,
      PRIMARY KEY (user_id, conversation_id)
    ) WITHOUT ROWID;
    CREATE INDEX user_conversations_recent ON user_conversations (user_id, last_sent_at DESC);
    INSERT INTO user_conversations (user_id, conversation_id, last_sent_at)
      SELECT sender_id, conversation_id, MAX(created_at) FROM messages GROUP BY sender_id, conversation_id;
  )sql"},
    {4, R"sql(
    -- Conversation participants (docs/chat-protocol.md "Authorization"): who joined a
    -- conversation while it was open, or was added by the backend. A conversation the
    -- backend added anyone to is closed: joining no longer adds. The senders of earlier
    -- messages take part in their conversations.
    CREATE TABLE conversation_participants (
      conversation_id TEXT    NOT NULL,
      user_id         TEXT    NOT NULL,
      added_at        INTEGER NOT NULL,
      PRIMARY KEY (conversation_id, user_id)
    ) WITHOUT ROWID;
    CREATE TABLE closed_conversations (
      conversation_id TEXT    PRIMARY KEY,
      closed_at       INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO conversation_participants (conversation_id, user_id, added_at)
      SELECT conversation_id, sender_id, MIN(created_at) FROM messages GROUP BY conversation_id, sender_id;
  )sql"},
    {5, R"sql(
    -- Connection state recovery (actors/recovery.hpp): the packets that went out with an
    -- offset, in the order they were kept (seq), and the sockets that may come back.
    -- Lists (rooms, attachments) are length-prefixed blobs (persistence/store.hpp).
    CREATE TABLE recovery_packets (
      seq          INTEGER PRIMARY KEY,
      nsp          TEXT    NOT NULL,
      offset       TEXT    NOT NULL UNIQUE,
      rooms        BLOB    NOT NULL,
      except_rooms BLOB    NOT NULL,
      text         BLOB    NOT NULL,
      attachments  BLOB    NOT NULL,
      at           INTEGER NOT NULL
    );
    CREATE INDEX recovery_packets_nsp ON recovery_packets (nsp, seq);
    CREATE INDEX recovery_packets_at ON recovery_packets (at);
    CREATE TABLE recovery_sockets (
      pid             TEXT    PRIMARY KEY,
      nsp             TEXT    NOT NULL,
      sid             TEXT    NOT NULL,
      rooms           BLOB    NOT NULL,
      data            TEXT    NOT NULL,
      updated_at      INTEGER NOT NULL,
      disconnected_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX recovery_sockets_updated ON recovery_sockets (updated_at);
  )sql"},
    {6, R"sql(
    -- A connected socket's node (its id prefix; disconnected_at is 0 while connected): the
    -- store parks a node's sockets when the node is gone, and only parked ones come back.
    -- Earlier records kept the pid in clear; lookups now use its SHA-256: none can come back.
    DELETE FROM recovery_sockets;
    ALTER TABLE recovery_sockets ADD COLUMN node TEXT NOT NULL DEFAULT '';
    CREATE INDEX recovery_sockets_node ON recovery_sockets (disconnected_at, node);
  )sql"},
};

constexpr int latest_version = 6;
static_assert(std::size(migrations) == latest_version, "migration N sits at index N-1");

// -- statements ----------------------------------------------------------------------------

const char* const sql_insert_message =
    "INSERT INTO messages (id, conversation_id, sender_id, content, type, file_url, file_name, created_at, "
    "edited_at, deleted, deleted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (id) DO NOTHING";
const char* const sql_touch_user_conversation =
    "INSERT INTO user_conversations (user_id, conversation_id, last_sent_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (user_id, conversation_id) DO UPDATE SET last_sent_at = MAX(last_sent_at, excluded.last_sent_at)";
const char* const sql_message_by_id =
    "SELECT seq, id, conversation_id, sender_id, content, type, file_url, file_name, created_at, edited_at, deleted, "
    "deleted_at FROM messages WHERE id = ?1";
const char* const sql_receipts =
    "SELECT kind, user_id FROM message_receipts WHERE message_seq = ?1 ORDER BY kind, user_id";
const char* const sql_insert_receipt =
    "INSERT INTO message_receipts (message_seq, kind, user_id, at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING";
const char* const sql_edit_message = "UPDATE messages SET content = ?2, edited_at = ?3 WHERE seq = ?1";
const char* const sql_delete_message = "UPDATE messages SET deleted = 1, deleted_at = ?2 WHERE seq = ?1";
const char* const sql_history_cursor = "SELECT created_at, seq FROM messages WHERE id = ?1 AND conversation_id = ?2";
const char* const sql_history =
    "SELECT seq, id, conversation_id, sender_id, content, type, file_url, file_name, created_at, edited_at, deleted, "
    "deleted_at FROM messages WHERE conversation_id = ?1 AND (created_at, seq) < (?2, ?3) "
    "ORDER BY created_at DESC, seq DESC LIMIT ?4";
const char* const sql_count_all_messages = "SELECT COUNT(*) FROM messages";
const char* const sql_count_messages = "SELECT COUNT(*) FROM messages WHERE conversation_id = ?1";
const char* const sql_active_conversations =
    "SELECT uc.conversation_id, uc.last_sent_at, "
    "(SELECT MAX(m.created_at) FROM messages m WHERE m.conversation_id = uc.conversation_id) "
    "FROM user_conversations uc WHERE uc.user_id = ?1 ORDER BY uc.last_sent_at DESC, uc.conversation_id LIMIT ?2";
const char* const sql_insert_platform_message =
    "INSERT INTO platform_messages (socket_id, sender, text, platform, created_at) VALUES (?1, ?2, ?3, ?4, ?5)";
const char* const sql_count_platform_messages = "SELECT COUNT(*) FROM platform_messages";
const char* const sql_connection_opened =
    "INSERT INTO connections (socket_id, connected_at) VALUES (?1, ?2) "
    "ON CONFLICT (socket_id) DO UPDATE SET connected_at = MIN(connected_at, excluded.connected_at)";
const char* const sql_connection_identified =
    "INSERT INTO connections (socket_id, user_id, platform, app_version, connected_at) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (socket_id) DO UPDATE SET user_id = excluded.user_id, platform = excluded.platform, "
    "app_version = excluded.app_version";
const char* const sql_connection_closed =
    "UPDATE connections SET disconnected_at = ?2 WHERE socket_id = ?1 AND disconnected_at IS NULL";
const char* const sql_connection_exists = "SELECT 1 FROM connections WHERE socket_id = ?1";
const char* const sql_close_connections =
    "UPDATE connections SET disconnected_at = ?1 WHERE disconnected_at IS NULL "
    "AND substr(socket_id, 1, length(?2)) = ?2";
const char* const sql_connection_stats =
    "SELECT COALESCE(platform, 'unknown') AS p, COUNT(*), SUM(disconnected_at IS NULL) FROM connections "
    "GROUP BY p ORDER BY p";
const char* const sql_active_connections =
    "SELECT socket_id, user_id, platform, app_version, connected_at FROM connections "
    "WHERE disconnected_at IS NULL ORDER BY connected_at, socket_id LIMIT ?1";
const char* const sql_set_last_seen =
    "INSERT INTO users (user_id, last_seen) VALUES (?1, ?2) "
    "ON CONFLICT (user_id) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen)";
const char* const sql_last_seen = "SELECT last_seen FROM users WHERE user_id = ?1";
const char* const sql_conversation_of = "SELECT conversation_id FROM messages WHERE id = ?1";
const char* const sql_is_participant =
    "SELECT 1 FROM conversation_participants WHERE conversation_id = ?1 AND user_id = ?2";
const char* const sql_is_closed = "SELECT 1 FROM closed_conversations WHERE conversation_id = ?1";
const char* const sql_add_participant =
    "INSERT INTO conversation_participants (conversation_id, user_id, added_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT DO NOTHING";
const char* const sql_close_conversation =
    "INSERT INTO closed_conversations (conversation_id, closed_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING";
const char* const sql_remove_participant =
    "DELETE FROM conversation_participants WHERE conversation_id = ?1 AND user_id = ?2";
const char* const sql_recovery_append =
    "INSERT INTO recovery_packets (nsp, offset, rooms, except_rooms, text, attachments, at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (offset) DO NOTHING";
const char* const sql_recovery_save =
    "INSERT OR REPLACE INTO recovery_sockets (pid, nsp, sid, rooms, data, updated_at, disconnected_at, node) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const char* const sql_recovery_park_all =
    "UPDATE recovery_sockets SET disconnected_at = ?1 WHERE disconnected_at = 0";
const char* const sql_recovery_park_node =
    "UPDATE recovery_sockets SET disconnected_at = ?1 WHERE disconnected_at = 0 AND node = ?2";
const char* const sql_recovery_forget = "DELETE FROM recovery_sockets WHERE pid = ?1";
const char* const sql_recovery_socket =
    "SELECT sid, rooms, data, updated_at, disconnected_at FROM recovery_sockets WHERE pid = ?1 AND nsp = ?2";
const char* const sql_recovery_offset = "SELECT seq FROM recovery_packets WHERE offset = ?1 AND nsp = ?2";
const char* const sql_recovery_after =
    "SELECT offset, rooms, except_rooms, text, attachments, at FROM recovery_packets WHERE nsp = ?1 AND seq > ?2 "
    "ORDER BY seq LIMIT ?3";
const char* const sql_recovery_purge_packets = "DELETE FROM recovery_packets WHERE at < ?1";
const char* const sql_recovery_purge_parked =
    "DELETE FROM recovery_sockets WHERE disconnected_at > 0 AND disconnected_at < ?1";
const char* const sql_recovery_purge_connected =
    "DELETE FROM recovery_sockets WHERE disconnected_at = 0 AND updated_at < ?1";
const char* const sql_recovery_trim_packets =
    "DELETE FROM recovery_packets WHERE seq <= (SELECT MAX(seq) FROM recovery_packets) - ?1";
const char* const sql_participants =
    "SELECT user_id FROM conversation_participants WHERE conversation_id = ?1 ORDER BY user_id";

constexpr int receipt_delivered = 0;
constexpr int receipt_read = 1;

void bind_optional(SQLite::Statement& s, int index, const std::optional<std::string>& v) {
  if (v)
    s.bind(index, *v);
  else
    s.bind(index);
}

void bind_optional(SQLite::Statement& s, int index, const std::optional<timestamp_ms>& v) {
  if (v)
    s.bind(index, static_cast<std::int64_t>(*v));
  else
    s.bind(index);
}

std::optional<std::string> optional_text(const SQLite::Column& c) {
  if (c.isNull())
    return std::nullopt;
  return c.getString();
}

std::optional<timestamp_ms> optional_int(const SQLite::Column& c) {
  if (c.isNull())
    return std::nullopt;
  return c.getInt64();
}

// Resets a cached statement when a use of it ends, so no statement keeps a read
// transaction open (which would stop WAL checkpoints) or a stale binding around.
class use {
public:
  explicit use(SQLite::Statement& s) : s_(s) {}
  ~use() { s_.tryReset(); }
  use(const use&) = delete;
  use& operator=(const use&) = delete;
  SQLite::Statement* operator->() { return &s_; }
  SQLite::Statement& operator*() { return s_; }

private:
  SQLite::Statement& s_;
};

} // namespace

// -- impl --------------------------------------------------------------------------------------

struct sqlite_store::impl {
  sqlite_options opts;
  SQLite::Database db;
  std::atomic<std::uint64_t> commits{0};
  std::unordered_map<const char*, std::unique_ptr<SQLite::Statement>> statements;

  static SQLite::Database open(const sqlite_options& o) {
    if (o.path != ":memory:" && o.path.rfind("file:", 0) != 0) {
      auto dir = std::filesystem::path(o.path).parent_path();
      if (!dir.empty())
        std::filesystem::create_directories(dir);
    }
    return SQLite::Database(o.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE,
                            static_cast<int>(o.busy_timeout.count()));
  }

  explicit impl(sqlite_options o) : opts(std::move(o)), db(open(opts)) {
    sqlite3_commit_hook(
        db.getHandle(),
        [](void* self) -> int {
          static_cast<impl*>(self)->commits.fetch_add(1, std::memory_order_relaxed);
          return 0;
        },
        this);
    // WAL: readers never block the writer, and a commit appends to one file.
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(opts.synchronous == sync_mode::full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA foreign_keys = ON");
    db.exec("PRAGMA cache_size = -" + std::to_string(opts.cache_kib));
    // After a checkpoint, truncate a WAL that a burst grew beyond 64 MiB.
    db.exec("PRAGMA journal_size_limit = 67108864");
    migrate();
  }

  ~impl() { sqlite3_commit_hook(db.getHandle(), nullptr, nullptr); }

  int user_version() { return db.execAndGet("PRAGMA user_version").getInt(); }

  void migrate() {
    int target = opts.schema_target > 0 ? std::min(opts.schema_target, latest_version) : latest_version;
    for (;;) {
      // IMMEDIATE: two servers opening one new file migrate one after the other.
      SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
      int current = user_version();
      if (current > latest_version)
        throw std::runtime_error("database " + opts.path + " has schema version " + std::to_string(current)
                                 + ", newer than this server's " + std::to_string(latest_version));
      if (current >= target)
        return; // the transaction rolls back: nothing was written
      const auto& m = migrations[current];
      db.exec(m.sql);
      db.exec("PRAGMA user_version = " + std::to_string(m.version));
      tx.commit();
    }
  }

  SQLite::Statement& statement(const char* sql) {
    auto& slot = statements[sql];
    if (!slot)
      slot = std::make_unique<SQLite::Statement>(db, sql);
    return *slot;
  }

  // Reads the columns of a message row, in the order the message queries select them.
  static std::pair<std::int64_t, conversation_message> read_message(SQLite::Statement& s) {
    conversation_message m;
    auto seq = s.getColumn(0).getInt64();
    m.id = s.getColumn(1).getString();
    m.conversation_id = s.getColumn(2).getString();
    m.sender_id = s.getColumn(3).getString();
    m.content = s.getColumn(4).getString();
    m.type = s.getColumn(5).getString();
    m.file_url = optional_text(s.getColumn(6));
    m.file_name = optional_text(s.getColumn(7));
    m.created_at = s.getColumn(8).getInt64();
    m.edited_at = optional_int(s.getColumn(9));
    m.deleted = s.getColumn(10).getInt() != 0;
    m.deleted_at = optional_int(s.getColumn(11));
    return {seq, std::move(m)};
  }

  void load_receipts(std::int64_t seq, conversation_message& m) {
    use q(statement(sql_receipts));
    q->bind(1, seq);
    while (q->executeStep())
      (q->getColumn(0).getInt() == receipt_read ? m.read_by : m.delivered_to).push_back(q->getColumn(1).getString());
  }

  template <class Key>
  std::optional<std::pair<std::int64_t, conversation_message>> message_by(const char* sql, const Key& key) {
    std::optional<std::pair<std::int64_t, conversation_message>> found;
    {
      use q(statement(sql));
      q->bind(1, key);
      if (!q->executeStep())
        return std::nullopt;
      found = read_message(*q);
    }
    load_receipts(found->first, found->second);
    return found;
  }

  std::pair<std::int64_t, conversation_message> existing(const std::string& message_id) {
    auto found = message_by(sql_message_by_id, message_id);
    if (!found)
      throw rejected(rejected::reason::not_found, "no message " + message_id);
    return std::move(*found);
  }

  void insert_receipt(std::int64_t seq, int kind, const std::string& user_id, timestamp_ms at) {
    use q(statement(sql_insert_receipt));
    q->bind(1, seq);
    q->bind(2, kind);
    q->bind(3, user_id);
    q->bind(4, static_cast<std::int64_t>(at));
    q->exec();
  }

  receipt add_receipt(const std::string& message_id, const std::string& user_id, timestamp_ms at, bool read) {
    if (user_id.empty())
      throw rejected(rejected::reason::invalid, "missing user id");
    std::int64_t seq = 0;
    std::string conversation_id;
    {
      use q(statement(sql_message_by_id));
      q->bind(1, message_id);
      if (!q->executeStep())
        throw rejected(rejected::reason::not_found, "no message " + message_id);
      seq = q->getColumn(0).getInt64();
      conversation_id = q->getColumn(2).getString();
    }
    insert_receipt(seq, receipt_delivered, user_id, at);
    if (read)
      insert_receipt(seq, receipt_read, user_id, at);
    return receipt{message_id, std::move(conversation_id), user_id, at};
  }

  std::int64_t count(const char* sql) {
    use q(statement(sql));
    q->executeStep();
    return q->getColumn(0).getInt64();
  }

  // Whether a query with these text parameters finds a row.
  bool exists(const char* sql, const std::string& a, const std::string* b = nullptr) {
    use q(statement(sql));
    q->bind(1, a);
    if (b)
      q->bind(2, *b);
    return q->executeStep();
  }

  void add_participant(const std::string& conversation_id, const std::string& user_id, timestamp_ms at) {
    use q(statement(sql_add_participant));
    q->bind(1, conversation_id);
    q->bind(2, user_id);
    q->bind(3, static_cast<std::int64_t>(at));
    q->exec();
  }

  void close_conversation(const std::string& conversation_id, timestamp_ms at) {
    use q(statement(sql_close_conversation));
    q->bind(1, conversation_id);
    q->bind(2, static_cast<std::int64_t>(at));
    q->exec();
  }

  // A conversation that names its users has no stored participants to change.
  static void refuse_named(const std::string& conversation_id) {
    if (named_participants(conversation_id))
      throw rejected(rejected::reason::invalid, "the participants of " + conversation_id + " are named by its id");
  }
};

// -- sqlite_store ------------------------------------------------------------------------------

sqlite_store::sqlite_store(sqlite_options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}

sqlite_store::~sqlite_store() {
  rollback();
}

int sqlite_store::latest_schema_version() {
  return latest_version;
}

int sqlite_store::schema_version() {
  return impl_->user_version();
}

std::string sqlite_store::journal_mode() {
  return impl_->db.execAndGet("PRAGMA journal_mode").getString();
}

std::uint64_t sqlite_store::transactions_committed() const {
  return impl_->commits.load(std::memory_order_relaxed);
}

std::string sqlite_store::explain_history_query() {
  SQLite::Statement q(impl_->db, std::string("EXPLAIN QUERY PLAN ") + sql_history);
  q.bind(1, "c");
  q.bind(2, std::int64_t{0});
  q.bind(3, std::int64_t{0});
  q.bind(4, 1);
  std::string plan;
  while (q.executeStep()) {
    if (!plan.empty())
      plan += "; ";
    plan += q.getColumn(3).getString();
  }
  return plan;
}

// -- transactions --

void sqlite_store::begin() {
  // IMMEDIATE takes the write lock now: a busy database fails here, not at COMMIT.
  impl_->db.exec("BEGIN IMMEDIATE");
}

void sqlite_store::commit() {
  impl_->db.exec("COMMIT");
}

void sqlite_store::rollback() noexcept {
  // After some errors (disk full, I/O) SQLite has already rolled back by itself.
  if (sqlite3_get_autocommit(impl_->db.getHandle()) == 0)
    impl_->db.tryExec("ROLLBACK");
}

// -- conversation messages --

conversation_message sqlite_store::append_message(conversation_message msg) {
  if (auto why = invalid_message_reason(msg))
    throw rejected(rejected::reason::invalid, *why);
  if (msg.id.empty())
    msg.id = make_message_id();
  if (msg.created_at == 0)
    msg.created_at = now_ms();
  std::int64_t seq = 0;
  {
    use q(impl_->statement(sql_insert_message));
    q->bind(1, msg.id);
    q->bind(2, msg.conversation_id);
    q->bind(3, msg.sender_id);
    q->bind(4, msg.content);
    q->bind(5, msg.type);
    bind_optional(*q, 6, msg.file_url);
    bind_optional(*q, 7, msg.file_name);
    q->bind(8, static_cast<std::int64_t>(msg.created_at));
    bind_optional(*q, 9, msg.edited_at);
    q->bind(10, msg.deleted ? 1 : 0);
    if (msg.deleted)
      msg.deleted_at = msg.deleted_at.value_or(msg.created_at);
    else
      msg.deleted_at.reset();
    bind_optional(*q, 11, msg.deleted_at);
    if (q->exec() == 0)
      throw rejected(rejected::reason::duplicate, "duplicate message id " + msg.id);
    seq = impl_->db.getLastInsertRowid();
  }
  // Receipts that come with the message (an import, say): read implies delivered.
  for (const auto& user : msg.read_by)
    msg.delivered_to.push_back(user);
  for (auto* users : {&msg.delivered_to, &msg.read_by}) {
    std::sort(users->begin(), users->end());
    users->erase(std::unique(users->begin(), users->end()), users->end());
  }
  for (const auto& user : msg.delivered_to)
    impl_->insert_receipt(seq, receipt_delivered, user, msg.created_at);
  for (const auto& user : msg.read_by)
    impl_->insert_receipt(seq, receipt_read, user, msg.created_at);
  {
    use q(impl_->statement(sql_touch_user_conversation));
    q->bind(1, msg.sender_id);
    q->bind(2, msg.conversation_id);
    q->bind(3, static_cast<std::int64_t>(msg.created_at));
    q->exec();
  }
  return msg;
}

conversation_message sqlite_store::edit_message(const std::string& message_id, const std::string& content,
                                                const std::optional<std::string>& editor_id, timestamp_ms at) {
  auto [seq, msg] = impl_->existing(message_id);
  if (msg.deleted)
    throw rejected(rejected::reason::not_found, "message " + message_id + " was deleted");
  if (editor_id && *editor_id != msg.sender_id)
    throw rejected(rejected::reason::forbidden, "only the sender may edit message " + message_id);
  use q(impl_->statement(sql_edit_message));
  q->bind(1, seq);
  q->bind(2, content);
  q->bind(3, static_cast<std::int64_t>(at));
  q->exec();
  msg.content = content;
  msg.edited_at = at;
  return std::move(msg);
}

conversation_message sqlite_store::delete_message(const std::string& message_id,
                                                  const std::optional<std::string>& deleter_id, timestamp_ms at) {
  auto [seq, msg] = impl_->existing(message_id);
  if (deleter_id && *deleter_id != msg.sender_id)
    throw rejected(rejected::reason::forbidden, "only the sender may delete message " + message_id);
  if (msg.deleted)
    return std::move(msg);
  use q(impl_->statement(sql_delete_message));
  q->bind(1, seq);
  q->bind(2, static_cast<std::int64_t>(at));
  q->exec();
  msg.deleted = true;
  msg.deleted_at = at;
  return std::move(msg);
}

receipt sqlite_store::mark_delivered(const std::string& message_id, const std::string& user_id, timestamp_ms at) {
  return impl_->add_receipt(message_id, user_id, at, false);
}

receipt sqlite_store::mark_read(const std::string& message_id, const std::string& user_id, timestamp_ms at) {
  return impl_->add_receipt(message_id, user_id, at, true);
}

std::optional<conversation_message> sqlite_store::find_message(const std::string& message_id) {
  auto found = impl_->message_by(sql_message_by_id, message_id);
  if (!found)
    return std::nullopt;
  return std::move(found->second);
}

history_page sqlite_store::history(const history_query& q) {
  if (q.limit == 0 || q.limit > max_history_limit)
    throw rejected(rejected::reason::invalid, "limit must be 1.." + std::to_string(max_history_limit));
  constexpr auto newest = std::numeric_limits<std::int64_t>::max();
  std::int64_t before_time = newest;
  std::int64_t before_seq = newest;
  if (q.before_id) {
    use c(impl_->statement(sql_history_cursor));
    c->bind(1, *q.before_id);
    c->bind(2, q.conversation_id);
    if (!c->executeStep())
      throw rejected(rejected::reason::not_found, "no message " + *q.before_id + " in " + q.conversation_id);
    before_time = c->getColumn(0).getInt64();
    before_seq = c->getColumn(1).getInt64();
  } else if (q.before) {
    before_time = *q.before; // (created_at, seq) < (t, 0) means created_at < t
    before_seq = 0;
  }
  history_page page;
  std::vector<std::int64_t> seqs;
  {
    use s(impl_->statement(sql_history));
    s->bind(1, q.conversation_id);
    s->bind(2, before_time);
    s->bind(3, before_seq);
    s->bind(4, static_cast<std::int64_t>(q.limit) + 1);
    while (s->executeStep()) {
      if (page.messages.size() == q.limit) {
        page.has_more = true;
        break;
      }
      auto [seq, msg] = impl::read_message(*s);
      seqs.push_back(seq);
      page.messages.push_back(std::move(msg));
    }
  }
  for (std::size_t i = 0; i < seqs.size(); ++i)
    impl_->load_receipts(seqs[i], page.messages[i]);
  return page;
}

std::int64_t sqlite_store::count_messages(const std::string& conversation_id) {
  if (conversation_id.empty())
    return impl_->count(sql_count_all_messages);
  use q(impl_->statement(sql_count_messages));
  q->bind(1, conversation_id);
  q->executeStep();
  return q->getColumn(0).getInt64();
}

std::vector<active_conversation> sqlite_store::active_conversations(const std::string& user_id, std::uint32_t limit) {
  std::vector<active_conversation> result;
  use q(impl_->statement(sql_active_conversations));
  q->bind(1, user_id);
  q->bind(2, static_cast<std::int64_t>(limit));
  while (q->executeStep()) {
    active_conversation c;
    c.conversation_id = q->getColumn(0).getString();
    c.last_sent_at = q->getColumn(1).getInt64();
    c.last_message_at = q->getColumn(2).isNull() ? c.last_sent_at : q->getColumn(2).getInt64();
    result.push_back(std::move(c));
  }
  return result;
}

std::string sqlite_store::conversation_of(const std::string& message_id) {
  use q(impl_->statement(sql_conversation_of));
  q->bind(1, message_id);
  if (!q->executeStep())
    throw rejected(rejected::reason::not_found, "no message " + message_id);
  return q->getColumn(0).getString();
}

// -- participants --

bool sqlite_store::is_participant(const std::string& conversation_id, const std::string& user_id) {
  if (auto named = named_participants(conversation_id))
    return std::binary_search(named->begin(), named->end(), user_id);
  return impl_->exists(sql_is_participant, conversation_id, &user_id);
}

void sqlite_store::join_conversation(const std::string& conversation_id, const std::string& user_id, bool open_join,
                                     timestamp_ms at) {
  if (is_participant(conversation_id, user_id))
    return;
  if (!open_join || named_participants(conversation_id) || impl_->exists(sql_is_closed, conversation_id))
    throw rejected(rejected::reason::not_participant, user_id + " may not join " + conversation_id);
  impl_->add_participant(conversation_id, user_id, at);
}

participant_list sqlite_store::add_participants(const std::string& conversation_id,
                                                const std::vector<std::string>& user_ids, timestamp_ms at) {
  impl::refuse_named(conversation_id);
  if (user_ids.empty() || std::find(user_ids.begin(), user_ids.end(), std::string()) != user_ids.end())
    throw rejected(rejected::reason::invalid, "user ids must be given and not empty");
  impl_->close_conversation(conversation_id, at);
  for (const auto& user : user_ids)
    impl_->add_participant(conversation_id, user, at);
  return participants(conversation_id);
}

participant_list sqlite_store::remove_participant(const std::string& conversation_id, const std::string& user_id,
                                                  timestamp_ms at) {
  impl::refuse_named(conversation_id);
  {
    use q(impl_->statement(sql_remove_participant));
    q->bind(1, conversation_id);
    q->bind(2, user_id);
    if (q->exec() == 0)
      throw rejected(rejected::reason::not_found, user_id + " is not a participant of " + conversation_id);
  }
  // Else the removed user could join again at once.
  impl_->close_conversation(conversation_id, at);
  return participants(conversation_id);
}

participant_list sqlite_store::participants(const std::string& conversation_id) {
  if (auto named = named_participant_list(conversation_id))
    return std::move(*named);
  participant_list out;
  out.conversation_id = conversation_id;
  out.open = !impl_->exists(sql_is_closed, conversation_id);
  use q(impl_->statement(sql_participants));
  q->bind(1, conversation_id);
  while (q->executeStep())
    out.user_ids.push_back(q->getColumn(0).getString());
  return out;
}

// -- platform message log --

std::int64_t sqlite_store::append_platform_message(platform_message m) {
  if (m.created_at == 0)
    m.created_at = now_ms();
  use q(impl_->statement(sql_insert_platform_message));
  q->bind(1, m.socket_id);
  q->bind(2, m.sender);
  q->bind(3, m.text);
  q->bind(4, m.platform);
  q->bind(5, static_cast<std::int64_t>(m.created_at));
  q->exec();
  return impl_->db.getLastInsertRowid();
}

std::int64_t sqlite_store::count_platform_messages() {
  return impl_->count(sql_count_platform_messages);
}

// -- connections --

void sqlite_store::connection_opened(const std::string& socket_id, timestamp_ms at) {
  use q(impl_->statement(sql_connection_opened));
  q->bind(1, socket_id);
  q->bind(2, static_cast<std::int64_t>(at));
  q->exec();
}

void sqlite_store::connection_identified(const std::string& socket_id, const std::string& user_id,
                                         const std::string& platform, const std::string& app_version, timestamp_ms at) {
  use q(impl_->statement(sql_connection_identified));
  q->bind(1, socket_id);
  q->bind(2, user_id);
  q->bind(3, platform);
  q->bind(4, app_version);
  q->bind(5, static_cast<std::int64_t>(at));
  q->exec();
}

void sqlite_store::connection_closed(const std::string& socket_id, timestamp_ms at) {
  {
    use q(impl_->statement(sql_connection_closed));
    q->bind(1, socket_id);
    q->bind(2, static_cast<std::int64_t>(at));
    if (q->exec() > 0)
      return;
  }
  use q(impl_->statement(sql_connection_exists));
  q->bind(1, socket_id);
  if (!q->executeStep())
    throw rejected(rejected::reason::not_found, "no connection " + socket_id);
  // Already closed: closing again changes nothing.
}

std::int64_t sqlite_store::close_connections(const std::string& socket_id_prefix, timestamp_ms at) {
  use q(impl_->statement(sql_close_connections));
  q->bind(1, static_cast<std::int64_t>(at));
  q->bind(2, socket_id_prefix);
  return q->exec();
}

connection_totals sqlite_store::connection_stats() {
  connection_totals totals;
  use q(impl_->statement(sql_connection_stats));
  while (q->executeStep()) {
    platform_count c;
    c.platform = q->getColumn(0).getString();
    c.total = q->getColumn(1).getInt64();
    c.active = q->getColumn(2).getInt64();
    totals.total += c.total;
    totals.active += c.active;
    totals.by_platform.push_back(std::move(c));
  }
  return totals;
}

std::vector<connection_record> sqlite_store::active_connections(std::uint32_t limit) {
  std::vector<connection_record> result;
  use q(impl_->statement(sql_active_connections));
  q->bind(1, static_cast<std::int64_t>(limit));
  while (q->executeStep()) {
    connection_record r;
    r.socket_id = q->getColumn(0).getString();
    r.user_id = optional_text(q->getColumn(1));
    r.platform = optional_text(q->getColumn(2));
    r.app_version = optional_text(q->getColumn(3));
    r.connected_at = q->getColumn(4).getInt64();
    result.push_back(std::move(r));
  }
  return result;
}

// -- presence --

void sqlite_store::set_last_seen(const std::string& user_id, timestamp_ms at) {
  if (user_id.empty())
    throw rejected(rejected::reason::invalid, "missing user id");
  use q(impl_->statement(sql_set_last_seen));
  q->bind(1, user_id);
  q->bind(2, static_cast<std::int64_t>(at));
  q->exec();
}

std::optional<timestamp_ms> sqlite_store::last_seen(const std::string& user_id) {
  use q(impl_->statement(sql_last_seen));
  q->bind(1, user_id);
  if (!q->executeStep())
    return std::nullopt;
  return q->getColumn(0).getInt64();
}

// -- connection state recovery --

void sqlite_store::recovery_append(const recovery_packet& p) {
  use q(impl_->statement(sql_recovery_append));
  q->bind(1, p.nsp);
  q->bind(2, p.offset);
  auto rooms = encode_list(p.rooms);
  auto except = encode_list(p.except);
  auto attachments = encode_list(p.attachments);
  q->bind(3, rooms.data(), static_cast<int>(rooms.size()));
  q->bind(4, except.data(), static_cast<int>(except.size()));
  q->bind(5, p.text.data(), static_cast<int>(p.text.size()));
  q->bind(6, attachments.data(), static_cast<int>(attachments.size()));
  q->bind(7, static_cast<std::int64_t>(p.at));
  q->exec();
}

void sqlite_store::recovery_save(const recovery_record& r) {
  use q(impl_->statement(sql_recovery_save));
  auto rooms = encode_list(r.rooms);
  q->bind(1, r.pid);
  q->bind(2, r.nsp);
  q->bind(3, r.sid);
  q->bind(4, rooms.data(), static_cast<int>(rooms.size()));
  q->bind(5, r.data);
  q->bind(6, static_cast<std::int64_t>(r.updated_at));
  q->bind(7, static_cast<std::int64_t>(r.disconnected_at));
  q->bind(8, r.disconnected_at ? std::string() : r.node);
  q->exec();
}

void sqlite_store::recovery_forget(const std::string& pid) {
  use q(impl_->statement(sql_recovery_forget));
  q->bind(1, pid);
  q->exec();
}

std::int64_t sqlite_store::recovery_park_node(const std::string& node, timestamp_ms at) {
  use q(impl_->statement(node.empty() ? sql_recovery_park_all : sql_recovery_park_node));
  q->bind(1, static_cast<std::int64_t>(at));
  if (!node.empty())
    q->bind(2, node);
  return q->exec();
}

namespace {

std::string_view blob_of(const SQLite::Column& c) {
  return std::string_view(static_cast<const char*>(c.getBlob()), static_cast<std::size_t>(c.getBytes()));
}

} // namespace

recovery_take_result sqlite_store::recovery_take(const std::string& nsp, const std::string& pid,
                                                 const std::string& offset, timestamp_ms oldest,
                                                 std::size_t max_packets) {
  using outcome = recovery_take_result::outcome;
  recovery_take_result out;
  {
    use q(impl_->statement(sql_recovery_socket));
    q->bind(1, pid);
    q->bind(2, nsp);
    if (!q->executeStep())
      return out; // unknown
    auto& r = out.record;
    r.pid = pid;
    r.nsp = nsp;
    r.sid = q->getColumn(0).getString();
    r.rooms = decode_list(blob_of(q->getColumn(1)));
    r.data = q->getColumn(2).getString();
    r.updated_at = q->getColumn(3).getInt64();
    r.disconnected_at = q->getColumn(4).getInt64();
  }
  if (out.record.disconnected_at == 0) {
    out.result = outcome::connected;
    return out;
  }
  if (out.record.disconnected_at < oldest) {
    recovery_forget(pid);
    out.result = outcome::expired;
    return out;
  }
  std::int64_t after = 0;
  {
    use q(impl_->statement(sql_recovery_offset));
    q->bind(1, offset);
    q->bind(2, nsp);
    if (!q->executeStep()) {
      out.result = outcome::offset_unknown;
      return out;
    }
    after = q->getColumn(0).getInt64();
  }
  {
    use q(impl_->statement(sql_recovery_after));
    q->bind(1, nsp);
    q->bind(2, after);
    q->bind(3, static_cast<std::int64_t>(max_packets) + 1);
    while (q->executeStep()) {
      if (out.packets.size() == max_packets) {
        out.packets.clear();
        out.result = outcome::too_many;
        return out;
      }
      recovery_packet p;
      p.nsp = nsp;
      p.offset = q->getColumn(0).getString();
      p.rooms = decode_list(blob_of(q->getColumn(1)));
      p.except = decode_list(blob_of(q->getColumn(2)));
      p.text = std::string(blob_of(q->getColumn(3)));
      p.attachments = decode_list(blob_of(q->getColumn(4)));
      p.at = q->getColumn(5).getInt64();
      out.packets.push_back(std::move(p));
    }
  }
  recovery_forget(pid);
  out.result = outcome::taken;
  return out;
}

std::int64_t sqlite_store::recovery_purge(timestamp_ms packets_before, timestamp_ms parked_before,
                                          timestamp_ms connected_before, std::size_t max_packets) {
  std::int64_t removed = 0;
  {
    use q(impl_->statement(sql_recovery_purge_packets));
    q->bind(1, static_cast<std::int64_t>(packets_before));
    removed += q->exec();
  }
  {
    use q(impl_->statement(sql_recovery_purge_parked));
    q->bind(1, static_cast<std::int64_t>(parked_before));
    removed += q->exec();
  }
  {
    use q(impl_->statement(sql_recovery_purge_connected));
    q->bind(1, static_cast<std::int64_t>(connected_before));
    removed += q->exec();
  }
  {
    use q(impl_->statement(sql_recovery_trim_packets));
    q->bind(1, static_cast<std::int64_t>(max_packets));
    removed += q->exec();
  }
  return removed;
}

} // namespace chat::persistence
