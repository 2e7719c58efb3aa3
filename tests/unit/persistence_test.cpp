// The persistence actor under CAF's deterministic test coordinator, over a real store,
// optionally wrapped in an instrumented store that logs every transaction step and can
// fail its commits. Time only moves when a test advances it, so "nothing is answered
// before the commit" is checked exactly.
//
// One contract, two backends: this file builds twice. Suite `persistence` runs on a
// SQLite file in a temporary directory; suite `persistence_mongo` (PERSISTENCE_MONGO) on
// the MongoDB database CHAT_TEST_MONGO_URI names, a wire-compatible server that
// tests/support/with_congo.sh starts for each test. Tests named sqlite_* or mongo_* check
// one backend's own workings and build only with it (tests/CMakeLists.txt registers them
// so).
#ifdef PERSISTENCE_MONGO
#define CAF_SUITE persistence_mongo
#else
#define CAF_SUITE persistence
#endif
#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/unit_test_impl.hpp>
#include <caf/test/dsl.hpp>

#include "actors/persistence_actor.hpp"
#include "persistence/mongo_store.hpp"
#include "persistence/sqlite_store.hpp"
#include "persistence_support.hpp"
#include "transport/digest.hpp"
#include "crossing.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#ifdef PERSISTENCE_MONGO
#include <mongoc/mongoc.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

using namespace std::chrono_literals;
namespace ps = chat::persistence;

#ifdef PERSISTENCE_MONGO
constexpr bool mongo_backend = true;
#else
constexpr bool mongo_backend = false;
#endif

namespace {

using namespace persistence_support;

// What happened, in order: store steps ("begin", "write", "commit", "rollback") and the
// answers the requesters received ("answer").
struct event_log {
  std::vector<std::string> events;
  int begins = 0;
  int commits = 0;
  int rollbacks = 0;
  bool fail_commit = false;

  std::size_t count(const std::string& e) const { return std::count(events.begin(), events.end(), e); }
  std::ptrdiff_t first(const std::string& e) const {
    return std::find(events.begin(), events.end(), e) - events.begin();
  }
  std::ptrdiff_t last(const std::string& e) const {
    auto it = std::find(events.rbegin(), events.rend(), e);
    return it == events.rend() ? -1 : events.rend() - it - 1;
  }
};

// Forwards to a real store, logging each step; `fail_commit` makes commit() throw as a
// failing disk would (after which the actor must roll back).
class instrumented_store final : public ps::store {
public:
  instrumented_store(std::unique_ptr<ps::store> inner, std::shared_ptr<event_log> log)
      : inner_(std::move(inner)), log_(std::move(log)) {}

  void begin() override {
    ++log_->begins;
    log_->events.push_back("begin");
    inner_->begin();
  }
  void commit() override {
    if (log_->fail_commit) {
      log_->events.push_back("commit failed");
      throw std::runtime_error("disk I/O error (injected)");
    }
    inner_->commit();
    ++log_->commits;
    log_->events.push_back("commit");
  }
  void rollback() noexcept override {
    ++log_->rollbacks;
    log_->events.push_back("rollback");
    inner_->rollback();
  }

  ps::conversation_message append_message(ps::conversation_message msg) override {
    write();
    return inner_->append_message(std::move(msg));
  }
  ps::conversation_message edit_message(const std::string& id, const std::string& content,
                                        const std::optional<std::string>& editor, ps::timestamp_ms at) override {
    write();
    return inner_->edit_message(id, content, editor, at);
  }
  ps::conversation_message delete_message(const std::string& id, const std::optional<std::string>& deleter,
                                          ps::timestamp_ms at) override {
    write();
    return inner_->delete_message(id, deleter, at);
  }
  ps::receipt mark_delivered(const std::string& id, const std::string& user, ps::timestamp_ms at) override {
    write();
    return inner_->mark_delivered(id, user, at);
  }
  ps::receipt mark_read(const std::string& id, const std::string& user, ps::timestamp_ms at) override {
    write();
    return inner_->mark_read(id, user, at);
  }
  std::optional<ps::conversation_message> find_message(const std::string& id) override {
    return inner_->find_message(id);
  }
  ps::history_page history(const ps::history_query& q) override { return inner_->history(q); }
  std::int64_t count_messages(const std::string& c) override { return inner_->count_messages(c); }
  std::vector<ps::active_conversation> active_conversations(const std::string& user, std::uint32_t limit) override {
    return inner_->active_conversations(user, limit);
  }
  std::string conversation_of(const std::string& id) override { return inner_->conversation_of(id); }
  bool is_participant(const std::string& c, const std::string& user) override {
    return inner_->is_participant(c, user);
  }
  void join_conversation(const std::string& c, const std::string& user, bool open_join, ps::timestamp_ms at) override {
    write();
    inner_->join_conversation(c, user, open_join, at);
  }
  ps::participant_list add_participants(const std::string& c, const std::vector<std::string>& users,
                                        ps::timestamp_ms at) override {
    write();
    return inner_->add_participants(c, users, at);
  }
  ps::participant_list remove_participant(const std::string& c, const std::string& user, ps::timestamp_ms at) override {
    write();
    return inner_->remove_participant(c, user, at);
  }
  ps::participant_list participants(const std::string& c) override { return inner_->participants(c); }
  std::int64_t append_platform_message(ps::platform_message m) override {
    write();
    return inner_->append_platform_message(std::move(m));
  }
  std::int64_t count_platform_messages() override { return inner_->count_platform_messages(); }
  void connection_opened(const std::string& socket, ps::timestamp_ms at) override {
    write();
    inner_->connection_opened(socket, at);
  }
  void connection_identified(const std::string& socket, const std::string& user, const std::string& platform,
                             const std::string& version, ps::timestamp_ms at) override {
    write();
    inner_->connection_identified(socket, user, platform, version, at);
  }
  void connection_closed(const std::string& socket, ps::timestamp_ms at) override {
    write();
    inner_->connection_closed(socket, at);
  }
  std::int64_t close_connections(const std::string& prefix, ps::timestamp_ms at) override {
    write();
    return inner_->close_connections(prefix, at);
  }
  ps::connection_totals connection_stats() override { return inner_->connection_stats(); }
  std::vector<ps::connection_record> active_connections(std::uint32_t limit) override {
    return inner_->active_connections(limit);
  }
  void set_last_seen(const std::string& user, ps::timestamp_ms at) override {
    write();
    inner_->set_last_seen(user, at);
  }
  std::optional<ps::timestamp_ms> last_seen(const std::string& user) override { return inner_->last_seen(user); }
  void recovery_append(const ps::recovery_packet& p) override {
    write();
    inner_->recovery_append(p);
  }
  void recovery_save(const ps::recovery_record& r) override {
    write();
    inner_->recovery_save(r);
  }
  void recovery_forget(const std::string& pid) override {
    write();
    inner_->recovery_forget(pid);
  }
  std::int64_t recovery_park_node(const std::string& node, ps::timestamp_ms at) override {
    write();
    return inner_->recovery_park_node(node, at);
  }
  ps::recovery_take_result recovery_take(const std::string& nsp, const std::string& pid, const std::string& offset,
                                         ps::timestamp_ms oldest, std::size_t max_packets) override {
    write();
    return inner_->recovery_take(nsp, pid, offset, oldest, max_packets);
  }
  std::int64_t recovery_purge(ps::timestamp_ms packets_before, ps::timestamp_ms parked_before,
                              ps::timestamp_ms connected_before, std::size_t max_packets) override {
    write();
    return inner_->recovery_purge(packets_before, parked_before, connected_before, max_packets);
  }

private:
  void write() { log_->events.push_back("write"); }

  std::unique_ptr<ps::store> inner_;
  std::shared_ptr<event_log> log_;
};

struct fixture : test_coordinator_fixture<config> {
  temp_dir dir;
  std::shared_ptr<event_log> log = std::make_shared<event_log>();
  caf::actor persistence;
  ps::sqlite_store* sqlite = nullptr; // owned by the actor while it runs (SQLite)
  ps::mongo_store* mongo = nullptr;   // owned by the actor while it runs (MongoDB)

  std::string db_path() const { return (dir.path / "data" / "chat.db").string(); }

  ps::sqlite_options sqlite_opts() const {
    ps::sqlite_options o;
    o.path = db_path();
    return o;
  }

  // A database of its own for each test (a run of the whole binary shares one server):
  // CHAT_TEST_MONGO_URI's database name with a number appended.
  static std::string fresh_mongo_uri() {
    static int tests = 0;
    const char* given = std::getenv("CHAT_TEST_MONGO_URI");
    if (given == nullptr || *given == '\0')
      CAF_FAIL("CHAT_TEST_MONGO_URI is not set: run this suite under tests/support/with_congo.sh");
    std::string uri = given;
    auto options = std::min(uri.find('?'), uri.size());
    return uri.insert(options, "_" + std::to_string(++tests));
  }
  std::string mongo_uri = mongo_backend ? fresh_mongo_uri() : std::string();

  ps::mongo_options mongo_opts() const { return ps::mongo_options{mongo_uri}; }

  // The backend's store over this test's database.
  std::unique_ptr<ps::store> open_store() {
#ifdef PERSISTENCE_MONGO
    auto real = std::make_unique<ps::mongo_store>(mongo_opts());
    mongo = real.get();
#else
    auto real = std::make_unique<ps::sqlite_store>(sqlite_opts());
    sqlite = real.get();
#endif
    return real;
  }

