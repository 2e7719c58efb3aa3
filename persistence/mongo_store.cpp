#include "persistence/mongo_store.hpp"

#include <mongoc/mongoc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <unordered_set>
#include <utility>

namespace chat::persistence {

namespace {

// -- BSON ----------------------------------------------------------------------------------
// Every string from a client goes in with its length (BCON_UTF8 would cut it at a NUL and
// so query another key than the one written); field names are always ours.

/// An owned bson_t* (std::unique_ptr<bson_t> would drop bson_t's alignment attribute).
class owned_bson {
public:
  explicit owned_bson(bson_t* b = nullptr) : b_(b) {}
  owned_bson(owned_bson&& other) noexcept : b_(std::exchange(other.b_, nullptr)) {}
  owned_bson& operator=(owned_bson&& other) noexcept {
    std::swap(b_, other.b_);
    return *this;
  }
  ~owned_bson() {
    if (b_)
      bson_destroy(b_);
  }
  bson_t* get() const { return b_; }

private:
  bson_t* b_;
};

/// A BSON document being built, owned.
class doc {
public:
  doc() : b_(bson_new()) {}
  bson_t* get() const { return b_.get(); }

  doc& str(const char* key, std::string_view v) {
    bson_append_utf8(get(), key, -1, v.data(), static_cast<int>(v.size()));
    return *this;
  }
  doc& i64(const char* key, std::int64_t v) {
    bson_append_int64(get(), key, -1, v);
    return *this;
  }
  doc& i32(const char* key, std::int32_t v) {
    bson_append_int32(get(), key, -1, v);
    return *this;
  }
  doc& date(const char* key, timestamp_ms v) {
    bson_append_date_time(get(), key, -1, v);
    return *this;
  }
  doc& boolean(const char* key, bool v) {
    bson_append_bool(get(), key, -1, v);
    return *this;
  }
  doc& null(const char* key) {
    bson_append_null(get(), key, -1);
    return *this;
  }
  doc& oid(const char* key, const bson_oid_t& v) {
    bson_append_oid(get(), key, -1, &v);
    return *this;
  }
  doc& sub(const char* key, const doc& d) {
    bson_append_document(get(), key, -1, d.get());
    return *this;
  }
  doc& binary(const char* key, std::string_view v) {
    bson_append_binary(get(), key, -1, BSON_SUBTYPE_BINARY, reinterpret_cast<const std::uint8_t*>(v.data()),
                       static_cast<std::uint32_t>(v.size()));
    return *this;
  }
  doc& binaries(const char* key, const std::vector<std::string>& values) {
    bson_t child;
    bson_append_array_begin(get(), key, -1, &child);
    for (std::size_t i = 0; i < values.size(); ++i) {
      auto index = std::to_string(i);
      bson_append_binary(&child, index.c_str(), -1, BSON_SUBTYPE_BINARY,
                         reinterpret_cast<const std::uint8_t*>(values[i].data()),
                         static_cast<std::uint32_t>(values[i].size()));
    }
    bson_append_array_end(get(), &child);
    return *this;
  }
  doc& strings(const char* key, const std::vector<std::string>& values) {
    bson_t child;
    bson_append_array_begin(get(), key, -1, &child);
    for (std::size_t i = 0; i < values.size(); ++i) {
      auto index = std::to_string(i);
      bson_append_utf8(&child, index.c_str(), -1, values[i].data(), static_cast<int>(values[i].size()));
    }
    bson_append_array_end(get(), &child);
    return *this;
  }
  doc& docs(const char* key, std::initializer_list<const doc*> values) {
    bson_t child;
    bson_append_array_begin(get(), key, -1, &child);
    std::size_t i = 0;
    for (auto* d : values) {
      auto index = std::to_string(i++);
      bson_append_document(&child, index.c_str(), -1, d->get());
    }
    bson_append_array_end(get(), &child);
    return *this;
  }

private:
  owned_bson b_;
};

/// A document read back (a copy: cursors reuse theirs).
using found_doc = owned_bson;

bool find_field(const bson_t* d, const char* key, bson_iter_t& it) {
  return bson_iter_init_find(&it, d, key);
}

std::optional<std::string> read_string(const bson_t* d, const char* key) {
  bson_iter_t it;
  if (!find_field(d, key, it) || !BSON_ITER_HOLDS_UTF8(&it))
    return std::nullopt;
  std::uint32_t len = 0;
  const char* s = bson_iter_utf8(&it, &len);
  return std::string(s, len);
}

/// A time: a BSON date, or a number of milliseconds (documents written by other tools).
std::optional<timestamp_ms> read_time(const bson_t* d, const char* key) {
  bson_iter_t it;
  if (!find_field(d, key, it))
    return std::nullopt;
  if (BSON_ITER_HOLDS_DATE_TIME(&it))
    return bson_iter_date_time(&it);
  if (BSON_ITER_HOLDS_INT64(&it) || BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_DOUBLE(&it))
    return bson_iter_as_int64(&it);
  return std::nullopt;
}

std::int64_t read_int(const bson_t* d, const char* key) {
  bson_iter_t it;
  if (!find_field(d, key, it) || !(BSON_ITER_HOLDS_INT64(&it) || BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_DOUBLE(&it)))
    return 0;
  return bson_iter_as_int64(&it);
}

bool read_bool(const bson_t* d, const char* key) {
  bson_iter_t it;
  return find_field(d, key, it) && bson_iter_as_bool(&it);
}

/// The strings of an array field, sorted and without repeats.
std::vector<std::string> read_strings(const bson_t* d, const char* key) {
  std::vector<std::string> out;
  bson_iter_t it, child;
  if (!find_field(d, key, it) || !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &child))
    return out;
  while (bson_iter_next(&child)) {
    if (!BSON_ITER_HOLDS_UTF8(&child))
      continue;
    std::uint32_t len = 0;
    const char* s = bson_iter_utf8(&child, &len);
    out.emplace_back(s, len);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

/// A binary field (or a string one) as bytes.
std::string read_bytes(const bson_t* d, const char* key) {
  bson_iter_t it;
  if (!find_field(d, key, it))
    return {};
  if (BSON_ITER_HOLDS_BINARY(&it)) {
    bson_subtype_t subtype;
    std::uint32_t len = 0;
    const std::uint8_t* data = nullptr;
    bson_iter_binary(&it, &subtype, &len, &data);
    return std::string(reinterpret_cast<const char*>(data), len);
  }
  return read_string(d, key).value_or("");
}

/// The items of an array field in their order (strings or binaries), for packets' lists.
std::vector<std::string> read_list(const bson_t* d, const char* key) {
  std::vector<std::string> out;
  bson_iter_t it, child;
  if (!find_field(d, key, it) || !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &child))
    return out;
  while (bson_iter_next(&child)) {
    if (BSON_ITER_HOLDS_UTF8(&child)) {
      std::uint32_t len = 0;
      const char* s = bson_iter_utf8(&child, &len);
      out.emplace_back(s, len);
    } else if (BSON_ITER_HOLDS_BINARY(&child)) {
      bson_subtype_t subtype;
      std::uint32_t len = 0;
      const std::uint8_t* data = nullptr;
      bson_iter_binary(&child, &subtype, &len, &data);
      out.emplace_back(reinterpret_cast<const char*>(data), len);
    }
  }
  return out;
}

[[noreturn]] void fail(const std::string& what, const bson_error_t& e) {
  throw std::runtime_error("MongoDB: " + what + ": " + e.message);
}

// -- message ids ---------------------------------------------------------------------------

/// Whether `id` is an ObjectId as this server writes one: 24 lower-case hex digits.
bool object_id_text(std::string_view id) {
  return id.size() == 24
         && std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

/// The filter that finds the message with this id (see the header: `_id` or `messageId`).
doc message_key(const std::string& id) {
  doc key;
  if (object_id_text(id)) {
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, id.c_str());
    key.oid("_id", oid);
  } else {
    key.str("messageId", id);
  }
  return key;
}

conversation_message read_message(const bson_t* d) {
  conversation_message m;
  if (auto external = read_string(d, "messageId")) {
    m.id = std::move(*external);
  } else {
    bson_iter_t it;
    if (find_field(d, "_id", it) && BSON_ITER_HOLDS_OID(&it)) {
      char hex[25];
      bson_oid_to_string(bson_iter_oid(&it), hex);
      m.id = hex;
    }
  }
  m.conversation_id = read_string(d, "conversationId").value_or("");
  m.sender_id = read_string(d, "senderId").value_or("");
  m.content = read_string(d, "content").value_or("");
  m.type = read_string(d, "type").value_or("text");
  m.file_url = read_string(d, "fileUrl");
  m.file_name = read_string(d, "fileName");
  m.created_at = read_time(d, "createdAt").value_or(0);
  m.edited_at = read_time(d, "editedAt");
  m.deleted = read_bool(d, "deleted");
  m.deleted_at = read_time(d, "deletedAt");
  m.delivered_to = read_strings(d, "deliveredTo");
  m.read_by = read_strings(d, "readBy");
  return m;
}

/// The smallest string greater than every string starting with `prefix`, or nothing when
/// there is none (a prefix of 0xff bytes only).
std::optional<std::string> prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last != 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::nullopt;
}

// -- collections ---------------------------------------------------------------------------

enum class coll : std::size_t {
  messages,
  conversations,
  user_conversations,
  platform_messages,
  connections,
  users,
  counters,
  recovery_packets,
  recovery_sockets
};
constexpr std::size_t collection_count = 9;
constexpr std::array<const char*, collection_count> collection_names = {
    "messages", "conversations",    "user_conversations", "platform_messages", "connections",
    "users",    "counters",         "recovery_packets",   "recovery_sockets"};

/// Platform log numbers a store takes from the shared counter at a time.
constexpr std::int64_t platform_seq_block = 100;

struct index_spec {
  coll where;
  const char* name;
  std::vector<std::pair<const char*, int>> keys;
  bool unique = false;
};

// What the queries below need. Unique ones are declared (MongoDB enforces them, a test
// server may not); the store itself checks by reading.
const std::vector<index_spec>& indexes() {
  static const std::vector<index_spec> all = {
      {coll::messages, "history", {{"conversationId", 1}, {"createdAt", -1}, {"_id", -1}}},
      {coll::messages, "message_id", {{"messageId", 1}}},
      {coll::conversations, "conversation_id", {{"conversationId", 1}}, true},
      {coll::user_conversations, "recent", {{"userId", 1}, {"lastSentAt", -1}}},
      {coll::user_conversations, "user_conversation", {{"userId", 1}, {"conversationId", 1}}, true},
      {coll::platform_messages, "seq", {{"seq", -1}}},
      {coll::platform_messages, "sender", {{"sender", 1}}},
      {coll::platform_messages, "platform", {{"platform", 1}}},
      {coll::platform_messages, "created", {{"createdAt", 1}}},
      {coll::connections, "socket_id", {{"socketId", 1}}, true},
      {coll::connections, "active", {{"disconnectedAt", 1}, {"connectedAt", 1}}},
      {coll::connections, "platform", {{"platform", 1}, {"disconnectedAt", 1}}},
      {coll::users, "user_id", {{"userId", 1}}, true},
      {coll::counters, "name", {{"name", 1}}, true},
      {coll::recovery_packets, "offset", {{"offset", 1}}, true},
      {coll::recovery_packets, "order", {{"nsp", 1}, {"at", 1}, {"_id", 1}}},
      {coll::recovery_packets, "age", {{"at", 1}, {"_id", 1}}}, // the purge's window and budget
      {coll::recovery_sockets, "pid", {{"pid", 1}}, true},
      {coll::recovery_sockets, "updated", {{"updatedAt", 1}}},
      {coll::recovery_sockets, "node", {{"disconnectedAt", 1}, {"node", 1}}},
  };
  return all;
}

// libmongoc logs to stderr by itself; its messages go to our log instead (warnings and
// worse: its debug and trace levels are for driver developers).
void forward_driver_log(mongoc_log_level_t level, const char* domain, const char* message, void*) {
  switch (level) {
  case MONGOC_LOG_LEVEL_ERROR:
  case MONGOC_LOG_LEVEL_CRITICAL:
    spdlog::error("mongoc {}: {}", domain, message);
    break;
  case MONGOC_LOG_LEVEL_WARNING:
    spdlog::warn("mongoc {}: {}", domain, message);
    break;
  default:
    break;
  }
}

void init_driver() {
  static std::once_flag once;
  std::call_once(once, [] {
    mongoc_log_set_handler(forward_driver_log, nullptr);
    mongoc_init();
  });
}

} // namespace

