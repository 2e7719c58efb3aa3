// The Admin UI's pieces in plain code: bcrypt checks through libxcrypt, the login budget and
// sessions (apps/chat-server/admin_ui_auth.cpp), a socket as the UI shows it
// (admin_ui_socket.cpp), the activity filters the UI and the console watch with
// (actors/activity), and a socket's JSON description both ways (actors/remote_socket_json).
#define CAF_SUITE admin_ui
#include <caf/test/unit_test_impl.hpp>

#include "actors/activity.hpp"
#include "actors/remote_socket_json.hpp"
#include "apps/chat-server/admin_ui.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <crypt.h>

namespace json = boost::json;
using chat::admin_ui_auth;
using verdict = chat::admin_ui_auth::verdict;

namespace {

// The hash of "changeit" in socket.io admin-ui's README (checked against bcryptjs).
const std::string readme_hash = "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS";

/// A cheap hash (cost 4) of `password`, made by libxcrypt.
std::string hash_of(const std::string& password, const char* prefix = "$2b$") {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  CAF_REQUIRE(crypt_gensalt_rn(prefix, 4, nullptr, 0, salt, sizeof salt) != nullptr);
  crypt_data data{};
  auto* out = crypt_rn(password.c_str(), salt, &data, sizeof data);
  CAF_REQUIRE(out != nullptr);
  return out;
}

/// A socket on /chat with some of everything.
sio::remote_socket sample_socket() {
  sio::remote_socket s;
  s.id = "sock1";
  s.nsp = "/chat";
  s.client = "c42";
  s.transport = "websocket";
  s.rooms = {"sock1", "lobby"};
  s.address = "127.0.0.1";
  s.headers = {{"host", "127.0.0.1:3001"}, {"origin", "http://a.example"}};
  s.query = {{"EIO", "4"}, {"transport", "polling"}};
  s.issued_ms = 1665140000123;
  s.url = "/socket.io/?EIO=4&transport=polling";
  s.data = R"({"user":"ann","_admin":{"x":1}})";
  return s;
}

json::object login(const std::string& user, const std::string& password) {
  return json::object{{"username", user}, {"password", password}};
}

} // namespace

CAF_TEST(bcrypt_checks_the_readme_hash_and_the_three_prefixes) {
  CAF_CHECK(chat::bcrypt_matches("changeit", readme_hash));
  CAF_CHECK(!chat::bcrypt_matches("changeIt", readme_hash));
  CAF_CHECK(!chat::bcrypt_matches("", readme_hash));
  for (const char* prefix : {"$2a$", "$2b$", "$2y$"}) {
    auto h = hash_of("s3cret", prefix);
    CAF_CHECK(chat::bcrypt_matches("s3cret", h));
    CAF_CHECK(!chat::bcrypt_matches("s3cret ", h));
  }
}

CAF_TEST(bcrypt_reads_72_bytes_and_refuses_a_nul) {
  auto h = hash_of(std::string(72, 'a'));
  CAF_CHECK(chat::bcrypt_matches(std::string(72, 'a') + "zzz", h)); // as bcryptjs
  CAF_CHECK(!chat::bcrypt_matches(std::string(71, 'a'), h));
  auto with_nul = hash_of("ab");
  CAF_CHECK(!chat::bcrypt_matches(std::string("ab\0cd", 5), with_nul));
}

CAF_TEST(hash_problems_are_named) {
  CAF_CHECK_EQUAL(chat::admin_ui_hash_problem(readme_hash), "");
  CAF_CHECK_EQUAL(chat::admin_ui_hash_problem(hash_of("x", "$2y$")), "");
  CAF_CHECK_NOT_EQUAL(chat::admin_ui_hash_problem("changeit"), "");
  CAF_CHECK_NOT_EQUAL(chat::admin_ui_hash_problem(readme_hash.substr(0, 59)), "");
  auto x = readme_hash;
  x[2] = 'x'; // $2x$: bcryptjs refuses it too
  CAF_CHECK_NOT_EQUAL(chat::admin_ui_hash_problem(x), "");
  auto cheap = readme_hash;
  cheap.replace(4, 2, "03");
  CAF_CHECK_EQUAL(chat::admin_ui_hash_problem(cheap), "a bcrypt cost must be 4 to 31");
}