  // What the backend counts per commit: SQLite transactions, MongoDB bulk writes (one per
  // collection a batch writes to).
  std::uint64_t commits_so_far() const {
#ifdef PERSISTENCE_MONGO
    return mongo->bulk_writes();
#else
    return sqlite->transactions_committed();
#endif
  }

  // Spawns the actor (not detached: the test coordinator runs it) over the backend's
  // store, wrapped in the instrumented store unless `instrumented` is false.
  void start(std::size_t max_batch, caf::timespan max_delay = 2ms, bool instrumented = true) {
    std::unique_ptr<ps::store> store = open_store();
    if (instrumented)
      store = std::make_unique<instrumented_store>(std::move(store), log);
    persistence = sys.spawn<chat::persistence_actor>(std::move(store), chat::persistence_options{max_batch, max_delay});
    consume_messages();
  }

  // A database an older server left behind: schema `version`, then `fill` writes rows as
  // that server would have.
  void old_database(int version, const std::function<void(SQLite::Database&)>& fill) {
    {
      auto o = sqlite_opts();
      o.schema_target = version;
      ps::sqlite_store old(o);
      CAF_CHECK_EQUAL(old.schema_version(), version);
    }
    SQLite::Database db(db_path(), SQLite::OPEN_READWRITE);
    fill(db);
  }

  // Shuts the actor down (it commits what is queued and closes the file).
  void stop() {
    if (!persistence)
      return;
    auto done = ask<caf::ok_atom>(chat::shutdown_atom::value);
    consume_messages();
    CAF_CHECK(done->value.has_value());
    persistence = nullptr;
    sqlite = nullptr;
    mongo = nullptr;
  }

  ~fixture() override { stop(); }

  // Sends `req` from a fresh requester actor; the reply is recorded when it arrives.
  template <class T, class Request> reply_ptr<T> ask(Request req) {
    auto out = std::make_shared<reply<T>>();
    auto events = log;
    sys.spawn(
        [out, events](caf::event_based_actor* self, caf::actor target, Request r) {
          self->request(target, caf::infinite, std::move(r))
              .then(
                  [out, events](T x) {
                    out->value = std::move(x);
                    events->events.push_back("answer");
                  },
                  [out, events](caf::error& e) {
                    out->error = std::move(e);
                    events->events.push_back("answer");
                  });
        },
        persistence, std::move(req));
    return out;
  }

  // Asks and runs the actors until the answer is in (no time passes).
  template <class T, class Request> reply_ptr<T> ask_now(Request req) {
    auto r = ask<T>(std::move(req));
    consume_messages();
    CAF_REQUIRE(r->answered());
    return r;
  }

  // A write followed by a flush: answered without waiting for the batch timer.
  template <class T, class Request> reply_ptr<T> write_now(Request req) {
    auto r = ask<T>(std::move(req));
    ask<caf::ok_atom>(chat::flush_atom::value);
    consume_messages();
    CAF_REQUIRE(r->answered());
    return r;
  }

  reply_ptr<ps::conversation_message> post(ps::conversation_message m) {
    return ask<ps::conversation_message>(chat::store_message{std::move(m)});
  }

  std::int64_t count(const std::string& conversation = {}) {
    auto r = ask_now<std::int64_t>(chat::count_messages{conversation});
    CAF_REQUIRE(r->value.has_value());
    return *r->value;
  }

  ps::history_page page(const std::string& conversation, std::uint32_t limit,
                        std::optional<std::string> before_id = std::nullopt,
                        std::optional<ps::timestamp_ms> before = std::nullopt) {
    ps::history_query q;
    q.conversation_id = conversation;
    q.limit = limit;
    q.before_id = std::move(before_id);
    q.before = before;
    auto r = ask_now<ps::history_page>(q);
    CAF_REQUIRE(r->value.has_value());
    return *r->value;
  }

