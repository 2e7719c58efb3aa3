// The store: what the server keeps across restarts (APP_PROTOCOL.md sections 1, 2, 5, 6),
// as plain structs and one abstract interface. No CAF in here: the persistence actor
// (actors/persistence_actor.hpp) owns a store and adds the message plumbing.
//
// Transactions: every write belongs to the transaction opened by begin() and becomes
// durable with commit(). A write that is refused (unknown message, duplicate id, ...)
// throws `rejected` before it changed anything, and the transaction stays usable; any
// other exception means the storage failed and the caller must rollback().
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace chat::persistence {

/// Milliseconds since the Unix epoch (UTC).
using timestamp_ms = std::int64_t;

/// The current time in milliseconds since the epoch.
timestamp_ms now_ms();

/// A new message id: 24 hex digits like a MongoDB ObjectId (seconds, 5 random bytes per
/// process, a counter), so ids from several nodes do not collide and sort roughly by time.
std::string make_message_id();

// -- conversations (section 2) -----------------------------------------------------------

/// One message of a conversation, as stored and as `receiveMessage` carries it.
struct conversation_message {
  std::string id; ///< unique; the store makes one when empty
  std::string conversation_id;
  std::string sender_id;
  std::string content;
  std::string type = "text"; ///< "text", "file" or "image"
  std::optional<std::string> file_url;
  std::optional<std::string> file_name;
  timestamp_ms created_at = 0; ///< the store uses now_ms() when 0
  std::optional<timestamp_ms> edited_at;
  bool deleted = false; ///< soft delete: the row and its content stay, flagged
  std::optional<timestamp_ms> deleted_at;
  std::vector<std::string> delivered_to; ///< user ids, sorted
  std::vector<std::string> read_by;      ///< user ids, sorted
};

/// Whether `type` is one of "text", "file", "image".
bool valid_message_type(std::string_view type);

/// Why `msg` cannot be stored (missing conversation or sender, unknown type), or nullopt.
std::optional<std::string> invalid_message_reason(const conversation_message& msg);

/// A page of a conversation's history, newest first. Messages strictly older than the
/// cursor: `before_id` (a message of that conversation) or else `before` (a time); with
/// neither, the page starts at the newest message.
struct history_query {
  std::string conversation_id;
  std::optional<std::string> before_id;
  std::optional<timestamp_ms> before;
  std::uint32_t limit = 50; ///< 1..max_history_limit
};

inline constexpr std::uint32_t max_history_limit = 500;

struct history_page {
  std::vector<conversation_message> messages; ///< newest first
  bool has_more = false;                      ///< older messages exist past the last one
};

/// A receipt's effect: which conversation the message belongs to (where to broadcast).
struct receipt {
  std::string message_id;
  std::string conversation_id;
  std::string user_id;
  timestamp_ms at = 0;
};

/// A conversation a user sent messages in (section 6, "active chats").
struct active_conversation {
  std::string conversation_id;
  timestamp_ms last_sent_at = 0;    ///< the user's latest message there
  timestamp_ms last_message_at = 0; ///< the conversation's latest message, from anyone
};

// -- participants (docs/chat-protocol.md, "Authorization") -------------------------------

/// The users a conversation's id names as its only participants: `private-user.{u}` names
/// u, `private-chat.{a-b}` the `-` or `_` separated ids in it; nothing for any other id,
/// whose participants are stored.
std::optional<std::vector<std::string>> named_participants(std::string_view conversation_id);

/// Who takes part in a conversation. An open conversation (the backend never added
/// anyone) takes in whoever joins it; a closed one only those added.
struct participant_list {
  std::string conversation_id;
  bool open = true;
  std::vector<std::string> user_ids; ///< sorted
};

/// The participant list of a conversation that names its users (closed, those users), or
/// nothing for any other: what every backend answers first in participants().
std::optional<participant_list> named_participant_list(const std::string& conversation_id);

// -- platform events (section 1) -----------------------------------------------------------

/// One `send-message` of the platform protocol, logged.
struct platform_message {
  std::string socket_id;
  std::string sender;
  std::string text;
  std::string platform;
  timestamp_ms created_at = 0; ///< the store uses now_ms() when 0
};

/// One Socket.IO connection as tracked: opened, maybe identified, maybe closed.
struct connection_record {
  std::string socket_id;
  std::optional<std::string> user_id;
  std::optional<std::string> platform;
  std::optional<std::string> app_version;
  timestamp_ms connected_at = 0;
  std::optional<timestamp_ms> disconnected_at; ///< nullopt while active
};

struct platform_count {
  std::string platform; ///< "unknown" for connections that never identified
  std::int64_t total = 0;
  std::int64_t active = 0;
};

struct connection_totals {
  std::int64_t total = 0;                  ///< every connection ever recorded
  std::int64_t active = 0;                 ///< not disconnected
  std::vector<platform_count> by_platform; ///< sorted by platform name
};

// -- connection state recovery (actors/recovery.hpp) ----------------------------------------

/// A packet that went out with a recovery offset (the offset is its last argument).
struct recovery_packet {
  std::string nsp;
  std::string offset;
  std::vector<std::string> rooms;  ///< empty: the whole namespace
  std::vector<std::string> except;
  std::string text;                ///< the Engine.IO message ("4" + Socket.IO text)
  std::vector<std::string> attachments;
  timestamp_ms at = 0;
};

/// A socket that may come back: parked (disconnected_at set), or still connected
/// (disconnected_at 0) on `node` until that node is gone (recovery_park_node).
struct recovery_record {
  std::string pid;
  std::string nsp;
  std::string sid;
  std::vector<std::string> rooms;
  std::string data; ///< serialized JSON
  timestamp_ms updated_at = 0;
  timestamp_ms disconnected_at = 0;
  std::string node{}; ///< a connected socket's node (its id prefix)
};

struct recovery_take_result {
  enum class outcome { taken, unknown, connected, expired, offset_unknown, too_many };
  outcome result = outcome::unknown;
  recovery_record record;
  std::vector<recovery_packet> packets; ///< sent after the offset, oldest first
};

/// Encodes a list of strings (rooms, attachments) as one blob, and back: for stores
/// without arrays. decode_list throws std::runtime_error on a malformed blob.
std::string encode_list(const std::vector<std::string>& items);
std::vector<std::string> decode_list(std::string_view blob);

// -- errors ------------------------------------------------------------------------------

/// A write refused before it changed anything; the transaction stays usable.
class rejected : public std::runtime_error {
public:
  enum class reason { not_found, duplicate, forbidden, invalid, not_participant };
  rejected(reason why, const std::string& what) : std::runtime_error(what), why_(why) {}
  reason why() const { return why_; }

private:
  reason why_;
};

// -- the store ---------------------------------------------------------------------------

class store {
public:
  virtual ~store() = default;

  // -- transactions --
  /// Opens the transaction that the following writes belong to.
  virtual void begin() = 0;
  /// Makes every write since begin() durable, all or nothing.
  virtual void commit() = 0;
  /// Discards the open transaction, if any. Never throws.
  virtual void rollback() noexcept = 0;

  // -- conversation messages: writes --
  /// Stores `msg` (id and created_at filled in when empty) and returns it as stored.
  /// rejected: duplicate id, invalid message.
  virtual conversation_message append_message(conversation_message msg) = 0;
  /// Replaces the content and sets edited_at. `editor_id`, when given, must be the
  /// sender. rejected: not_found (also for a deleted message), forbidden.
  virtual conversation_message edit_message(const std::string& message_id, const std::string& content,
                                            const std::optional<std::string>& editor_id, timestamp_ms at) = 0;
  /// Soft delete (idempotent). `deleter_id`, when given, must be the sender.
  /// rejected: not_found, forbidden.
  virtual conversation_message delete_message(const std::string& message_id,
                                              const std::optional<std::string>& deleter_id, timestamp_ms at) = 0;
  /// Adds `user_id` to delivered_to (idempotent). rejected: not_found.
  virtual receipt mark_delivered(const std::string& message_id, const std::string& user_id, timestamp_ms at) = 0;
  /// Adds `user_id` to read_by, and to delivered_to (a read message was delivered).
  /// rejected: not_found.
  virtual receipt mark_read(const std::string& message_id, const std::string& user_id, timestamp_ms at) = 0;

  // -- conversation messages: reads --
  virtual std::optional<conversation_message> find_message(const std::string& message_id) = 0;
  /// rejected: not_found when before_id is not a message of the conversation; invalid limit.
  virtual history_page history(const history_query& q) = 0;
  /// Messages of a conversation (soft-deleted ones included); all messages when empty.
  virtual std::int64_t count_messages(const std::string& conversation_id) = 0;
  /// The conversations `user_id` sent messages in, most recent first.
  virtual std::vector<active_conversation> active_conversations(const std::string& user_id, std::uint32_t limit) = 0;

  /// The conversation a message belongs to. rejected: not_found.
  virtual std::string conversation_of(const std::string& message_id) = 0;

  // -- participants --
  /// Whether `user_id` takes part in the conversation: named by its id, or stored.
  virtual bool is_participant(const std::string& conversation_id, const std::string& user_id) = 0;
  /// `user_id` joins: nothing changes for a participant; anyone else becomes one when the
  /// conversation is open and `open_join` allows joining open conversations.
  /// rejected: not_participant otherwise (always for a conversation that names its users).
  virtual void join_conversation(const std::string& conversation_id, const std::string& user_id, bool open_join,
                                 timestamp_ms at) = 0;
  /// The backend adds participants; the conversation is closed from then on.
  /// rejected: invalid (no user ids, an empty one, a conversation that names its users).
  virtual participant_list add_participants(const std::string& conversation_id,
                                            const std::vector<std::string>& user_ids, timestamp_ms at) = 0;
  /// The backend removes a participant; the conversation is closed from then on.
  /// rejected: not_found (not a participant), invalid (a conversation that names its users).
  virtual participant_list remove_participant(const std::string& conversation_id, const std::string& user_id,
                                              timestamp_ms at) = 0;
  virtual participant_list participants(const std::string& conversation_id) = 0;

  // -- platform message log --
  /// Returns the log entry's sequence number.
  virtual std::int64_t append_platform_message(platform_message m) = 0;
  virtual std::int64_t count_platform_messages() = 0;

  // -- connection tracking --
  virtual void connection_opened(const std::string& socket_id, timestamp_ms at) = 0;
  /// Records who the connection is; creates the record when the connect was not seen.
  virtual void connection_identified(const std::string& socket_id, const std::string& user_id,
                                     const std::string& platform, const std::string& app_version, timestamp_ms at) = 0;
  /// rejected: not_found.
  virtual void connection_closed(const std::string& socket_id, timestamp_ms at) = 0;
  /// Marks closed every active connection whose socket id starts with `socket_id_prefix`,
  /// every one when it is empty; returns how many. At start-up, for connections a crash
  /// left open; in a cluster, for those of a member that is gone (the ids one node makes
  /// share a prefix, sio::id_prefix).
  virtual std::int64_t close_connections(const std::string& socket_id_prefix, timestamp_ms at) = 0;
  virtual connection_totals connection_stats() = 0;
  /// Active connections, oldest first, at most `limit`.
  virtual std::vector<connection_record> active_connections(std::uint32_t limit) = 0;

  // -- presence (section 5) --
  /// Sets a user's last_seen; never moves it back in time.
  virtual void set_last_seen(const std::string& user_id, timestamp_ms at) = 0;
  virtual std::optional<timestamp_ms> last_seen(const std::string& user_id) = 0;

  // -- connection state recovery --
  /// Keeps a packet; one already kept (by offset: every node that delivered it logs the
  /// same bytes) is kept once.
  virtual void recovery_append(const recovery_packet& p) = 0;
  /// Writes a socket's record (by pid), replacing the one before.
  virtual void recovery_save(const recovery_record& r) = 0;
  /// Forgets a socket that will not come back.
  virtual void recovery_forget(const std::string& pid) = 0;
  /// Parks, as disconnected at `at`, the connected sockets' records of `node` (an id
  /// prefix; "" every node's): their node is gone. Returns how many.
  virtual std::int64_t recovery_park_node(const std::string& node, timestamp_ms at) = 0;
  /// The parked socket `pid` of `nsp` coming back: its record and the packets of `nsp`
  /// kept after `offset`, the record removed (one use). `connected` (kept) when the socket
  /// is not parked; `expired` (removed too) when it was parked before `oldest`;
  /// `offset_unknown` (kept) when the offset is not kept; `too_many` (kept) past
  /// `max_packets` packets.
  virtual recovery_take_result recovery_take(const std::string& nsp, const std::string& pid, const std::string& offset,
                                             timestamp_ms oldest, std::size_t max_packets) = 0;
  /// Drops packets sent before `packets_before`, parked records parked before
  /// `parked_before` and connected ones last written before `connected_before` (a node
  /// that died unseen), then the oldest packets past `max_packets`; returns how many rows.
  virtual std::int64_t recovery_purge(timestamp_ms packets_before, timestamp_ms parked_before,
                                      timestamp_ms connected_before, std::size_t max_packets) = 0;
};

/// Throws rejected(not_participant) unless `user_id` takes part in the conversation.
void require_participant(store& s, const std::string& conversation_id, const std::string& user_id);

} // namespace chat::persistence