// -- impl --------------------------------------------------------------------------------------

struct mongo_store::impl {
  struct uri_deleter {
    void operator()(mongoc_uri_t* u) const { mongoc_uri_destroy(u); }
  };
  struct client_deleter {
    void operator()(mongoc_client_t* c) const { mongoc_client_destroy(c); }
  };
  struct collection_deleter {
    void operator()(mongoc_collection_t* c) const { mongoc_collection_destroy(c); }
  };
  struct bulk_deleter {
    void operator()(mongoc_bulk_operation_t* b) const { mongoc_bulk_operation_destroy(b); }
  };
  struct cursor_deleter {
    void operator()(mongoc_cursor_t* c) const { mongoc_cursor_destroy(c); }
  };

  // The writes of the open transaction for one collection, and the keys they touch.
  struct queued {
    std::unique_ptr<mongoc_bulk_operation_t, bulk_deleter> bulk;
    std::unordered_set<std::string> keys; ///< a write over many documents: "\n" + what
    bool many = false;                     ///< one of them is over many documents
  };

  std::unique_ptr<mongoc_uri_t, uri_deleter> uri;
  std::unique_ptr<mongoc_client_t, client_deleter> client;
  std::string db;
  std::array<std::unique_ptr<mongoc_collection_t, collection_deleter>, collection_count> collections;
  std::array<queued, collection_count> pending;
  bool in_transaction = false;
  // The platform log's numbers: blocks taken from the shared `counters` document, so the
  // stores of several nodes never hand out one twice (a rolled-back batch or a restart
  // leaves a gap, as SQLite's rowids may).
  std::int64_t platform_next = 1;
  std::int64_t platform_end = 0;
  std::atomic<std::uint64_t> bulks_sent{0};