  static std::vector<std::string> ids(const ps::history_page& p) {
    std::vector<std::string> result;
    for (auto& m : p.messages)
      result.push_back(m.id);
    return result;
  }
};

std::vector<std::string> names(std::initializer_list<int> numbers) {
  std::vector<std::string> result;
  for (int n : numbers)
    result.push_back("m" + std::to_string(n));
  return result;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(persistence_tests, fixture)

// -- group commit ----------------------------------------------------------------------------

CAF_TEST(full_batch_commits_in_one_transaction) {
  start(4, 1s);
  auto before = commits_so_far();
  std::vector<reply_ptr<ps::conversation_message>> replies;
  for (int i = 0; i < 3; ++i)
    replies.push_back(post(text("c1", "alice", "hello " + std::to_string(i))));
  consume_messages();
  CAF_CHECK_EQUAL(log->begins, 0);
  for (auto& r : replies)
    CAF_CHECK(!r->answered());
  replies.push_back(post(text("c1", "bob", "the fourth fills the batch")));
  consume_messages(); // no time passes: the full batch alone triggers the commit
  CAF_CHECK_EQUAL(log->begins, 1);
  CAF_CHECK_EQUAL(log->commits, 1);
  CAF_CHECK_EQUAL(log->count("write"), 4u);
  // MongoDB: messages, the senders' active conversations, the conversation's latest.
  CAF_CHECK_EQUAL(commits_so_far() - before, mongo_backend ? 3u : 1u);
  std::set<std::string> distinct;
  for (auto& r : replies) {
    CAF_REQUIRE(r->value.has_value());
    CAF_CHECK_EQUAL(r->value->id.size(), 24u);
    CAF_CHECK(r->value->created_at > 0);
    distinct.insert(r->value->id);
  }
  CAF_CHECK_EQUAL(distinct.size(), 4u);
  CAF_CHECK_EQUAL(count("c1"), 4);
}

CAF_TEST(full_batch_of_a_real_store_is_one_commit) {
  start(64, 1s, false);
  auto before = commits_so_far();
  std::vector<reply_ptr<ps::conversation_message>> replies;
  for (int i = 0; i < 64; ++i)
    replies.push_back(post(text("c" + std::to_string(i % 4), "u" + std::to_string(i % 7), "m")));
  consume_messages();
  CAF_CHECK_EQUAL(commits_so_far() - before, mongo_backend ? 3u : 1u);
  CAF_CHECK(std::all_of(replies.begin(), replies.end(), [](auto& r) { return r->value.has_value(); }));
  auto stats = ask_now<chat::persistence_stats>(chat::get_persistence_stats{});
  CAF_REQUIRE(stats->value.has_value());
  CAF_CHECK_EQUAL(stats->value->batches, 1u);
  CAF_CHECK_EQUAL(stats->value->writes, 64u);
  CAF_CHECK_EQUAL(stats->value->largest_batch, 64u);
  CAF_CHECK_EQUAL(count(), 64);
}

CAF_TEST(timer_commits_a_partial_batch) {
  start(100, 2ms);
  std::vector<reply_ptr<ps::conversation_message>> replies;
  for (int i = 0; i < 3; ++i)
    replies.push_back(post(text("c1", "alice", "hi")));
  consume_messages();
  CAF_CHECK_EQUAL(log->commits, 0);
  advance_time(1ms);
  consume_messages();
  CAF_CHECK_EQUAL(log->commits, 0);
  for (auto& r : replies)
    CAF_CHECK(!r->answered());
  advance_time(1ms); // 2 ms after the first queued write
  consume_messages();
  CAF_CHECK_EQUAL(log->commits, 1);
  CAF_CHECK_EQUAL(log->count("write"), 3u);
  for (auto& r : replies)
    CAF_CHECK(r->value.has_value());
}

CAF_TEST(stale_timer_does_not_commit_the_next_batch_early) {
  start(2, 2ms);
  auto a = post(text("c1", "alice", "1"));
  auto b = post(text("c1", "alice", "2")); // fills the batch: committed at once
  consume_messages();
  CAF_CHECK_EQUAL(log->commits, 1);
  advance_time(1ms);
  auto c = post(text("c1", "alice", "3")); // a new batch, with its own timer
  consume_messages();
  advance_time(1ms); // the first batch's timer fires now: stale, ignored
  consume_messages();
  CAF_CHECK_EQUAL(log->commits, 1);
  CAF_CHECK(!c->answered());
  advance_time(1ms);
  consume_messages();
  CAF_CHECK_EQUAL(log->commits, 2);
  CAF_CHECK(a->value && b->value && c->value);
}

CAF_TEST(answers_come_only_after_the_commit) {
  start(3, 5ms);
  auto a = post(text("c1", "alice", "1"));
  auto b = ask<std::int64_t>(chat::log_platform_message{ps::platform_message{"s1", "alice", "hi", "web", 0}});
  consume_messages();
  CAF_CHECK_EQUAL(log->count("answer"), 0u);
  CAF_CHECK_EQUAL(log->count("write"), 0u); // queued in memory, not even applied yet
  auto c = ask<caf::ok_atom>(chat::update_last_seen{"alice", 0});
  consume_messages();
  // begin, write x3, commit, then the three answers.
  CAF_REQUIRE_EQUAL(log->count("commit"), 1u);
  CAF_CHECK_EQUAL(log->count("answer"), 3u);
  CAF_CHECK(log->first("answer") > log->first("commit"));
  CAF_CHECK(log->last("write") < log->first("commit"));
  CAF_CHECK(a->value && b->value && c->value);
  CAF_CHECK_EQUAL(*b->value, 1);
}

CAF_TEST(failing_commit_answers_every_waiting_request_with_an_error) {
  start(5, 2ms);
  log->fail_commit = true;
  std::vector<reply_ptr<ps::conversation_message>> posts;
  for (int i = 0; i < 3; ++i)
    posts.push_back(post(text("c1", "alice", "lost " + std::to_string(i))));
  auto seen = ask<caf::ok_atom>(chat::update_last_seen{"alice", 0});
  auto connect = ask<caf::ok_atom>(chat::record_connect{"s1", 0});
  consume_messages();
  CAF_CHECK_EQUAL(log->rollbacks, 1);
  for (auto& r : posts)
    CAF_CHECK(r->failed_with(chat::persistence_errc::storage_failure));
  CAF_CHECK(seen->failed_with(chat::persistence_errc::storage_failure));
  CAF_CHECK(connect->failed_with(chat::persistence_errc::storage_failure));
  CAF_CHECK_EQUAL(sys.render(*seen->error), "persistence: storage_failure (disk I/O error (injected))");
  // The actor keeps running, and nothing of the failed batch was stored.
  log->fail_commit = false;
  auto ok = post(text("c1", "alice", "kept"));
  auto flushed = ask<caf::ok_atom>(chat::flush_atom::value);
  consume_messages();
  CAF_CHECK(ok->value.has_value());
  CAF_CHECK(flushed->value.has_value());
  CAF_CHECK_EQUAL(count("c1"), 1);
  auto last = ask_now<chat::last_seen_info>(chat::get_last_seen{"alice"});
  CAF_CHECK(last->value && !last->value->last_seen);
}

CAF_TEST(failing_flush_and_timer_commits_answer_with_errors) {
  start(100, 2ms);
  log->fail_commit = true;
  auto a = post(text("c1", "alice", "timer"));
  consume_messages();
  advance_time(2ms);
  consume_messages();
  CAF_CHECK(a->failed_with(chat::persistence_errc::storage_failure));
  auto b = post(text("c1", "alice", "flush"));
  auto flushed = ask<caf::ok_atom>(chat::flush_atom::value);
  consume_messages();
  CAF_CHECK(b->failed_with(chat::persistence_errc::storage_failure));
  CAF_CHECK(flushed->failed_with(chat::persistence_errc::storage_failure));
  CAF_CHECK_EQUAL(log->rollbacks, 2);
  log->fail_commit = false;
}

CAF_TEST(refused_write_fails_alone) {
  start(4, 2ms);
  auto first = post(text("c1", "alice", "one", 0, "dup"));
  auto duplicate = post(text("c1", "bob", "two", 0, "dup"));
  auto unknown = ask<ps::conversation_message>(chat::edit_message{"nope", "x", "", 0});
  auto invalid = post(text("", "alice", "no conversation"));
  consume_messages();
  CAF_CHECK_EQUAL(log->commits, 1);
  CAF_CHECK(first->value.has_value());
  CAF_CHECK(duplicate->failed_with(chat::persistence_errc::duplicate));
  CAF_CHECK(unknown->failed_with(chat::persistence_errc::not_found));
  CAF_CHECK(invalid->failed_with(chat::persistence_errc::invalid_argument));
  CAF_CHECK_EQUAL(count(), 1);
}

// -- reads -----------------------------------------------------------------------------------

CAF_TEST(reads_see_previous_writes) {
  start(100, 1s);
  auto w = post(text("c1", "alice", "hello", 0, "m1"));
  consume_messages();
  CAF_CHECK(!w->answered()); // queued, waiting for the batch
  auto r = ask<ps::conversation_message>(chat::get_message{"m1"});
  consume_messages(); // the read commits the queued write first
  CAF_CHECK_EQUAL(log->commits, 1);
  CAF_REQUIRE(w->value.has_value());
  CAF_REQUIRE(r->value.has_value());
  CAF_CHECK_EQUAL(r->value->content, "hello");
  CAF_CHECK_EQUAL(r->value->sender_id, "alice");
  CAF_CHECK_EQUAL(r->value->created_at, w->value->created_at);
  CAF_CHECK(log->first("answer") > log->first("commit"));
  auto missing = ask_now<ps::conversation_message>(chat::get_message{"m2"});
  CAF_CHECK(missing->failed_with(chat::persistence_errc::not_found));
}

CAF_TEST(edit_delete_and_receipts) {
  start(100, 1s);
  post(text("c1", "alice", "first", 1000, "m1"));
  auto edited = ask<ps::conversation_message>(chat::edit_message{"m1", "first!", "alice", 2000});
  auto forbidden = ask<ps::conversation_message>(chat::edit_message{"m1", "hacked", "mallory", 2001});
  auto delivered = ask<ps::receipt>(chat::mark_delivered{"m1", "bob", 2002});
  auto read = ask<ps::receipt>(chat::mark_read{"m1", "carol", 2003});
  auto again = ask<ps::receipt>(chat::mark_read{"m1", "carol", 2004});
  auto nobody = ask<ps::receipt>(chat::mark_read{"m9", "carol", 2005});
  auto flushed = ask_now<caf::ok_atom>(chat::flush_atom::value);
  CAF_REQUIRE(edited->value.has_value());
  CAF_CHECK_EQUAL(edited->value->content, "first!");
  CAF_CHECK(edited->value->edited_at == std::optional<ps::timestamp_ms>(2000));
  CAF_CHECK(forbidden->failed_with(chat::persistence_errc::forbidden));
  CAF_REQUIRE(delivered->value.has_value());
  CAF_CHECK_EQUAL(delivered->value->conversation_id, "c1");
  CAF_CHECK(read->value && again->value);
  CAF_CHECK(nobody->failed_with(chat::persistence_errc::not_found));
  auto m = ask_now<ps::conversation_message>(chat::get_message{"m1"});
  CAF_REQUIRE(m->value.has_value());
  CAF_CHECK_EQUAL(m->value->delivered_to, (std::vector<std::string>{"bob", "carol"}));
  CAF_CHECK_EQUAL(m->value->read_by, (std::vector<std::string>{"carol"}));
  auto gone = write_now<ps::conversation_message>(chat::delete_message{"m1", "alice", 3000});
  CAF_REQUIRE(gone->value.has_value());
  CAF_CHECK(gone->value->deleted);
  CAF_CHECK(gone->value->deleted_at == std::optional<ps::timestamp_ms>(3000));
  auto late_edit = write_now<ps::conversation_message>(chat::edit_message{"m1", "x", "", 0});
  CAF_CHECK(late_edit->failed_with(chat::persistence_errc::not_found));
  auto p = page("c1", 10);
  CAF_REQUIRE_EQUAL(p.messages.size(), 1u); // soft delete: still in the history, flagged
  CAF_CHECK(p.messages[0].deleted);
  CAF_CHECK_EQUAL(p.messages[0].read_by, (std::vector<std::string>{"carol"}));
}

CAF_TEST(participants_join_add_remove_and_checked_writes) {
  start(100, 1s);
  using chat::persistence_errc;
  // An open conversation takes in whoever joins; a message needs a participant when asked.
  CAF_CHECK(write_now<caf::ok_atom>(chat::join_conversation{"c1", "alice", true, 10})->value.has_value());
  CAF_CHECK(write_now<caf::ok_atom>(chat::join_conversation{"c1", "alice", true, 11})->value.has_value());
  auto by_alice = text("c1", "alice", "hi", 20, "m1");
  CAF_CHECK(write_now<ps::conversation_message>(chat::store_message{by_alice, true})->value.has_value());
  auto by_carol = text("c1", "carol", "hi", 21, "m2");
  auto refused = write_now<ps::conversation_message>(chat::store_message{by_carol, true});
  CAF_CHECK(refused->failed_with(persistence_errc::not_participant));
  CAF_CHECK_EQUAL(count("c1"), 1);
  // Unchecked (anonymous mode) writes are not asked about participants.
  CAF_CHECK(write_now<ps::conversation_message>(chat::store_message{by_carol, false})->value.has_value());
  // Receipts, edits and deletes: the participant of the message's conversation.
  CAF_CHECK(
      write_now<ps::receipt>(chat::mark_read{"m1", "bob", 30, true})->failed_with(persistence_errc::not_participant));
  CAF_CHECK(write_now<ps::receipt>(chat::mark_read{"m1", "alice", 30, true})->value.has_value());
  CAF_CHECK(write_now<ps::conversation_message>(chat::edit_message{"m2", "x", "carol", 31, true})
                ->failed_with(persistence_errc::not_participant));
  CAF_CHECK(write_now<ps::conversation_message>(chat::delete_message{"m9", "alice", 32, true})
                ->failed_with(persistence_errc::not_found));
  // Reading the history.
  ps::history_query q{"c1", std::nullopt, std::nullopt, 10};
  CAF_CHECK(ask_now<ps::history_page>(chat::read_history{q, "alice"})->value.has_value());
  CAF_CHECK(ask_now<ps::history_page>(chat::read_history{q, "carol"})->failed_with(persistence_errc::not_participant));
  CAF_CHECK_EQUAL(ask_now<ps::history_page>(chat::read_history{q, ""})->value->messages.size(), 2u);
  // The backend adds: closed from then on; joining adds nobody.
  auto added = write_now<ps::participant_list>(chat::add_participants{"c1", {"bob", "bob", "dave"}, 40});
  CAF_REQUIRE(added->value.has_value());
  CAF_CHECK(!added->value->open);
  CAF_CHECK_EQUAL(added->value->user_ids, (std::vector<std::string>{"alice", "bob", "dave"}));
  CAF_CHECK(write_now<caf::ok_atom>(chat::join_conversation{"c1", "carol", true, 41})
                ->failed_with(persistence_errc::not_participant));
  CAF_CHECK(write_now<caf::ok_atom>(chat::join_conversation{"c1", "bob", true, 42})->value.has_value());
  auto removed = write_now<ps::participant_list>(chat::remove_participant{"c1", "dave", 43});
  CAF_REQUIRE(removed->value.has_value());
  CAF_CHECK_EQUAL(removed->value->user_ids, (std::vector<std::string>{"alice", "bob"}));
  CAF_CHECK(write_now<ps::participant_list>(chat::remove_participant{"c1", "dave", 44})
                ->failed_with(persistence_errc::not_found));
  // Removing from an open conversation closes it: the removed user cannot come back.
  CAF_CHECK(write_now<caf::ok_atom>(chat::join_conversation{"c3", "eve", true, 50})->value.has_value());
  CAF_CHECK(write_now<ps::participant_list>(chat::remove_participant{"c3", "eve", 51})->value.has_value());
  CAF_CHECK(write_now<caf::ok_atom>(chat::join_conversation{"c3", "eve", true, 52})
                ->failed_with(persistence_errc::not_participant));
  // With joining of open conversations off, only those added get in.
  CAF_CHECK(write_now<caf::ok_atom>(chat::join_conversation{"c4", "eve", false, 60})
                ->failed_with(persistence_errc::not_participant));
  CAF_CHECK(write_now<ps::participant_list>(chat::add_participants{"c4", {"eve"}, 61})->value.has_value());
  CAF_CHECK(write_now<caf::ok_atom>(chat::join_conversation{"c4", "eve", false, 62})->value.has_value());
  // Bad backend input.
  CAF_CHECK(write_now<ps::participant_list>(chat::add_participants{"c5", {}, 70})
                ->failed_with(persistence_errc::invalid_argument));
  CAF_CHECK(write_now<ps::participant_list>(chat::add_participants{"c5", {"x", ""}, 70})
                ->failed_with(persistence_errc::invalid_argument));
}

CAF_TEST(conversations_that_name_their_participants) {
  start(100, 1s);
  using chat::persistence_errc;
  // By value: the check macros keep references to their arguments.
  auto named = [](std::string_view id) { return ps::named_participants(id).value_or(std::vector<std::string>{"-"}); };
  CAF_CHECK_EQUAL(named("private-chat.12-34"), (std::vector<std::string>{"12", "34"}));
  CAF_CHECK_EQUAL(named("private-chat.b_a-b"), (std::vector<std::string>{"a", "b"}));
  CAF_CHECK_EQUAL(named("private-chat.a-"), (std::vector<std::string>{"a"}));
  CAF_CHECK_EQUAL(named("private-user.7"), (std::vector<std::string>{"7"}));
  CAF_CHECK(named("private-user.").empty());
  CAF_CHECK(!ps::named_participants("presence-chat.1"));
  CAF_CHECK(!ps::named_participants("c1"));
  // Nobody else joins, whatever joining allows; the named users need no join.
  CAF_CHECK(write_now<caf::ok_atom>(chat::join_conversation{"private-chat.a-b", "c", true, 1})
                ->failed_with(persistence_errc::not_participant));
  CAF_CHECK(write_now<caf::ok_atom>(chat::join_conversation{"private-chat.a-b", "b", false, 1})->value.has_value());
  auto m = text("private-chat.a-b", "a", "hi", 2, "m1");
  CAF_CHECK(write_now<ps::conversation_message>(chat::store_message{m, true})->value.has_value());
  auto list = ask_now<ps::participant_list>(chat::get_participants{"private-chat.a-b"});
  CAF_REQUIRE(list->value.has_value());
  CAF_CHECK(!list->value->open);
  CAF_CHECK_EQUAL(list->value->user_ids, (std::vector<std::string>{"a", "b"}));
  CAF_CHECK(write_now<ps::participant_list>(chat::add_participants{"private-chat.a-b", {"c"}, 3})
                ->failed_with(persistence_errc::invalid_argument));
  CAF_CHECK(write_now<ps::participant_list>(chat::remove_participant{"private-chat.a-b", "a", 3})
                ->failed_with(persistence_errc::invalid_argument));
}

CAF_TEST(history_pages_newest_first_with_cursors) {
  start(512, 1s, false);
  // 25 messages in c1; every two share a millisecond, so the cursor needs the tie-break.
  for (int i = 0; i < 25; ++i)
    post(text("c1", "u" + std::to_string(i % 3), "text " + std::to_string(i), 1000 + i / 2, "m" + std::to_string(i)));
  for (int i = 0; i < 5; ++i)
    post(text("c2", "u1", "other", 1000 + i, "x" + std::to_string(i)));
  auto p1 = page("c1", 10);
  CAF_CHECK_EQUAL(ids(p1), names({24, 23, 22, 21, 20, 19, 18, 17, 16, 15}));
  CAF_CHECK(p1.has_more);
  auto p2 = page("c1", 10, p1.messages.back().id);
  CAF_CHECK_EQUAL(ids(p2), names({14, 13, 12, 11, 10, 9, 8, 7, 6, 5}));
  CAF_CHECK(p2.has_more);
  auto p3 = page("c1", 10, p2.messages.back().id);
  CAF_CHECK_EQUAL(ids(p3), names({4, 3, 2, 1, 0}));
  CAF_CHECK(!p3.has_more);
  auto exact = page("c1", 5, "m5");
  CAF_CHECK_EQUAL(ids(exact), names({4, 3, 2, 1, 0}));
  CAF_CHECK(!exact.has_more);
  // A time cursor: strictly older than 1005 (m10 and m11 carry 1005).
  auto by_time = page("c1", 4, std::nullopt, 1005);
  CAF_CHECK_EQUAL(ids(by_time), names({9, 8, 7, 6}));
  CAF_CHECK(by_time.has_more);
  CAF_CHECK_EQUAL(page("c2", 50).messages.size(), 5u);
  CAF_CHECK(page("nobody", 50).messages.empty());
  CAF_CHECK_EQUAL(count("c1"), 25);
  CAF_CHECK_EQUAL(count("c2"), 5);
  CAF_CHECK_EQUAL(count(), 30);
  // Refusals: a cursor from another conversation, a bad limit.
  ps::history_query foreign{"c1", std::string("x1"), std::nullopt, 10};
  CAF_CHECK(ask_now<ps::history_page>(foreign)->failed_with(chat::persistence_errc::not_found));
  ps::history_query zero{"c1", std::nullopt, std::nullopt, 0};
  CAF_CHECK(ask_now<ps::history_page>(zero)->failed_with(chat::persistence_errc::invalid_argument));
#ifndef PERSISTENCE_MONGO
  // The page query walks the history index instead of sorting.
  auto plan = sqlite->explain_history_query();
  CAF_MESSAGE("history plan: " << plan);
  CAF_CHECK(plan.find("messages_history") != std::string::npos);
  CAF_CHECK(plan.find("TEMP B-TREE") == std::string::npos);
#endif
}

CAF_TEST(active_conversations_most_recent_first) {
  start(100, 1s);
  post(text("c1", "alice", "a", 1000));
  post(text("c2", "alice", "b", 2000));
  post(text("c3", "bob", "c", 2500));
  post(text("c1", "alice", "d", 3000));
  post(text("c2", "bob", "e", 4000));
  auto r = ask_now<chat::conversation_list>(chat::list_active_conversations{"alice", 10});
  CAF_REQUIRE(r->value.has_value());
  auto& list = r->value->conversations;
  CAF_REQUIRE_EQUAL(list.size(), 2u);
  CAF_CHECK_EQUAL(list[0].conversation_id, "c1");
  CAF_CHECK_EQUAL(list[0].last_sent_at, 3000);
  CAF_CHECK_EQUAL(list[0].last_message_at, 3000);
  CAF_CHECK_EQUAL(list[1].conversation_id, "c2");
  CAF_CHECK_EQUAL(list[1].last_sent_at, 2000);
  CAF_CHECK_EQUAL(list[1].last_message_at, 4000);
  auto one = ask_now<chat::conversation_list>(chat::list_active_conversations{"alice", 1});
  CAF_CHECK_EQUAL(one->value->conversations.size(), 1u);
}

CAF_TEST(connection_tracking_and_last_seen) {
  start(100, 1s);
  ask<caf::ok_atom>(chat::record_connect{"s1", 1000});
  ask<caf::ok_atom>(chat::record_connect{"s2", 1100});
  ask<caf::ok_atom>(chat::record_connect{"s3", 1200});
  ask<caf::ok_atom>(chat::record_identify{"s1", "alice", "flutter", "2.1.0", 1010});
  ask<caf::ok_atom>(chat::record_identify{"s2", "bob", "web", "1.0", 1110});
  ask<caf::ok_atom>(chat::record_identify{"s9", "carol", "web", "1.0", 1300}); // connect not seen
  auto closed = ask<caf::ok_atom>(chat::record_disconnect{"s2", 2000});
  auto unknown = ask<caf::ok_atom>(chat::record_disconnect{"zz", 2000});
  ask<caf::ok_atom>(chat::update_last_seen{"bob", 2000});
  ask<caf::ok_atom>(chat::update_last_seen{"bob", 1500}); // never back in time
  auto logged = ask<std::int64_t>(chat::log_platform_message{ps::platform_message{"s1", "alice", "hi", "flutter", 0}});
  consume_messages();
  auto totals = ask_now<ps::connection_totals>(chat::get_connection_totals{});
  CAF_CHECK(closed->value.has_value());
  CAF_CHECK(unknown->failed_with(chat::persistence_errc::not_found));
  CAF_REQUIRE(totals->value.has_value());
  CAF_CHECK_EQUAL(totals->value->total, 4);
  CAF_CHECK_EQUAL(totals->value->active, 3);
  auto& by = totals->value->by_platform;
  CAF_REQUIRE_EQUAL(by.size(), 3u);
  CAF_CHECK_EQUAL(by[0].platform, "flutter");
  CAF_CHECK_EQUAL(by[0].active, 1);
  CAF_CHECK_EQUAL(by[1].platform, "unknown");
  CAF_CHECK_EQUAL(by[2].platform, "web");
  CAF_CHECK_EQUAL(by[2].total, 2);
  CAF_CHECK_EQUAL(by[2].active, 1);
  auto active = ask_now<chat::connection_list>(chat::list_active_connections{100});
  CAF_REQUIRE(active->value.has_value());
  auto& list = active->value->connections;
  CAF_REQUIRE_EQUAL(list.size(), 3u);
  CAF_CHECK_EQUAL(list[0].socket_id, "s1");
  CAF_CHECK(list[0].user_id == std::optional<std::string>("alice"));
  CAF_CHECK(list[0].app_version == std::optional<std::string>("2.1.0"));
  CAF_CHECK_EQUAL(list[1].socket_id, "s3");
  CAF_CHECK(!list[1].user_id);
  CAF_CHECK_EQUAL(list[2].socket_id, "s9");
  auto seen = ask_now<chat::last_seen_info>(chat::get_last_seen{"bob"});
  CAF_CHECK(seen->value && seen->value->last_seen == std::optional<ps::timestamp_ms>(2000));
  CAF_CHECK(logged->value.has_value());
  auto platform_count = ask_now<std::int64_t>(chat::count_platform_messages{});
  CAF_CHECK(platform_count->value == std::optional<std::int64_t>(1));
  auto reset = write_now<std::int64_t>(chat::close_open_connections{3000, ""});
  CAF_CHECK_EQUAL(*reset->value, 3);
  auto after_reset = ask_now<ps::connection_totals>(chat::get_connection_totals{});
  CAF_CHECK(after_reset->value && after_reset->value->active == 0);
}

CAF_TEST(closing_the_connections_of_one_node) {
  // A node's socket ids share a prefix (sio::id_prefix); base64url ids hold '_' and '-',
  // which a LIKE pattern would take as wildcards.
  start(100, 1s);
  for (auto id : {"ab_cd1", "ab_cd2", "abXcd3", "zz_cd4"})
    ask<caf::ok_atom>(chat::record_connect{id, 1000});
  auto mine = write_now<std::int64_t>(chat::close_open_connections{2000, "ab_cd"});
  CAF_CHECK(mine->value == std::optional<std::int64_t>(2));
  auto active = ask_now<chat::connection_list>(chat::list_active_connections{100});
  CAF_REQUIRE(active->value.has_value());
  std::vector<std::string> left;
  for (auto& c : active->value->connections)
    left.push_back(c.socket_id);
  CAF_CHECK_EQUAL(left, (std::vector<std::string>{"abXcd3", "zz_cd4"}));
  auto rest = write_now<std::int64_t>(chat::close_open_connections{2000, ""});
  CAF_CHECK(rest->value == std::optional<std::int64_t>(2));
}

// -- connection state recovery (actors/recovery.hpp) -----------------------------------------

namespace {

sio::shared_frame offset_frame(const std::string& text) {
  return sio::shared_frame{
      std::make_shared<const sio::wire_packet>(sio::wire_packet{text, {std::string("\x01\x00bin", 5)}, {}, true})};
}

std::vector<std::string> texts_of(const sio::recovery_claimed& c) {
  std::vector<std::string> out;
  for (auto& f : c.missed)
    out.push_back(f->text);
  return out;
}

} // namespace

CAF_TEST(connection_state_recovery_sockets_and_packets) {
  start(100, 1s);
  auto append = [&](std::string nsp, std::string offset, std::vector<std::string> rooms,
                    std::vector<std::string> except) {
    ask<caf::ok_atom>(sio::recovery_append{std::move(nsp), offset, std::move(rooms), std::move(except),
                                           offset_frame("42[\"e\",\"" + offset + "\"]")});
  };
  append("/", "o1", {}, {});
  auto now = ps::now_ms();
  ask<caf::ok_atom>(sio::recovery_park{sio::recovery_session{"p1", "/", "s1", {"s1", "r1"}, "{\"u\":1}", now}});
  append("/", "o2", {"r1"}, {});
  // Another node's copy of it is kept once. Not on the MongoDB test server: an upsert
  // that matches empties the document's fields there (real MongoDB leaves it as it is).
  if (!mongo_backend)
    append("/", "o2", {"r1"}, {});
  append("/", "o3", {"r2"}, {});
  append("/other", "x1", {}, {});
  append("/", "o4", {}, {"r1"});
  append("/", "o5", {}, {});
  // Refused, and the socket kept: an offset never sent, another namespace's offset, the
  // socket claimed in another namespace.
  CAF_CHECK(write_now<sio::recovery_claimed>(sio::recovery_claim{"/", "p1", "nope"})
                ->failed_with(chat::persistence_errc::not_found));
  CAF_CHECK(write_now<sio::recovery_claimed>(sio::recovery_claim{"/", "p1", "x1"})
                ->failed_with(chat::persistence_errc::not_found));
  CAF_CHECK(write_now<sio::recovery_claimed>(sio::recovery_claim{"/other", "p1", "x1"})
                ->failed_with(chat::persistence_errc::not_found));
  auto got = write_now<sio::recovery_claimed>(sio::recovery_claim{"/", "p1", "o1"});
  CAF_REQUIRE(got->value.has_value());
  CAF_CHECK_EQUAL(texts_of(*got->value), (std::vector<std::string>{"42[\"e\",\"o2\"]", "42[\"e\",\"o5\"]"}));
  CAF_CHECK_EQUAL(got->value->missed[0]->attachments, (std::vector<std::string>{std::string("\x01\x00bin", 5)}));
  CAF_CHECK(got->value->missed[0]->ends_with_offset);
  CAF_CHECK_EQUAL(got->value->session.sid, "s1");
  CAF_CHECK_EQUAL(got->value->session.rooms, (std::vector<std::string>{"s1", "r1"}));
  CAF_CHECK_EQUAL(got->value->session.data, "{\"u\":1}");
  // One use.
  CAF_CHECK(write_now<sio::recovery_claimed>(sio::recovery_claim{"/", "p1", "o1"})
                ->failed_with(chat::persistence_errc::not_found));
  // Parked longer ago than the window (120 s here): expired.
  ask<caf::ok_atom>(sio::recovery_park{sio::recovery_session{"p6", "/", "s6", {"s6"}, "{}", now - 121000}});
  CAF_CHECK(write_now<sio::recovery_claimed>(sio::recovery_claim{"/", "p6", "o1"})
                ->failed_with(chat::persistence_errc::not_found));
  // A connected socket's record is not claimed while its node lives (nor when another node
  // goes); once its node is gone (close_open_connections with its prefix) it comes back.
  ask<caf::ok_atom>(sio::recovery_live{sio::recovery_session{"p2", "/", "s2", {"s2"}, "{}", 0, "nodeA"}});
  CAF_CHECK(write_now<sio::recovery_claimed>(sio::recovery_claim{"/", "p2", "o4"})
                ->failed_with(chat::persistence_errc::not_found));
  CAF_CHECK(write_now<std::int64_t>(chat::close_open_connections{0, "nodeB"})->value.has_value());
  CAF_CHECK(write_now<sio::recovery_claimed>(sio::recovery_claim{"/", "p2", "o4"})
                ->failed_with(chat::persistence_errc::not_found));
  CAF_CHECK(write_now<std::int64_t>(chat::close_open_connections{0, "nodeA"})->value.has_value());
  auto live = write_now<sio::recovery_claimed>(sio::recovery_claim{"/", "p2", "o4"});
  CAF_REQUIRE(live->value.has_value());
  CAF_CHECK_EQUAL(texts_of(*live->value), (std::vector<std::string>{"42[\"e\",\"o5\"]"}));
  // A socket that will not come back is forgotten.
  ask<caf::ok_atom>(sio::recovery_live{sio::recovery_session{"p3", "/", "s3", {"s3"}, "{}", 0}});
  ask<caf::ok_atom>(sio::recovery_forget{"p3"});
  CAF_CHECK(write_now<sio::recovery_claimed>(sio::recovery_claim{"/", "p3", "o1"})
                ->failed_with(chat::persistence_errc::not_found));
  // Kept across a restart; a connected socket's record once the restarted server closes
  // what was open (every node's: "").
  ask<caf::ok_atom>(sio::recovery_park{sio::recovery_session{"p4", "/", "s4", {"s4"}, "{}", now}});
  ask<caf::ok_atom>(sio::recovery_live{sio::recovery_session{"p5", "/", "s5", {"s5", "r2"}, "{}", 0, "nodeC"}});
  stop();
  start(100, 1s);
  auto after = write_now<sio::recovery_claimed>(sio::recovery_claim{"/", "p4", "o3"});
  CAF_REQUIRE(after->value.has_value());
  CAF_CHECK_EQUAL(texts_of(*after->value), (std::vector<std::string>{"42[\"e\",\"o4\"]", "42[\"e\",\"o5\"]"}));
  CAF_CHECK(write_now<sio::recovery_claimed>(sio::recovery_claim{"/", "p5", "o2"})
                ->failed_with(chat::persistence_errc::not_found));
  CAF_CHECK(write_now<std::int64_t>(chat::close_open_connections{0, ""})->value.has_value());
  auto restarted = write_now<sio::recovery_claimed>(sio::recovery_claim{"/", "p5", "o2"});
  CAF_REQUIRE(restarted->value.has_value());
  CAF_CHECK_EQUAL(texts_of(*restarted->value), (std::vector<std::string>{"42[\"e\",\"o3\"]", "42[\"e\",\"o4\"]",
                                                                          "42[\"e\",\"o5\"]"}));
  CAF_CHECK_EQUAL(restarted->value->session.rooms, (std::vector<std::string>{"s5", "r2"}));
}

CAF_TEST(recovery_purge_keeps_connected_sockets_longer) {
  // The store itself: parked records go after the window, connected ones (a node that died
  // unseen) only after connected_before.
  auto s = open_store();
  auto record = [](std::string pid, ps::timestamp_ms updated, ps::timestamp_ms disconnected) {
    return ps::recovery_record{pid, "/", "s-" + pid, {"s-" + pid}, "{}", updated, disconnected, "nodeA"};
  };
  s->recovery_save(record("parked", 1000, 1000));
  s->recovery_save(record("connected", 1000, 0));
  s->recovery_save(record("fresh", 5000, 5000));
  CAF_CHECK_EQUAL(s->recovery_purge(0, 2000, 500, 1000), 1);
  using outcome = ps::recovery_take_result::outcome;
  CAF_CHECK(s->recovery_take("/", "parked", "o", 0, 10).result == outcome::unknown);
  CAF_CHECK(s->recovery_take("/", "connected", "o", 0, 10).result == outcome::connected);
  CAF_CHECK_EQUAL(s->recovery_purge(0, 2000, 2000, 1000), 1);
  CAF_CHECK(s->recovery_take("/", "connected", "o", 0, 10).result == outcome::unknown);
  CAF_CHECK(s->recovery_take("/", "fresh", "o", 0, 10).result == outcome::offset_unknown);
  CAF_CHECK_EQUAL(s->recovery_park_node("nodeA", 6000), 0);
}

// -- durability and schema ------------------------------------------------------------------

CAF_TEST(restart_keeps_data) {
  start(100, 1s);
  for (int i = 0; i < 3; ++i)
    post(text("c1", "alice", "kept " + std::to_string(i), 1000 + i, "m" + std::to_string(i)));
  ask<caf::ok_atom>(chat::update_last_seen{"alice", 5000});
  ask<caf::ok_atom>(chat::record_connect{"s1", 1000});
  stop(); // shutdown commits what is queued and closes the store
  if (!mongo_backend)
    CAF_CHECK(std::filesystem::exists(db_path()));
  start(100, 1s);
  CAF_CHECK_EQUAL(count("c1"), 3);
  CAF_CHECK_EQUAL(ids(page("c1", 10)), names({2, 1, 0}));
  auto seen = ask_now<chat::last_seen_info>(chat::get_last_seen{"alice"});
  CAF_CHECK(seen->value && seen->value->last_seen == std::optional<ps::timestamp_ms>(5000));
  auto totals = ask_now<ps::connection_totals>(chat::get_connection_totals{});
  CAF_CHECK(totals->value && totals->value->total == 1);
}

CAF_TEST(exit_commits_queued_writes) {
  start(100, 1s);
  auto a = post(text("c1", "alice", "in flight", 0, "m1"));
  consume_messages();
  CAF_CHECK(!a->answered());
  caf::anon_send_exit(persistence, caf::exit_reason::user_shutdown);
  consume_messages();
  CAF_CHECK(a->value.has_value()); // answered from on_exit, after the commit
  persistence = nullptr;
  start(100, 1s);
  CAF_CHECK_EQUAL(count("c1"), 1);
  auto handle = persistence;
  stop();
  persistence = handle; // a request to the stopped actor is answered with an error, too
  auto late = ask_now<caf::ok_atom>(chat::flush_atom::value);
  CAF_CHECK(late->error.has_value());
  persistence = nullptr;
}

#ifndef PERSISTENCE_MONGO

CAF_TEST(sqlite_recovery_pids_are_stored_as_digests) {
  // A pid restores a socket's identity: the database holds its SHA-256 only.
  start(100, 1s);
  ask<caf::ok_atom>(sio::recovery_park{sio::recovery_session{"secret-pid", "/", "s1", {"s1"}, "{}", 1000, {}}});
  stop();
  SQLite::Database db(db_path());
  SQLite::Statement q(db, "SELECT pid FROM recovery_sockets");
  CAF_REQUIRE(q.executeStep());
  CAF_CHECK_EQUAL(q.getColumn(0).getString(), digest::sha256_hex("secret-pid"));
  CAF_CHECK_EQUAL(digest::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CAF_CHECK(!q.executeStep());
}

CAF_TEST(sqlite_schema_migration_from_an_empty_file) {
  std::filesystem::create_directories(dir.path / "data");
  { std::ofstream touch(db_path()); } // zero bytes: SQLite sees an empty database
  CAF_REQUIRE(std::filesystem::file_size(db_path()) == 0u);
  {
    ps::sqlite_store s(sqlite_opts());
    CAF_CHECK_EQUAL(s.schema_version(), ps::sqlite_store::latest_schema_version());
    CAF_CHECK_EQUAL(s.journal_mode(), "wal");
    SQLite::Database db(db_path());
    for (auto table : {"messages", "message_receipts", "platform_messages", "connections", "users",
                       "user_conversations", "conversation_participants", "closed_conversations", "recovery_packets",
                       "recovery_sockets"})
      CAF_CHECK(db.tableExists(table));
  }
  start(10, 1s);
  auto r = post(text("c1", "alice", "works"));
  consume_messages();
  CAF_CHECK(ask_now<caf::ok_atom>(chat::flush_atom::value)->value.has_value());
  CAF_CHECK(r->value.has_value());
}

CAF_TEST(sqlite_schema_migration_from_version_1_backfills) {
  old_database(1, [](SQLite::Database& db) {
    CAF_CHECK(!db.tableExists("user_conversations"));
    db.exec("INSERT INTO messages (id, conversation_id, sender_id, content, type, created_at) VALUES "
            "('a', 'c1', 'alice', 'x', 'text', 100), ('b', 'c2', 'alice', 'y', 'text', 300), "
            "('c', 'c1', 'alice', 'z', 'text', 200)");
  });
  start(10, 1s, false);
  CAF_CHECK_EQUAL(sqlite->schema_version(), ps::sqlite_store::latest_schema_version());
  auto r = ask_now<chat::conversation_list>(chat::list_active_conversations{"alice", 10});
  CAF_REQUIRE(r->value.has_value());
  CAF_REQUIRE_EQUAL(r->value->conversations.size(), 2u);
  CAF_CHECK_EQUAL(r->value->conversations[0].conversation_id, "c2");
  CAF_CHECK_EQUAL(r->value->conversations[1].conversation_id, "c1");
  CAF_CHECK_EQUAL(r->value->conversations[1].last_sent_at, 200);
  CAF_CHECK_EQUAL(count(), 3);
}

CAF_TEST(sqlite_schema_migration_from_version_5_drops_clear_pids_and_adds_nodes) {
  // Version 5 kept pids in clear: its records are dropped (no lookup could find them).
  old_database(5, [](SQLite::Database& db) {
    db.exec("INSERT INTO recovery_sockets (pid, nsp, sid, rooms, data, updated_at, disconnected_at) VALUES "
            "('p', '/', 's', x'', '{}', 1000, 0)");
  });
  ps::sqlite_store s(sqlite_opts());
  CAF_CHECK_EQUAL(s.schema_version(), ps::sqlite_store::latest_schema_version());
  using outcome = ps::recovery_take_result::outcome;
  CAF_CHECK(s.recovery_take("/", "p", "o", 0, 10).result == outcome::unknown);
  // The new column: a connected socket's node, parked by it.
  s.recovery_save(ps::recovery_record{"q", "/", "s", {"s"}, "{}", 1000, 0, "nodeA"});
  CAF_CHECK(s.recovery_take("/", "q", "o", 0, 10).result == outcome::connected);
  CAF_CHECK_EQUAL(s.recovery_park_node("nodeA", 2000), 1);
  CAF_CHECK(s.recovery_take("/", "q", "o", 0, 10).result == outcome::offset_unknown);
}

CAF_TEST(sqlite_schema_migration_from_version_3_makes_senders_participants) {
  old_database(3, [](SQLite::Database& db) {
    CAF_CHECK(!db.tableExists("conversation_participants"));
    db.exec("INSERT INTO messages (id, conversation_id, sender_id, content, type, created_at) VALUES "
            "('a', 'c1', 'alice', 'x', 'text', 100), ('b', 'c1', 'bob', 'y', 'text', 300), "
            "('c', 'c1', 'alice', 'z', 'text', 200), ('d', 'c2', 'bob', 'w', 'text', 400)");
  });
  start(10, 1s, false);
  CAF_CHECK_EQUAL(sqlite->schema_version(), ps::sqlite_store::latest_schema_version());
  auto c1 = ask_now<ps::participant_list>(chat::get_participants{"c1"});
  CAF_REQUIRE(c1->value.has_value());
  CAF_CHECK(c1->value->open);
  CAF_CHECK_EQUAL(c1->value->user_ids, (std::vector<std::string>{"alice", "bob"}));
  auto c2 = ask_now<ps::participant_list>(chat::get_participants{"c2"});
  CAF_REQUIRE(c2->value.has_value());
  CAF_CHECK_EQUAL(c2->value->user_ids, (std::vector<std::string>{"bob"}));
  ps::history_query q{"c2", std::nullopt, std::nullopt, 10};
  CAF_CHECK(ask_now<ps::history_page>(chat::read_history{q, "bob"})->value.has_value());
  CAF_CHECK(
      ask_now<ps::history_page>(chat::read_history{q, "alice"})->failed_with(chat::persistence_errc::not_participant));
}

CAF_TEST(sqlite_newer_schema_is_refused) {
  { ps::sqlite_store s(sqlite_opts()); }
  {
    SQLite::Database db(db_path(), SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version = 99");
  }
  bool refused = false;
  try {
    ps::sqlite_store s(sqlite_opts());
  } catch (const std::exception& e) {
    refused = std::string(e.what()).find("newer") != std::string::npos;
  }
  CAF_CHECK(refused);
}

#endif // !PERSISTENCE_MONGO

#ifdef PERSISTENCE_MONGO

// -- MongoDB's own workings -------------------------------------------------------------------

namespace {

// The test database read straight through libmongoc, as another tool would see it.
struct raw_database {
  mongoc_uri_t* uri = nullptr;
  mongoc_client_t* client = nullptr;
  std::string db;

  explicit raw_database(const std::string& where) {
    uri = mongoc_uri_new(where.c_str());
    client = mongoc_client_new_from_uri(uri);
    db = mongoc_uri_get_database(uri);
  }
  ~raw_database() {
    mongoc_client_destroy(client);
    mongoc_uri_destroy(uri);
  }
  raw_database(const raw_database&) = delete;
  raw_database& operator=(const raw_database&) = delete;

  // The BSON type of `field` in the first document `filter` finds: 0 when none is found,
  // BSON_TYPE_EOD (0 too) when the field is missing; `text` gets a string field's value.
  bson_type_t field_type(const char* collection, bson_t* filter, const char* field, std::string* text = nullptr) {
    auto* coll = mongoc_client_get_collection(client, db.c_str(), collection);
    auto* cursor = mongoc_collection_find_with_opts(coll, filter, nullptr, nullptr);
    const bson_t* d = nullptr;
    bson_type_t type = BSON_TYPE_EOD;
    bson_iter_t it;
    if (mongoc_cursor_next(cursor, &d) && bson_iter_init_find(&it, d, field)) {
      type = bson_iter_type(&it);
      if (text && type == BSON_TYPE_UTF8)
        *text = bson_iter_utf8(&it, nullptr);
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    bson_destroy(filter);
    return type;
  }

  std::vector<std::string> index_names(const char* collection) {
    std::vector<std::string> names;
    auto* coll = mongoc_client_get_collection(client, db.c_str(), collection);
    auto* cursor = mongoc_collection_find_indexes_with_opts(coll, nullptr);
    const bson_t* d = nullptr;
    bson_iter_t it;
    while (mongoc_cursor_next(cursor, &d))
      if (bson_iter_init_find(&it, d, "name") && BSON_ITER_HOLDS_UTF8(&it))
        names.emplace_back(bson_iter_utf8(&it, nullptr));
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    return names;
  }
};

bson_t* by_oid(const std::string& hex) {
  bson_oid_t oid;
  bson_oid_init_from_string(&oid, hex.c_str());
  return BCON_NEW("_id", BCON_OID(&oid));
}

} // namespace

CAF_TEST(mongo_documents_as_seed_002_keeps_them) {
  start(100, 1s, false);
  auto made = post(text("c1", "alice", "hello"));
  auto imported = post(text("c1", "bob", "imported", 1000, "m1"));
  ask<caf::ok_atom>(chat::record_connect{"s1", 1000});
  CAF_REQUIRE(ask_now<caf::ok_atom>(chat::flush_atom::value)->value.has_value());
  CAF_REQUIRE(made->value.has_value());
  CAF_REQUIRE(imported->value.has_value());
  raw_database raw(mongo_uri);
  // A message id this server makes is the document's ObjectId.
  const auto& id = made->value->id;
  CAF_CHECK_EQUAL(raw.field_type("messages", by_oid(id), "_id"), BSON_TYPE_OID);
  std::string conversation;
  CAF_CHECK_EQUAL(raw.field_type("messages", by_oid(id), "conversationId", &conversation), BSON_TYPE_UTF8);
  CAF_CHECK_EQUAL(conversation, "c1");
  CAF_CHECK_EQUAL(raw.field_type("messages", by_oid(id), "createdAt"), BSON_TYPE_DATE_TIME);
  CAF_CHECK_EQUAL(raw.field_type("messages", by_oid(id), "deleted"), BSON_TYPE_BOOL);
  CAF_CHECK_EQUAL(raw.field_type("messages", by_oid(id), "readBy"), BSON_TYPE_ARRAY);
  CAF_CHECK_EQUAL(raw.field_type("messages", by_oid(id), "messageId"), BSON_TYPE_EOD);
  // Any other id is kept beside a fresh ObjectId, and found again by it.
  CAF_CHECK_EQUAL(raw.field_type("messages", BCON_NEW("messageId", BCON_UTF8("m1")), "_id"), BSON_TYPE_OID);
  auto back = ask_now<ps::conversation_message>(chat::get_message{"m1"});
  CAF_REQUIRE(back->value.has_value());
  CAF_CHECK_EQUAL(back->value->content, "imported");
  CAF_CHECK_EQUAL(back->value->created_at, 1000);
  CAF_CHECK_EQUAL(raw.field_type("connections", BCON_NEW("socketId", BCON_UTF8("s1")), "connectedAt"),
                  BSON_TYPE_DATE_TIME);
  CAF_CHECK_EQUAL(raw.field_type("connections", BCON_NEW("socketId", BCON_UTF8("s1")), "disconnectedAt"),
                  BSON_TYPE_NULL);
  // The indexes history pages and the other queries walk.
  auto indexes = raw.index_names("messages");
  CAF_CHECK(std::find(indexes.begin(), indexes.end(), "history") != indexes.end());
  auto connection_indexes = raw.index_names("connections");
  CAF_CHECK(std::find(connection_indexes.begin(), connection_indexes.end(), "active") != connection_indexes.end());
  auto packet_indexes = raw.index_names("recovery_packets");
  CAF_CHECK(std::find(packet_indexes.begin(), packet_indexes.end(), "age") != packet_indexes.end());
  auto socket_indexes = raw.index_names("recovery_sockets");
  CAF_CHECK(std::find(socket_indexes.begin(), socket_indexes.end(), "node") != socket_indexes.end());
}

CAF_TEST(mongo_reads_in_a_batch_see_its_earlier_writes) {
  // One batch: a post, then writes that must read it. Each read sends the messages
  // collection's queued writes first; the rest of the batch goes at the commit.
  start(100, 1s, false);
  auto before = commits_so_far();
  auto posted = post(text("c1", "alice", "hi", 1000, "m1"));
  auto read = ask<ps::receipt>(chat::mark_read{"m1", "bob", 1001});
  auto edited = ask<ps::conversation_message>(chat::edit_message{"m1", "hi!", "alice", 1002});
  auto again = post(text("c1", "bob", "same id", 1003, "m1"));
  auto joined = ask<caf::ok_atom>(chat::join_conversation{"c9", "carol", true, 1004});
  auto listed = ask<ps::participant_list>(chat::add_participants{"c9", {"dave"}, 1005});
  CAF_REQUIRE(ask_now<caf::ok_atom>(chat::flush_atom::value)->value.has_value());
  CAF_CHECK(posted->value.has_value());
  CAF_REQUIRE(read->value.has_value());
  CAF_CHECK_EQUAL(read->value->conversation_id, "c1");
  CAF_REQUIRE(edited->value.has_value());
  CAF_CHECK_EQUAL(edited->value->read_by, (std::vector<std::string>{"bob"}));
  CAF_CHECK(again->failed_with(chat::persistence_errc::duplicate));
  CAF_CHECK(joined->value.has_value());
  CAF_REQUIRE(listed->value.has_value());
  CAF_CHECK_EQUAL(listed->value->user_ids, (std::vector<std::string>{"carol", "dave"}));
  // messages x3 (before the receipt's, the edit's and the duplicate check's reads),
  // conversations x2 (before add_participants' read, then at the commit: the post's
  // latest-message time went with the first), user_conversations x1.
  CAF_CHECK_EQUAL(commits_so_far() - before, 6u);
  auto m = ask_now<ps::conversation_message>(chat::get_message{"m1"});
  CAF_REQUIRE(m->value.has_value());
  CAF_CHECK_EQUAL(m->value->content, "hi!");
  CAF_CHECK(m->value->edited_at == std::optional<ps::timestamp_ms>(1002));
  CAF_CHECK_EQUAL(m->value->delivered_to, (std::vector<std::string>{"bob"}));
}

CAF_TEST(mongo_bad_or_unreachable_server_is_refused) {
  auto refusal = [](const std::string& uri) -> std::string {
    try {
      ps::mongo_store s(ps::mongo_options{uri});
    } catch (const std::exception& e) {
      return e.what();
    }
    return "opened";
  };
  auto bad = refusal("mongodb://");
  CAF_MESSAGE(bad);
  CAF_CHECK(bad.find("bad connection string") != std::string::npos);
  // Nothing listens on port 1: refused within serverSelectionTimeoutMS.
  auto unacknowledged = refusal("mongodb://127.0.0.1:1/chat?w=0");
  CAF_MESSAGE(unacknowledged);
  CAF_CHECK(unacknowledged.find("w=0 is refused") != std::string::npos);
  CAF_CHECK(ps::mongo_store::check_uri("mongodb://127.0.0.1/chat?w=majority&journal=true") == std::nullopt);
  auto gone = refusal("mongodb://127.0.0.1:1/chat?serverSelectionTimeoutMS=300");
  CAF_MESSAGE(gone);
  CAF_CHECK(gone.find("does not answer") != std::string::npos);
}

#endif // PERSISTENCE_MONGO

// -- messages from elsewhere ---------------------------------------------------------------

CAF_TEST(a_stray_error_message_does_not_stop_the_actor) {
  // In a cluster the actor takes messages from other nodes: an error message nobody asked
  // for (CAF's default ends the actor with it) is logged and the store keeps serving.
  start(1);
  caf::anon_send(persistence, chat::make_error(chat::persistence_errc::unavailable, "stray"));
  consume_messages();
  auto r = post(text("c1", "alice", "still here"));
  consume_messages();
  CAF_REQUIRE(r->answered());
  CAF_CHECK(r->value.has_value());
}

// -- message types ---------------------------------------------------------------------------

CAF_TEST(message_types_serialize) {
  auto m = text("c1", "alice", "file!", 1234, "m1");
  m.type = "file";
  m.file_url = "https://x/y.png";
  m.edited_at = 99;
  m.read_by = {"bob"};
  auto buf = serialize(chat::store_message{m});
  chat::store_message back;
  deserialize(buf, back);
  CAF_CHECK_EQUAL(back.message.id, "m1");
  CAF_CHECK(back.message.file_url == m.file_url);
  CAF_CHECK(!back.message.file_name);
  CAF_CHECK(back.message.edited_at == m.edited_at);
  CAF_CHECK(!back.message.deleted_at);
  CAF_CHECK_EQUAL(back.message.read_by, m.read_by);
  chat::last_seen_info never{"bob", std::nullopt};
  auto buf2 = serialize(never);
  chat::last_seen_info never_back{"x", 5};
  deserialize(buf2, never_back);
  CAF_CHECK_EQUAL(never_back.user_id, "bob");
  CAF_CHECK(!never_back.last_seen);
}

using sio_test::crossed;

CAF_TEST(every_request_and_answer_crosses_a_node) {
  auto m = text("c-1", "s-1", "content-1", 1001, "id-1");
  m.type = "image";
  m.file_url = "url-1";
  m.file_name = "name-1";
  m.edited_at = 1002;
  m.deleted = true;
  m.deleted_at = 1003;
  m.delivered_to = {"dt-1"};
  m.read_by = {"rb-1"};
  std::initializer_list<std::string> message_fields{"id-1",   "c-1",  "s-1",  "content-1", "image", "url-1",
                                                    "name-1", "1001", "1002", "1003",      "dt-1",  "rb-1"};
  auto back = crossed(sys, m, message_fields).file_name;
  CAF_CHECK(back == m.file_name);
  auto stored = crossed(sys, chat::store_message{m, true}, message_fields);
  CAF_CHECK(stored.message.deleted_at == m.deleted_at);
  CAF_CHECK(stored.as_participant);
  crossed(sys, chat::edit_message{"e-1", "e-2", "e-3", 2001, true}, {"e-1", "e-2", "e-3", "2001", "true"});
  crossed(sys, chat::delete_message{"d-1", "d-2", 2002, true}, {"d-1", "d-2", "2002", "true"});
  crossed(sys, chat::mark_delivered{"md-1", "md-2", 2003, true}, {"md-1", "md-2", "2003", "true"});
  crossed(sys, chat::mark_read{"mr-1", "mr-2", 2004, true}, {"mr-1", "mr-2", "2004", "true"});
  CAF_CHECK(
      !crossed(sys, chat::join_conversation{"j-1", "j-2", false, 2005}, {"j-1", "j-2", "false", "2005"}).open_join);
  crossed(sys, chat::add_participants{"a-1", {"a-2", "a-3"}, 2006}, {"a-1", "a-2", "a-3", "2006"});
  crossed(sys, chat::remove_participant{"r-1", "r-2", 2007}, {"r-1", "r-2", "2007"});
  crossed(sys, chat::log_platform_message{ps::platform_message{"p-1", "p-2", "p-3", "p-4", 2008}},
          {"p-1", "p-2", "p-3", "p-4", "2008"});
  crossed(sys, chat::record_connect{"rc-1", 2009}, {"rc-1", "2009"});
  crossed(sys, chat::record_identify{"ri-1", "ri-2", "ri-3", "ri-4", 2010}, {"ri-1", "ri-2", "ri-3", "ri-4", "2010"});
  crossed(sys, chat::record_disconnect{"rd-1", 2011}, {"rd-1", "2011"});
  crossed(sys, chat::close_open_connections{2012, "pre-1"}, {"2012", "pre-1"});
  crossed(sys, chat::update_last_seen{"u-1", 2013}, {"u-1", "2013"});
  crossed(sys, chat::get_message{"g-1"}, {"g-1"});
  ps::history_query q{"h-1", std::string("h-2"), 2014, 77};
  auto q_back = crossed(sys, q, {"h-1", "h-2", "2014", "77"});
  CAF_CHECK(q_back.before_id == q.before_id && q_back.before == q.before);
  auto rh = crossed(sys, chat::read_history{q, "h-3"}, {"h-1", "h-2", "2014", "77", "h-3"});
  CAF_CHECK(rh.query.before == q.before);
  crossed(sys, chat::count_messages{"cm-1"}, {"cm-1"});
  crossed(sys, chat::count_platform_messages{}, {"count_platform_messages"});
  crossed(sys, chat::get_connection_totals{}, {"get_connection_totals"});
  crossed(sys, chat::list_active_connections{78}, {"78"});
  crossed(sys, chat::get_last_seen{"gl-1"}, {"gl-1"});
  crossed(sys, chat::list_active_conversations{"lc-1", 79}, {"lc-1", "79"});
  crossed(sys, chat::get_participants{"gp-1"}, {"gp-1"});
  crossed(sys, chat::get_persistence_stats{}, {"get_persistence_stats"});
  crossed(sys, chat::flush_atom::value, {"flush"});
  crossed(sys, chat::shutdown_atom::value, {"shutdown"});
  // Answers.
  crossed(sys, ps::receipt{"rm-1", "rc-1", "ru-1", 3001}, {"rm-1", "rc-1", "ru-1", "3001"});
  crossed(sys, ps::participant_list{"pl-1", false, {"pl-2"}}, {"pl-1", "false", "pl-2"});
  crossed(sys, ps::history_page{{m}, true}, message_fields);
  crossed(sys, std::int64_t{3002}, {"3002"});
  crossed(sys, caf::ok_atom::value, {"ok"});
  crossed(sys, ps::connection_totals{3003, 3004, {ps::platform_count{"pc-1", 3005, 3006}}},
          {"3003", "3004", "pc-1", "3005", "3006"});
  ps::connection_record rec{"cr-1", std::string("cr-2"), std::string("cr-3"), std::string("cr-4"), 3007, 3008};
  auto rec_back = crossed(sys, chat::connection_list{{rec}}, {"cr-1", "cr-2", "cr-3", "cr-4", "3007", "3008"});
  CAF_REQUIRE_EQUAL(rec_back.connections.size(), 1u);
  CAF_CHECK(rec_back.connections[0].disconnected_at == rec.disconnected_at);
  CAF_CHECK(rec_back.connections[0].app_version == rec.app_version);
  CAF_CHECK(crossed(sys, chat::last_seen_info{"ls-1", 3009}, {"ls-1", "3009"}).last_seen == 3009);
  crossed(sys, chat::conversation_list{{ps::active_conversation{"ac-1", 3010, 3011}}}, {"ac-1", "3010", "3011"});
  crossed(sys, chat::persistence_stats{4001, 4002, 4003, 4004, 4005}, {"4001", "4002", "4003", "4004", "4005"});
  // A refusal crosses with its category, code and reason.
  auto err = crossed(sys, chat::make_error(chat::persistence_errc::not_participant, "why-1"), {"why-1"});
  CAF_CHECK_EQUAL(err.category(), chat::persistence_error_category);
  CAF_CHECK_EQUAL(err.code(), static_cast<std::uint8_t>(chat::persistence_errc::not_participant));
  CAF_CHECK_EQUAL(sys.render(err), "persistence: not_participant (why-1)");
}

CAF_TEST_FIXTURE_SCOPE_END()