CAF_TEST(a_login_makes_a_session_the_ui_reconnects_with) {
  admin_ui_auth auth("admin", hash_of("pw"));
  auto t0 = std::chrono::steady_clock::now();
  std::string session;
  CAF_CHECK(auth.check(login("admin", "pw"), "10.0.0.1", session, t0) == verdict::login);
  CAF_CHECK_EQUAL(session.size(), 16u);
  CAF_CHECK_EQUAL(session.find_first_not_of("0123456789abcdef"), std::string::npos);
  std::string unused;
  CAF_CHECK(auth.check(json::object{{"sessionId", session}}, "10.0.0.2", unused, t0) == verdict::session);
  CAF_CHECK(unused.empty());
  // Unknown, null, or past its 24 hours: no session.
  CAF_CHECK(auth.check(json::object{{"sessionId", "0123456789abcdef"}}, "10.0.0.2", unused, t0) == verdict::refused);
  CAF_CHECK(auth.check(json::object{{"sessionId", nullptr}}, "10.0.0.2", unused, t0) == verdict::refused);
  CAF_CHECK(auth.check(json::object{{"sessionId", session}}, "10.0.0.2", unused, t0 + std::chrono::hours(25))
            == verdict::refused);
}

CAF_TEST(wrong_user_wrong_password_and_missing_fields_are_refused) {
  admin_ui_auth auth("admin", hash_of("pw"));
  std::string session;
  CAF_CHECK(auth.check(login("root", "pw"), "a", session) == verdict::refused);
  CAF_CHECK(auth.check(login("admin", "PW"), "a", session) == verdict::refused);
  CAF_CHECK(auth.check(json::object{{"username", "admin"}}, "a", session) == verdict::refused); // Node hangs here
  CAF_CHECK(auth.check(json::object{{"username", "admin"}, {"password", 5}}, "a", session) == verdict::refused);
  CAF_CHECK(auth.check(json::object{}, "a", session) == verdict::refused);
  CAF_CHECK(session.empty());
}

CAF_TEST(an_address_that_keeps_failing_waits_a_minute) {
  admin_ui_auth auth("admin", hash_of("pw"));
  auto t0 = std::chrono::steady_clock::now();
  std::string session;
  // Four a second, under the server's bcrypt budget (bcrypts_are_budgeted_over_the_server).
  for (std::size_t i = 0; i < admin_ui_auth::max_failures_per_minute; ++i)
    CAF_CHECK(auth.check(login("admin", "guess"), "10.0.0.9", session, t0 + std::chrono::milliseconds(250 * i))
              == verdict::refused);
  t0 += std::chrono::seconds(3);
  // Even the right password waits: the budget is spent before any bcrypt.
  CAF_CHECK(auth.check(login("admin", "pw"), "10.0.0.9", session, t0) == verdict::throttled);
  CAF_CHECK(auth.check(login("admin", "pw"), "10.0.0.10", session, t0) == verdict::login); // others are not
  CAF_CHECK(auth.check(login("admin", "pw"), "10.0.0.9", session, t0 + std::chrono::seconds(61)) == verdict::login);
}

CAF_TEST(bcrypts_are_budgeted_over_the_server) {
  admin_ui_auth auth("admin", hash_of("pw"));
  auto t0 = std::chrono::steady_clock::now();
  std::string session;
  // Each from its own address: the per-address budget is not what stops them.
  for (std::size_t i = 0; i < admin_ui_auth::max_bcrypts_per_second; ++i)
    CAF_CHECK(auth.check(login("admin", "guess"), "10.1.0." + std::to_string(i), session, t0) == verdict::refused);
  CAF_CHECK(auth.check(login("admin", "pw"), "10.2.0.1", session, t0) == verdict::busy);
  CAF_CHECK(auth.check(json::object{{"sessionId", "x"}}, "10.2.0.1", session, t0) == verdict::refused); // no bcrypt
  CAF_CHECK(auth.check(login("admin", "pw"), "10.2.0.1", session, t0 + std::chrono::seconds(1)) == verdict::login);
}