  explicit impl(const mongo_options& o) {
    init_driver();
    if (auto why = mongo_store::check_uri(o.uri))
      throw std::runtime_error("MongoDB: " + *why);
    bson_error_t error;
    uri.reset(mongoc_uri_new_with_error(o.uri.c_str(), &error));
    if (!uri)
      fail("bad connection string", error);
    if (!mongoc_uri_has_option(uri.get(), MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
      mongoc_uri_set_option_as_int32(uri.get(), MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
    const char* name = mongoc_uri_get_database(uri.get());
    db = name && *name ? name : "chat";
    client.reset(mongoc_client_new_from_uri_with_error(uri.get(), &error));
    if (!client)
      fail("cannot make a client", error);
    mongoc_client_set_error_api(client.get(), MONGOC_ERROR_API_VERSION_2);
    mongoc_client_set_appname(client.get(), "chat-server");
    // An ack means durable: majority and journaled unless the URI says otherwise (its
    // wtimeoutMS kept).
    const mongoc_write_concern_t* given = mongoc_uri_get_write_concern(uri.get());
    if (mongoc_write_concern_get_w(given) == MONGOC_WRITE_CONCERN_W_DEFAULT
        && !mongoc_write_concern_journal_is_set(given)) {
      mongoc_write_concern_t* wc = mongoc_write_concern_copy(given);
      mongoc_write_concern_set_wmajority(wc, static_cast<int32_t>(mongoc_write_concern_get_wtimeout_int64(given)));
      mongoc_write_concern_set_journal(wc, true);
      mongoc_client_set_write_concern(client.get(), wc);
      mongoc_write_concern_destroy(wc);
    }
    doc ping;
    ping.i32("ping", 1);
    bson_t reply;
    bool ok = mongoc_client_command_simple(client.get(), "admin", ping.get(), nullptr, &reply, &error);
    bson_destroy(&reply);
    if (!ok)
      fail("the server does not answer", error);
    for (std::size_t i = 0; i < collection_count; ++i)
      collections[i].reset(mongoc_client_get_collection(client.get(), db.c_str(), collection_names[i]));
    create_indexes();
  }

  mongoc_collection_t* c(coll which) { return collections[static_cast<std::size_t>(which)].get(); }
  queued& queue_of(coll which) { return pending[static_cast<std::size_t>(which)]; }

  void create_indexes() {
    for (std::size_t i = 0; i < collection_count; ++i) {
      bson_t cmd, list;
      bson_init(&cmd);
      bson_append_utf8(&cmd, "createIndexes", -1, collection_names[i], -1);
      bson_append_array_begin(&cmd, "indexes", -1, &list);
      int n = 0;
      for (const auto& spec : indexes()) {
        if (static_cast<std::size_t>(spec.where) != i)
          continue;
        doc keys;
        for (const auto& [field, order] : spec.keys)
          keys.i32(field, order);
        doc index;
        index.sub("key", keys).str("name", spec.name);
        if (spec.unique)
          index.boolean("unique", true);
        auto slot = std::to_string(n++);
        bson_append_document(&list, slot.c_str(), -1, index.get());
      }
      bson_append_array_end(&cmd, &list);
      bson_t reply;
      bson_error_t error;
      bool ok = mongoc_collection_write_command_with_opts(c(static_cast<coll>(i)), &cmd, nullptr, &reply, &error);
      bson_destroy(&reply);
      bson_destroy(&cmd);
      if (!ok)
        fail(std::string("cannot create the indexes of ") + collection_names[i], error);
    }
  }

  /// The next platform log number (atomic across stores: $inc on the server).
  std::int64_t next_platform_seq() {
    if (platform_next > platform_end) {
      doc filter, step, update;
      filter.str("name", "platform_messages");
      step.i64("next", platform_seq_block);
      update.sub("$inc", step);
      auto* opts = mongoc_find_and_modify_opts_new();
      mongoc_find_and_modify_opts_set_update(opts, update.get());
      mongoc_find_and_modify_opts_set_flags(
          opts, static_cast<mongoc_find_and_modify_flags_t>(MONGOC_FIND_AND_MODIFY_UPSERT | MONGOC_FIND_AND_MODIFY_RETURN_NEW));
      bson_t reply;
      bson_error_t error;
      bool ok = mongoc_collection_find_and_modify_with_opts(c(coll::counters), filter.get(), opts, &reply, &error);
      mongoc_find_and_modify_opts_destroy(opts);
      std::int64_t end = 0;
      bson_iter_t it, value;
      if (ok && bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it)
          && bson_iter_recurse(&it, &value) && bson_iter_find(&value, "next"))
        end = bson_iter_as_int64(&value);
      bson_destroy(&reply);
      if (!ok)
        fail("cannot take platform log numbers", error);
      if (end < platform_seq_block)
        throw std::runtime_error("MongoDB: the platform log counter answered no number");
      platform_next = end - platform_seq_block + 1;
      platform_end = end;
    }
    return platform_next++;
  }

  // -- writes --

  mongoc_bulk_operation_t* bulk_for(coll which, const std::string& key) {
    auto& q = queue_of(which);
    if (!q.bulk) {
      doc opts;
      opts.boolean("ordered", true);
      q.bulk.reset(mongoc_collection_create_bulk_operation_with_opts(c(which), opts.get()));
    }
    q.keys.insert(key);
    q.many = q.many || (!key.empty() && key.front() == '\n');
    return q.bulk.get();
  }

  void queue_insert(coll which, const std::string& key, const doc& d) {
    bson_error_t error;
    if (!mongoc_bulk_operation_insert_with_opts(bulk_for(which, key), d.get(), nullptr, &error))
      fail("cannot queue an insert", error);
  }

  void queue_update(coll which, const std::string& key, const doc& filter, const doc& update, bool upsert,
                    bool many = false) {
    doc opts;
    if (upsert)
      opts.boolean("upsert", true);
    bson_error_t error;
    auto* bulk = bulk_for(which, key);
    bool ok = many ? mongoc_bulk_operation_update_many_with_opts(bulk, filter.get(), update.get(), opts.get(), &error)
                   : mongoc_bulk_operation_update_one_with_opts(bulk, filter.get(), update.get(), opts.get(), &error);
    if (!ok)
      fail("cannot queue an update", error);
  }

  void queue_delete(coll which, const std::string& key, const doc& filter, bool many = false) {
    bson_error_t error;
    auto* bulk = bulk_for(which, key);
    bool ok = many ? mongoc_bulk_operation_remove_many_with_opts(bulk, filter.get(), nullptr, &error)
                   : mongoc_bulk_operation_remove_one_with_opts(bulk, filter.get(), nullptr, &error);
    if (!ok)
      fail("cannot queue a delete", error);
  }

  /// Sends one collection's queued writes and waits for the write concern.
  void send(coll which) {
    auto& q = queue_of(which);
    if (!q.bulk)
      return;
    auto bulk = std::move(q.bulk);
    q.keys.clear();
    q.many = false;
    bson_t reply;
    bson_error_t error;
    auto ok = mongoc_bulk_operation_execute(bulk.get(), &reply, &error);
    bson_destroy(&reply);
    bulks_sent.fetch_add(1, std::memory_order_relaxed);
    if (ok == 0)
      fail(std::string("a bulk write to ") + collection_names[static_cast<std::size_t>(which)] + " failed", error);
  }

  void send_all() {
    for (std::size_t i = 0; i < collection_count; ++i)
      send(static_cast<coll>(i));
  }

  void discard_all() noexcept {
    for (auto& q : pending) {
      q.bulk.reset();
      q.keys.clear();
      q.many = false;
    }
  }

  /// After a write: outside a transaction it is sent at once.
  void written() {
    if (!in_transaction)
      send_all();
  }

  /// Before reading `key`: a queued write to it (or to many documents) is sent first, so
  /// the read sees it.
  void reading(coll which, const std::string& key) {
    auto& q = queue_of(which);
    if (q.many || q.keys.count(key) != 0)
      send(which);
  }

  /// Before a read over many keys of a collection.
  void reading_all(coll which) { send(which); }

  /// Deletes the one document `filter` finds now, outside the batch's bulk writes: true
  /// when this call deleted it (false: none matched, or another node deleted it first).
  bool delete_now(coll which, const doc& filter) {
    send(which);
    bson_t reply;
    bson_error_t error;
    bool ok = mongoc_collection_delete_one(c(which), filter.get(), nullptr, &reply, &error);
    std::int64_t deleted = 0;
    bson_iter_t it;
    if (ok && bson_iter_init_find(&it, &reply, "deletedCount"))
      deleted = bson_iter_as_int64(&it);
    bson_destroy(&reply);
    if (!ok)
      fail(std::string("a delete from ") + collection_names[static_cast<std::size_t>(which)] + " failed", error);
    return deleted == 1;
  }

  // -- reads --

  template <class F> void find(coll which, const doc& filter, const doc& opts, F&& each) {
    std::unique_ptr<mongoc_cursor_t, cursor_deleter> cursor(
        mongoc_collection_find_with_opts(c(which), filter.get(), opts.get(), nullptr));
    const bson_t* d = nullptr;
    while (mongoc_cursor_next(cursor.get(), &d))
      each(d);
    bson_error_t error;
    if (mongoc_cursor_error(cursor.get(), &error))
      fail(std::string("a query of ") + collection_names[static_cast<std::size_t>(which)] + " failed", error);
  }

  std::optional<found_doc> find_one(coll which, const doc& filter) {
    doc opts;
    opts.i64("limit", 1);
    std::optional<found_doc> out;
    find(which, filter, opts, [&](const bson_t* d) { out.emplace(bson_copy(d)); });
    return out;
  }

  std::int64_t count(coll which, const doc& filter) {
    bson_error_t error;
    auto n = mongoc_collection_count_documents(c(which), filter.get(), nullptr, nullptr, nullptr, &error);
    if (n < 0)
      fail(std::string("a count of ") + collection_names[static_cast<std::size_t>(which)] + " failed", error);
    return n;
  }

  template <class F> void aggregate(coll which, const doc& pipeline, F&& each) {
    std::unique_ptr<mongoc_cursor_t, cursor_deleter> cursor(
        mongoc_collection_aggregate(c(which), MONGOC_QUERY_NONE, pipeline.get(), nullptr, nullptr));
    const bson_t* d = nullptr;
    while (mongoc_cursor_next(cursor.get(), &d))
      each(d);
    bson_error_t error;
    if (mongoc_cursor_error(cursor.get(), &error))
      fail(std::string("an aggregation of ") + collection_names[static_cast<std::size_t>(which)] + " failed", error);
  }

  // -- messages --

  std::optional<conversation_message> load_message(const std::string& id) {
    reading(coll::messages, id);
    auto found = find_one(coll::messages, message_key(id));
    if (!found)
      return std::nullopt;
    return read_message(found->get());
  }

  conversation_message existing(const std::string& id) {
    auto m = load_message(id);
    if (!m)
      throw rejected(rejected::reason::not_found, "no message " + id);
    return std::move(*m);
  }

  /// The message and its `_id` (history cursors), or nothing.
  std::optional<std::pair<conversation_message, bson_oid_t>> load_with_oid(const std::string& id) {
    reading(coll::messages, id);
    auto found = find_one(coll::messages, message_key(id));
    bson_iter_t it;
    if (!found || !bson_iter_init_find(&it, found->get(), "_id") || !BSON_ITER_HOLDS_OID(&it))
      return std::nullopt;
    return std::make_pair(read_message(found->get()), *bson_iter_oid(&it));
  }

  receipt add_receipt(const std::string& message_id, const std::string& user_id, timestamp_ms at, bool read) {
    if (user_id.empty())
      throw rejected(rejected::reason::invalid, "missing user id");
    auto m = existing(message_id);
    doc users, update;
    users.str("deliveredTo", user_id);
    if (read)
      users.str("readBy", user_id);
    update.sub("$addToSet", users);
    queue_update(coll::messages, message_id, message_key(message_id), update, false);
    written();
    return receipt{message_id, std::move(m.conversation_id), user_id, at};
  }

  // -- conversations --

  struct conversation_state {
    bool closed = false;
    std::vector<std::string> participants; ///< sorted
  };

  static doc conversation_key(const std::string& conversation_id) {
    doc key;
    key.str("conversationId", conversation_id);
    return key;
  }

  conversation_state load_conversation(const std::string& conversation_id) {
    reading(coll::conversations, conversation_id);
    conversation_state out;
    if (auto found = find_one(coll::conversations, conversation_key(conversation_id))) {
      out.closed = read_bool(found->get(), "closed");
      out.participants = read_strings(found->get(), "participants");
    }
    return out;
  }

  /// Adds (`$addToSet`) or removes (`$pull`) participants: one atomic update of the
  /// conversation's document, so the stores of several nodes do not undo each other's.
  void change_participants(const std::string& conversation_id, const char* op, const std::vector<std::string>& users,
                           bool close) {
    doc values, change, update;
    if (users.size() == 1) {
      change.str("participants", users.front());
    } else {
      values.strings(std::string_view(op) == "$pull" ? "$in" : "$each", users);
      change.sub("participants", values);
    }
    update.sub(op, change);
    if (close) {
      doc closed;
      closed.boolean("closed", true);
      update.sub("$set", closed);
    }
    queue_update(coll::conversations, conversation_id, conversation_key(conversation_id), update, true);
  }

  // -- connections --

  static doc connection_key(const std::string& socket_id) {
    doc key;
    key.str("socketId", socket_id);
    return key;
  }

  static doc user_key(const std::string& user_id) {
    doc key;
    key.str("userId", user_id);
    return key;
  }

  /// Active connections whose socket id starts with `prefix` (every one when empty).
  static doc active_with_prefix(const std::string& prefix) {
    doc filter;
    if (!prefix.empty()) {
      doc range;
      range.str("$gte", prefix);
      if (auto end = prefix_end(prefix))
        range.str("$lt", *end);
      filter.sub("socketId", range);
    }
    filter.null("disconnectedAt");
    return filter;
  }

  // Connections per platform ("unknown" for none), over those `match` selects.
  std::map<std::string, std::int64_t> per_platform(const doc* match) {
    doc group, sum, stage_group, pipeline_body;
    sum.i32("$sum", 1);
    group.str("_id", "$platform").sub("n", sum);
    stage_group.sub("$group", group);
    doc pipeline;
    if (match) {
      doc stage_match;
      stage_match.sub("$match", *match);
      pipeline.docs("pipeline", {&stage_match, &stage_group});
    } else {
      pipeline.docs("pipeline", {&stage_group});
    }
    std::map<std::string, std::int64_t> out;
    aggregate(coll::connections, pipeline, [&](const bson_t* d) {
      out[read_string(d, "_id").value_or("unknown")] += read_int(d, "n");
    });
    return out;
  }
};

// -- mongo_store -------------------------------------------------------------------------------

mongo_store::mongo_store(mongo_options opts) : impl_(std::make_unique<impl>(opts)) {}

mongo_store::~mongo_store() {
  rollback();
}

bool mongo_store::is_uri(std::string_view value) {
  return value.rfind("mongodb://", 0) == 0 || value.rfind("mongodb+srv://", 0) == 0;
}

std::optional<std::string> mongo_store::check_uri(const std::string& value) {
  init_driver();
  bson_error_t error;
  std::unique_ptr<mongoc_uri_t, impl::uri_deleter> parsed(mongoc_uri_new_with_error(value.c_str(), &error));
  if (!parsed)
    return std::string("bad connection string: ") + error.message;
  // Unacknowledged writes would make every ack a guess.
  if (mongoc_write_concern_get_w(mongoc_uri_get_write_concern(parsed.get())) == 0)
    return std::string("w=0 is refused: an ack must mean the database has the write");
  return std::nullopt;
}

std::string mongo_store::database() const {
  return impl_->db;
}

std::uint64_t mongo_store::bulk_writes() const {
  return impl_->bulks_sent.load(std::memory_order_relaxed);
}

// -- transactions --

void mongo_store::begin() {
  impl_->discard_all();
  impl_->in_transaction = true;
}

void mongo_store::commit() {
  impl_->send_all();
  impl_->in_transaction = false;
}

void mongo_store::rollback() noexcept {
  impl_->discard_all();
  impl_->in_transaction = false;
}

// -- conversation messages --

conversation_message mongo_store::append_message(conversation_message msg) {
  if (auto why = invalid_message_reason(msg))
    throw rejected(rejected::reason::invalid, *why);
  if (msg.id.empty()) {
    msg.id = make_message_id(); // new by construction: no need to look it up
  } else if (impl_->load_message(msg.id)) {
    throw rejected(rejected::reason::duplicate, "duplicate message id " + msg.id);
  }
  if (msg.created_at == 0)
    msg.created_at = now_ms();
  if (msg.deleted)
    msg.deleted_at = msg.deleted_at.value_or(msg.created_at);
  else
    msg.deleted_at.reset();
  // Receipts that come with the message (an import, say): read implies delivered.
  for (const auto& user : msg.read_by)
    msg.delivered_to.push_back(user);
  for (auto* users : {&msg.delivered_to, &msg.read_by}) {
    std::sort(users->begin(), users->end());
    users->erase(std::unique(users->begin(), users->end()), users->end());
  }
  doc d;
  bson_oid_t oid;
  if (object_id_text(msg.id)) {
    bson_oid_init_from_string(&oid, msg.id.c_str());
    d.oid("_id", oid);
  } else {
    bson_oid_init(&oid, nullptr);
    d.oid("_id", oid).str("messageId", msg.id);
  }
  d.str("conversationId", msg.conversation_id).str("senderId", msg.sender_id).str("content", msg.content);
  d.str("type", msg.type);
  if (msg.file_url)
    d.str("fileUrl", *msg.file_url);
  if (msg.file_name)
    d.str("fileName", *msg.file_name);
  d.date("createdAt", msg.created_at);
  if (msg.edited_at)
    d.date("editedAt", *msg.edited_at);
  d.boolean("deleted", msg.deleted);
  if (msg.deleted_at)
    d.date("deletedAt", *msg.deleted_at);
  d.strings("deliveredTo", msg.delivered_to).strings("readBy", msg.read_by);
  impl_->queue_insert(coll::messages, msg.id, d);

  // The sender's active conversations and the conversation's latest message.
  doc sent_key, sent_at, sent_update;
  sent_key.str("userId", msg.sender_id).str("conversationId", msg.conversation_id);
  sent_at.date("lastSentAt", msg.created_at);
  sent_update.sub("$max", sent_at);
  impl_->queue_update(coll::user_conversations, msg.sender_id + '\n' + msg.conversation_id, sent_key, sent_update,
                      true);
  doc latest, latest_update;
  latest.date("lastMessageAt", msg.created_at);
  latest_update.sub("$max", latest);
  impl_->queue_update(coll::conversations, msg.conversation_id, impl::conversation_key(msg.conversation_id),
                      latest_update, true);
  impl_->written();
  return msg;
}

conversation_message mongo_store::edit_message(const std::string& message_id, const std::string& content,
                                               const std::optional<std::string>& editor_id, timestamp_ms at) {
  auto msg = impl_->existing(message_id);
  if (msg.deleted)
    throw rejected(rejected::reason::not_found, "message " + message_id + " was deleted");
  if (editor_id && *editor_id != msg.sender_id)
    throw rejected(rejected::reason::forbidden, "only the sender may edit message " + message_id);
  doc fields, update;
  fields.str("content", content).date("editedAt", at);
  update.sub("$set", fields);
  impl_->queue_update(coll::messages, message_id, message_key(message_id), update, false);
  impl_->written();
  msg.content = content;
  msg.edited_at = at;
  return msg;
}

conversation_message mongo_store::delete_message(const std::string& message_id,
                                                 const std::optional<std::string>& deleter_id, timestamp_ms at) {
  auto msg = impl_->existing(message_id);
  if (deleter_id && *deleter_id != msg.sender_id)
    throw rejected(rejected::reason::forbidden, "only the sender may delete message " + message_id);
  if (msg.deleted)
    return msg;
  doc fields, update;
  fields.boolean("deleted", true).date("deletedAt", at);
  update.sub("$set", fields);
  impl_->queue_update(coll::messages, message_id, message_key(message_id), update, false);
  impl_->written();
  msg.deleted = true;
  msg.deleted_at = at;
  return msg;
}

receipt mongo_store::mark_delivered(const std::string& message_id, const std::string& user_id, timestamp_ms at) {
  return impl_->add_receipt(message_id, user_id, at, false);
}

receipt mongo_store::mark_read(const std::string& message_id, const std::string& user_id, timestamp_ms at) {
  return impl_->add_receipt(message_id, user_id, at, true);
}

std::optional<conversation_message> mongo_store::find_message(const std::string& message_id) {
  return impl_->load_message(message_id);
}

history_page mongo_store::history(const history_query& q) {
  if (q.limit == 0 || q.limit > max_history_limit)
    throw rejected(rejected::reason::invalid, "limit must be 1.." + std::to_string(max_history_limit));
  impl_->reading_all(coll::messages);
  doc filter;
  filter.str("conversationId", q.conversation_id);
  if (q.before_id) {
    auto cursor = impl_->load_with_oid(*q.before_id);
    if (!cursor || cursor->first.conversation_id != q.conversation_id)
      throw rejected(rejected::reason::not_found, "no message " + *q.before_id + " in " + q.conversation_id);
    // (createdAt, _id) < (t, id): _id breaks ties within a millisecond (ObjectIds of one
    // process grow with each one made), a total order for stable pages.
    doc older_time, older, same_time_lower_id, lower_id;
    older_time.date("$lt", cursor->first.created_at);
    older.sub("createdAt", older_time);
    lower_id.oid("$lt", cursor->second);
    same_time_lower_id.date("createdAt", cursor->first.created_at).sub("_id", lower_id);
    filter.docs("$or", {&older, &same_time_lower_id});
  } else if (q.before) {
    doc older_time;
    older_time.date("$lt", *q.before);
    filter.sub("createdAt", older_time);
  }
  doc sort, opts;
  sort.i32("createdAt", -1).i32("_id", -1);
  opts.sub("sort", sort).i64("limit", static_cast<std::int64_t>(q.limit) + 1);
  history_page page;
  impl_->find(coll::messages, filter, opts, [&](const bson_t* d) {
    if (page.messages.size() == q.limit) {
      page.has_more = true;
      return;
    }
    page.messages.push_back(read_message(d));
  });
  return page;
}

std::int64_t mongo_store::count_messages(const std::string& conversation_id) {
  impl_->reading_all(coll::messages);
  doc filter;
  if (!conversation_id.empty())
    filter.str("conversationId", conversation_id);
  return impl_->count(coll::messages, filter);
}

std::vector<active_conversation> mongo_store::active_conversations(const std::string& user_id, std::uint32_t limit) {
  impl_->reading_all(coll::user_conversations);
  impl_->reading_all(coll::conversations);
  std::vector<active_conversation> result;
  if (limit == 0)
    return result;
  doc sort, opts;
  sort.i32("lastSentAt", -1).i32("conversationId", 1);
  opts.sub("sort", sort).i64("limit", limit);
  impl_->find(coll::user_conversations, impl::user_key(user_id), opts, [&](const bson_t* d) {
    active_conversation c;
    c.conversation_id = read_string(d, "conversationId").value_or("");
    c.last_sent_at = read_time(d, "lastSentAt").value_or(0);
    c.last_message_at = c.last_sent_at;
    result.push_back(std::move(c));
  });
  if (result.empty())
    return result;
  std::vector<std::string> ids;
  for (const auto& c : result)
    ids.push_back(c.conversation_id);
  doc in, filter;
  in.strings("$in", ids);
  filter.sub("conversationId", in);
  std::map<std::string, timestamp_ms> latest;
  impl_->find(coll::conversations, filter, doc(), [&](const bson_t* d) {
    if (auto at = read_time(d, "lastMessageAt"))
      latest[read_string(d, "conversationId").value_or("")] = *at;
  });
  for (auto& c : result)
    if (auto it = latest.find(c.conversation_id); it != latest.end())
      c.last_message_at = std::max(c.last_sent_at, it->second);
  return result;
}

std::string mongo_store::conversation_of(const std::string& message_id) {
  return impl_->existing(message_id).conversation_id;
}

// -- participants --

bool mongo_store::is_participant(const std::string& conversation_id, const std::string& user_id) {
  if (auto named = named_participants(conversation_id))
    return std::binary_search(named->begin(), named->end(), user_id);
  auto state = impl_->load_conversation(conversation_id);
  return std::binary_search(state.participants.begin(), state.participants.end(), user_id);
}

void mongo_store::join_conversation(const std::string& conversation_id, const std::string& user_id, bool open_join,
                                    timestamp_ms) {
  if (is_participant(conversation_id, user_id))
    return;
  if (!open_join || named_participants(conversation_id))
    throw rejected(rejected::reason::not_participant, user_id + " may not join " + conversation_id);
  auto state = impl_->load_conversation(conversation_id);
  if (state.closed)
    throw rejected(rejected::reason::not_participant, user_id + " may not join " + conversation_id);
  impl_->change_participants(conversation_id, "$addToSet", {user_id}, false);
  impl_->written();
}

participant_list mongo_store::add_participants(const std::string& conversation_id,
                                               const std::vector<std::string>& user_ids, timestamp_ms) {
  if (named_participants(conversation_id))
    throw rejected(rejected::reason::invalid, "the participants of " + conversation_id + " are named by its id");
  if (user_ids.empty() || std::find(user_ids.begin(), user_ids.end(), std::string()) != user_ids.end())
    throw rejected(rejected::reason::invalid, "user ids must be given and not empty");
  auto state = impl_->load_conversation(conversation_id);
  impl_->change_participants(conversation_id, "$addToSet", user_ids, true);
  impl_->written();
  auto& users = state.participants;
  users.insert(users.end(), user_ids.begin(), user_ids.end());
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  return participant_list{conversation_id, false, std::move(users)};
}

participant_list mongo_store::remove_participant(const std::string& conversation_id, const std::string& user_id,
                                                 timestamp_ms) {
  if (named_participants(conversation_id))
    throw rejected(rejected::reason::invalid, "the participants of " + conversation_id + " are named by its id");
  auto state = impl_->load_conversation(conversation_id);
  auto& users = state.participants;
  auto it = std::lower_bound(users.begin(), users.end(), user_id);
  if (it == users.end() || *it != user_id)
    throw rejected(rejected::reason::not_found, user_id + " is not a participant of " + conversation_id);
  users.erase(it);
  // Closed: else the removed user could join again at once.
  impl_->change_participants(conversation_id, "$pull", {user_id}, true);
  impl_->written();
  return participant_list{conversation_id, false, std::move(users)};
}

participant_list mongo_store::participants(const std::string& conversation_id) {
  if (auto named = named_participant_list(conversation_id))
    return std::move(*named);
  participant_list out;
  out.conversation_id = conversation_id;
  auto state = impl_->load_conversation(conversation_id);
  out.open = !state.closed;
  out.user_ids = std::move(state.participants);
  return out;
}

// -- platform message log --

std::int64_t mongo_store::append_platform_message(platform_message m) {
  if (m.created_at == 0)
    m.created_at = now_ms();
  auto seq = impl_->next_platform_seq();
  doc d;
  d.i64("seq", seq).str("socketId", m.socket_id).str("sender", m.sender).str("text", m.text);
  d.str("platform", m.platform).date("createdAt", m.created_at);
  impl_->queue_insert(coll::platform_messages, std::to_string(seq), d);
  impl_->written();
  return seq;
}

std::int64_t mongo_store::count_platform_messages() {
  impl_->reading_all(coll::platform_messages);
  return impl_->count(coll::platform_messages, doc());
}

// -- connections --

void mongo_store::connection_opened(const std::string& socket_id, timestamp_ms at) {
  // The earliest time wins (as SQLite's MIN), and a new record is active.
  doc earliest, fresh, update;
  earliest.date("connectedAt", at);
  fresh.null("disconnectedAt");
  update.sub("$min", earliest).sub("$setOnInsert", fresh);
  impl_->queue_update(coll::connections, socket_id, impl::connection_key(socket_id), update, true);
  impl_->written();
}

void mongo_store::connection_identified(const std::string& socket_id, const std::string& user_id,
                                        const std::string& platform, const std::string& app_version, timestamp_ms at) {
  doc who, fresh, update;
  who.str("userId", user_id).str("platform", platform).str("appVersion", app_version);
  fresh.date("connectedAt", at).null("disconnectedAt");
  update.sub("$set", who).sub("$setOnInsert", fresh);
  impl_->queue_update(coll::connections, socket_id, impl::connection_key(socket_id), update, true);
  impl_->written();
}

void mongo_store::connection_closed(const std::string& socket_id, timestamp_ms at) {
  // A record queued in this batch exists (opened and identified are upserts); any other
  // is looked up, without sending the batch's other writes.
  if (impl_->queue_of(coll::connections).keys.count(socket_id) == 0
      && !impl_->find_one(coll::connections, impl::connection_key(socket_id)))
    throw rejected(rejected::reason::not_found, "no connection " + socket_id);
  // Already closed: closing again changes nothing.
  doc filter, fields, update;
  filter.str("socketId", socket_id).null("disconnectedAt");
  fields.date("disconnectedAt", at);
  update.sub("$set", fields);
  impl_->queue_update(coll::connections, socket_id, filter, update, false);
  impl_->written();
}

std::int64_t mongo_store::close_connections(const std::string& socket_id_prefix, timestamp_ms at) {
  impl_->reading_all(coll::connections);
  auto filter = impl::active_with_prefix(socket_id_prefix);
  auto closing = impl_->count(coll::connections, filter);
  if (closing == 0)
    return 0;
  doc fields, update;
  fields.date("disconnectedAt", at);
  update.sub("$set", fields);
  impl_->queue_update(coll::connections, "\n" + socket_id_prefix, filter, update, false, true);
  impl_->written();
  return closing;
}

connection_totals mongo_store::connection_stats() {
  impl_->reading_all(coll::connections);
  auto all = impl_->per_platform(nullptr);
  auto active_filter = impl::active_with_prefix("");
  auto active = impl_->per_platform(&active_filter);
  connection_totals totals;
  for (const auto& [platform, total] : all) {
    platform_count c;
    c.platform = platform;
    c.total = total;
    if (auto it = active.find(platform); it != active.end())
      c.active = it->second;
    totals.total += c.total;
    totals.active += c.active;
    totals.by_platform.push_back(std::move(c));
  }
  return totals;
}

std::vector<connection_record> mongo_store::active_connections(std::uint32_t limit) {
  impl_->reading_all(coll::connections);
  std::vector<connection_record> result;
  if (limit == 0)
    return result;
  doc sort, opts;
  sort.i32("connectedAt", 1).i32("socketId", 1);
  opts.sub("sort", sort).i64("limit", limit);
  impl_->find(coll::connections, impl::active_with_prefix(""), opts, [&](const bson_t* d) {
    connection_record r;
    r.socket_id = read_string(d, "socketId").value_or("");
    r.user_id = read_string(d, "userId");
    r.platform = read_string(d, "platform");
    r.app_version = read_string(d, "appVersion");
    r.connected_at = read_time(d, "connectedAt").value_or(0);
    result.push_back(std::move(r));
  });
  return result;
}

// -- presence --

void mongo_store::set_last_seen(const std::string& user_id, timestamp_ms at) {
  if (user_id.empty())
    throw rejected(rejected::reason::invalid, "missing user id");
  doc latest, update;
  latest.date("lastSeen", at);
  update.sub("$max", latest);
  impl_->queue_update(coll::users, user_id, impl::user_key(user_id), update, true);
  impl_->written();
}

std::optional<timestamp_ms> mongo_store::last_seen(const std::string& user_id) {
  impl_->reading(coll::users, user_id);
  auto found = impl_->find_one(coll::users, impl::user_key(user_id));
  if (!found)
    return std::nullopt;
  return read_time(found->get(), "lastSeen");
}

// -- connection state recovery --
// recovery_packets {nsp, offset, rooms, except, text (binary), attachments [binary], at}:
// kept in (at, _id) order; every node that delivered a packet logs it, so it is an upsert
// by offset. recovery_sockets {pid, nsp, sid, rooms, data, updatedAt, disconnectedAt (the
// epoch while connected), node (a connected socket's node)}.

namespace {

doc pid_key(const std::string& pid) {
  doc key;
  key.str("pid", pid);
  return key;
}

/// (at, _id) after (t, id): the packets kept after one.
doc packets_after(const std::string& nsp, timestamp_ms t, const bson_oid_t& id) {
  doc later, later_time, same_time, greater_id, filter;
  later_time.date("$gt", t);
  later.sub("at", later_time);
  greater_id.oid("$gt", id);
  same_time.date("at", t).sub("_id", greater_id);
  filter.str("nsp", nsp).docs("$or", {&later, &same_time});
  return filter;
}

} // namespace

void mongo_store::recovery_append(const recovery_packet& p) {
  doc fields, update, key;
  // `offset` comes from the filter: an update that writes the filter's fields is not retried
  // by MongoDB on a duplicate key when two nodes insert one offset at once.
  fields.str("nsp", p.nsp).strings("rooms", p.rooms).strings("except", p.except);
  fields.binary("text", p.text).binaries("attachments", p.attachments).date("at", p.at);
  // Every node that delivered the packet logs it: the first copy is kept.
  update.sub("$setOnInsert", fields);
  key.str("offset", p.offset);
  impl_->queue_update(coll::recovery_packets, p.offset, key, update, true);
  impl_->written();
}

void mongo_store::recovery_save(const recovery_record& r) {
  doc fields, update;
  fields.str("nsp", r.nsp).str("sid", r.sid).strings("rooms", r.rooms).str("data", r.data);
  fields.date("updatedAt", r.updated_at).date("disconnectedAt", r.disconnected_at);
  fields.str("node", r.disconnected_at ? std::string() : r.node);
  update.sub("$set", fields);
  impl_->queue_update(coll::recovery_sockets, r.pid, pid_key(r.pid), update, true);
  impl_->written();
}

void mongo_store::recovery_forget(const std::string& pid) {
  impl_->queue_delete(coll::recovery_sockets, pid, pid_key(pid));
  impl_->written();
}

std::int64_t mongo_store::recovery_park_node(const std::string& node, timestamp_ms at) {
  impl_->reading_all(coll::recovery_sockets);
  doc filter, fields, update;
  filter.date("disconnectedAt", 0);
  if (!node.empty())
    filter.str("node", node);
  auto parking = impl_->count(coll::recovery_sockets, filter);
  if (parking == 0)
    return 0;
  fields.date("disconnectedAt", at);
  update.sub("$set", fields);
  impl_->queue_update(coll::recovery_sockets, "\n" + node, filter, update, false, true);
  impl_->written();
  return parking;
}

recovery_take_result mongo_store::recovery_take(const std::string& nsp, const std::string& pid,
                                                const std::string& offset, timestamp_ms oldest,
                                                std::size_t max_packets) {
  using outcome = recovery_take_result::outcome;
  recovery_take_result out;
  impl_->reading(coll::recovery_sockets, pid);
  auto key = pid_key(pid);
  key.str("nsp", nsp);
  auto found = impl_->find_one(coll::recovery_sockets, key);
  if (!found)
    return out; // unknown
  auto& r = out.record;
  r.pid = pid;
  r.nsp = nsp;
  r.sid = read_string(found->get(), "sid").value_or("");
  r.rooms = read_list(found->get(), "rooms");
  r.data = read_string(found->get(), "data").value_or("{}");
  r.updated_at = read_time(found->get(), "updatedAt").value_or(0);
  r.disconnected_at = read_time(found->get(), "disconnectedAt").value_or(0);
  if (r.disconnected_at == 0) {
    out.result = outcome::connected;
    return out;
  }
  if (r.disconnected_at < oldest) {
    recovery_forget(pid);
    out.result = outcome::expired;
    return out;
  }
  impl_->reading_all(coll::recovery_packets);
  doc at_offset;
  at_offset.str("offset", offset).str("nsp", nsp);
  auto cursor = impl_->find_one(coll::recovery_packets, at_offset);
  bson_iter_t it;
  if (!cursor || !bson_iter_init_find(&it, cursor->get(), "_id") || !BSON_ITER_HOLDS_OID(&it)) {
    out.result = outcome::offset_unknown;
    return out;
  }
  bson_oid_t id = *bson_iter_oid(&it);
  doc sort, opts;
  sort.i32("at", 1).i32("_id", 1);
  opts.sub("sort", sort).i64("limit", static_cast<std::int64_t>(max_packets) + 1);
  bool over = false;
  impl_->find(coll::recovery_packets, packets_after(nsp, read_time(cursor->get(), "at").value_or(0), id), opts,
              [&](const bson_t* d) {
                if (out.packets.size() == max_packets) {
                  over = true;
                  return;
                }
                recovery_packet p;
                p.nsp = nsp;
                p.offset = read_string(d, "offset").value_or("");
                p.rooms = read_list(d, "rooms");
                p.except = read_list(d, "except");
                p.text = read_bytes(d, "text");
                p.attachments = read_list(d, "attachments");
                p.at = read_time(d, "at").value_or(0);
                out.packets.push_back(std::move(p));
              });
  if (over) {
    out.packets.clear();
    out.result = outcome::too_many;
    return out;
  }
  // One use across nodes: the record as read is deleted here and now, and only the node
  // whose delete took it restores the socket (two nodes may read it at once).
  // (The batch may still fail after this: then the record is gone and the client starts
  // afresh, as after any failed claim.)
  doc as_read, parked;
  bson_iter_t record_id;
  if (!bson_iter_init_find(&record_id, found->get(), "_id") || !BSON_ITER_HOLDS_OID(&record_id)) {
    out.packets.clear();
    out.result = outcome::unknown;
    return out;
  }
  parked.date("$gt", 0);
  as_read.oid("_id", *bson_iter_oid(&record_id)).sub("disconnectedAt", parked);
  if (!impl_->delete_now(coll::recovery_sockets, as_read)) {
    out.packets.clear();
    out.result = outcome::unknown;
    return out;
  }
  out.result = outcome::taken;
  return out;
}

std::int64_t mongo_store::recovery_purge(timestamp_ms packets_before, timestamp_ms parked_before,
                                         timestamp_ms connected_before, std::size_t max_packets) {
  impl_->reading_all(coll::recovery_packets);
  impl_->reading_all(coll::recovery_sockets);
  doc old_packets, before_packets;
  before_packets.date("$lt", packets_before);
  old_packets.sub("at", before_packets);
  auto removed = impl_->count(coll::recovery_packets, old_packets);
  if (removed > 0)
    impl_->queue_delete(coll::recovery_packets, "\n", old_packets, true);
  // Parked before parked_before (disconnectedAt in (epoch, parked_before)), or connected
  // (the epoch) and last written before connected_before.
  doc parked, parked_range, connected, updated_before, old_records;
  parked_range.date("$gt", 0).date("$lt", parked_before);
  parked.sub("disconnectedAt", parked_range);
  updated_before.date("$lt", connected_before);
  connected.date("disconnectedAt", 0).sub("updatedAt", updated_before);
  old_records.docs("$or", {&parked, &connected});
  auto gone = impl_->count(coll::recovery_sockets, old_records);
  if (gone > 0)
    impl_->queue_delete(coll::recovery_sockets, "\n", old_records, true);
  // The packet budget: past it, everything up to the newest packet that does not fit.
  impl_->reading_all(coll::recovery_packets);
  doc sort, opts;
  sort.i32("at", -1).i32("_id", -1);
  opts.sub("sort", sort).i64("skip", static_cast<std::int64_t>(max_packets)).i64("limit", 1);
  std::optional<std::pair<timestamp_ms, bson_oid_t>> boundary;
  impl_->find(coll::recovery_packets, doc(), opts, [&](const bson_t* d) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, d, "_id") && BSON_ITER_HOLDS_OID(&it))
      boundary = std::make_pair(read_time(d, "at").value_or(0), *bson_iter_oid(&it));
  });
  if (boundary) {
    doc older, older_time, same_time, upto_id, filter;
    older_time.date("$lt", boundary->first);
    older.sub("at", older_time);
    upto_id.oid("$lte", boundary->second);
    same_time.date("at", boundary->first).sub("_id", upto_id);
    filter.docs("$or", {&older, &same_time});
    removed += impl_->count(coll::recovery_packets, filter);
    impl_->queue_delete(coll::recovery_packets, "\n", filter, true);
  }
  impl_->written();
  return removed + gone;
}

} // namespace chat::persistence