CAF_TEST(a_socket_as_the_ui_shows_it) {
  auto s = sample_socket();
  s.auth = R"({"password":"secret"})";
  auto v = chat::admin_ui_socket(s);
  std::vector<std::string> keys;
  for (auto& [k, val] : v)
    keys.emplace_back(k);
  CAF_CHECK_EQUAL(keys, (std::vector<std::string>{"id", "clientId", "transport", "nsp", "data", "handshake", "rooms"}));
  CAF_CHECK_EQUAL(json::serialize(v.at("data")), R"({"user":"ann"})");
  auto& hs = v.at("handshake").as_object();
  CAF_CHECK(!hs.contains("auth")); // never: an admin socket's holds the password
  CAF_CHECK_EQUAL(hs.at("issued").as_int64(), 1665140000123);
  CAF_CHECK_EQUAL(hs.at("time").as_string(), "Fri Oct 07 2022 10:53:20 GMT+0000 (Coordinated Universal Time)");
  CAF_CHECK_EQUAL(hs.at("xdomain").as_bool(), true);
  CAF_CHECK_EQUAL(hs.at("query").at("EIO").as_string(), "4");
  CAF_CHECK_EQUAL(json::serialize(v.at("rooms")), R"(["sock1","lobby"])");
  // Data that is not an object shows as {} (the UI renders an object).
  s.data = "[1]";
  CAF_CHECK_EQUAL(json::serialize(chat::admin_ui_socket(s).at("data")), "{}");
  CAF_CHECK_EQUAL(chat::iso_ms(1665140000123), "2022-10-07T10:53:20.123Z");
  CAF_CHECK_EQUAL(chat::iso_ms(5), "1970-01-01T00:00:00.005Z");
}

CAF_TEST(a_socket_description_round_trips_through_json) {
  auto s = sample_socket();
  s.node = "a";
  auto text = json::serialize(sio::remote_socket_to_json(s));
  CAF_CHECK(text.find("auth") == std::string::npos); // none given, none shown
  auto back = sio::remote_socket_from_json(json::parse(text));
  CAF_REQUIRE(back);
  CAF_CHECK_EQUAL(back->id, s.id);
  CAF_CHECK_EQUAL(back->client, s.client);
  CAF_CHECK_EQUAL(back->rooms, s.rooms);
  CAF_CHECK_EQUAL(back->headers, s.headers);
  CAF_CHECK_EQUAL(back->query, s.query);
  CAF_CHECK_EQUAL(back->issued_ms, s.issued_ms);
  CAF_CHECK_EQUAL(back->url, s.url);
  CAF_CHECK_EQUAL(back->data, s.data);
  CAF_CHECK(!sio::remote_socket_from_json(json::parse(R"({"nsp":"/"})"))); // no id
  CAF_CHECK(!sio::remote_socket_from_json(json::parse("[1]")));
}

CAF_TEST(activity_filters_pick_kinds_namespaces_and_events) {
  sio::activity_filter all;
  CAF_CHECK(all.wants("connect", "/", "", true));
  CAF_CHECK(all.wants("emit", "/x", "hi", true));
  CAF_CHECK(!all.wants("nonsense", "/", "", true));
  sio::activity_filter ui;
  ui.kinds = sio::activity_all & ~sio::activity_broadcast;
  ui.quiet_nsp = "/socket-admin";
  CAF_CHECK(!ui.wants("broadcast", "/", "hi", false));
  CAF_CHECK(!ui.wants("event", "/socket-admin", "emit", true)); // its own traffic
  CAF_CHECK(!ui.wants("emit", "/socket-admin", "config", true));
  CAF_CHECK(ui.wants("connect", "/socket-admin", "websocket", true)); // its sockets are listed
  CAF_CHECK(ui.wants("event", "/", "hi", true));
  sio::activity_filter tail;
  tail.nsp = "/";
  tail.event = "typing";
  CAF_CHECK(tail.wants("event", "/", "typing", true));
  CAF_CHECK(tail.wants("emit", "/", "typing", true));
  CAF_CHECK(tail.wants("broadcast", "/", "", false)); // read once it is made
  CAF_CHECK(!tail.wants("event", "/", "other", true));
  CAF_CHECK(!tail.wants("join", "/", "typing", true));
  CAF_CHECK(!tail.wants("event", "/chat", "typing", true));
}
