// Pusher's signatures against vectors computed apart from our code: with
// `printf '%s' MESSAGE | openssl dgst -sha256 -hmac SECRET -hex` and `md5sum` (OpenSSL
// 3.0 CLI, coreutils), on the credentials of Pusher's worked examples (key
// 278d425bdf160c739803, secret 7ad3773142a6692b25b8, socket 1234.1234, app 3, timestamp
// 1353088179; docs/channels/library_auth_reference/auth-signatures and rest-api).
#define CAF_SUITE pusher_signature
#include <caf/test/unit_test_impl.hpp>

#include "transport/pusher/signature.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

using namespace pusher;

namespace {

using query_list = std::vector<std::pair<std::string, std::string>>;

app docs_app() {
  app a;
  a.id = "3";
  a.key = "278d425bdf160c739803";
  a.secret = "7ad3773142a6692b25b8";
  return a;
}

constexpr std::int64_t docs_time = 1353088179;
// The REST example's body (trigger "foo" on "project-3" with {"some":"data"}).
const std::string docs_body = R"({"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"})";
constexpr const char* docs_body_md5 = "ec365a775a4cd0599faeb73354201b6f";
// HMAC of "POST\n/apps/3/events\nauth_key=...&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec36...".
constexpr const char* docs_signature = "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c";

query_list docs_query() {
  return {{"auth_key", "278d425bdf160c739803"},
          {"auth_timestamp", "1353088179"},
          {"auth_version", "1.0"},
          {"body_md5", docs_body_md5},
          {"auth_signature", docs_signature}};
}

int status_of(const std::optional<request_refusal>& r) {
  return r ? r->status : 0;
}

} // namespace

CAF_TEST(hmac_and_md5_match_known_vectors) {
  // RFC 4231, test case 2.
  CAF_CHECK_EQUAL(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
                  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // RFC 1321's empty string; the pangram's digest as md5sum prints it.
  CAF_CHECK_EQUAL(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  CAF_CHECK_EQUAL(md5_hex("The quick brown fox jumps over the lazy dog"), "9e107d9d372bb6826bd81d3542a419d6");
  CAF_CHECK_EQUAL(md5_hex(docs_body), docs_body_md5);
}

CAF_TEST(digest_equals_compares_whole_strings) {
  CAF_CHECK(digest_equals("abc", "abc"));
  CAF_CHECK(!digest_equals("abc", "abd"));
  CAF_CHECK(!digest_equals("abc", "abcd"));
  CAF_CHECK(digest_equals("", ""));
}

CAF_TEST(private_channel_auth_is_the_docs_example) {
  auto a = docs_app();
  const std::string expected = "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4";
  CAF_CHECK_EQUAL(channel_auth(a, "1234.1234", "private-foobar", std::nullopt), expected);
  CAF_CHECK(channel_auth_valid(a, expected, "1234.1234", "private-foobar", std::nullopt));
  // Another socket, channel, key, or a signature for presence data: refused.
  CAF_CHECK(!channel_auth_valid(a, expected, "1234.1235", "private-foobar", std::nullopt));
  CAF_CHECK(!channel_auth_valid(a, expected, "1234.1234", "private-foobaz", std::nullopt));
  CAF_CHECK(!channel_auth_valid(a, expected, "1234.1234", "private-foobar", std::string_view("{}")));
  CAF_CHECK(!channel_auth_valid(a, "other:" + expected.substr(21), "1234.1234", "private-foobar", std::nullopt));
  CAF_CHECK(!channel_auth_valid(a, expected.substr(21), "1234.1234", "private-foobar", std::nullopt));
  CAF_CHECK(!channel_auth_valid(a, "", "1234.1234", "private-foobar", std::nullopt));
  CAF_CHECK(!channel_auth_valid(a, expected + "0", "1234.1234", "private-foobar", std::nullopt));
}

CAF_TEST(presence_channel_auth_signs_channel_data) {
  auto a = docs_app();
  const std::string data = R"({"user_id":10,"user_info":{"name":"Mr. Pusher"}})";
  const std::string expected = "278d425bdf160c739803:afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c";
  CAF_CHECK_EQUAL(channel_auth(a, "1234.1234", "presence-foobar", std::string_view(data)), expected);
  CAF_CHECK(channel_auth_valid(a, expected, "1234.1234", "presence-foobar", std::string_view(data)));
  // Other member data under the same signature: refused.
  CAF_CHECK(!channel_auth_valid(a, expected, "1234.1234", "presence-foobar",
                                std::string_view(R"({"user_id":11,"user_info":{"name":"Mr. Pusher"}})")));
  CAF_CHECK(!channel_auth_valid(a, expected, "1234.1234", "presence-foobar", std::nullopt));
}

CAF_TEST(user_auth_signs_socket_and_user_data) {
  auto a = docs_app();
  const std::string data = R"({"id":"12345"})";
  const std::string sig = "278d425bdf160c739803:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba";
  CAF_CHECK(user_auth_valid(a, sig, "1234.1234", data));
  CAF_CHECK(!user_auth_valid(a, sig, "1234.1234", R"({"id":"12346"})"));
  CAF_CHECK(!user_auth_valid(a, sig, "1234.1235", data));
}

CAF_TEST(verify_request_accepts_the_docs_example) {
  auto a = docs_app();
  CAF_CHECK_EQUAL(status_of(verify_request(a, "POST", "/apps/3/events", docs_query(), docs_body, docs_time)), 0);
  // Up to 600 s either way.
  CAF_CHECK_EQUAL(status_of(verify_request(a, "POST", "/apps/3/events", docs_query(), docs_body, docs_time + 600)), 0);
  CAF_CHECK_EQUAL(status_of(verify_request(a, "POST", "/apps/3/events", docs_query(), docs_body, docs_time - 600)), 0);
  // Parameter order on the wire does not matter, nor the case of a key.
  auto q = docs_query();
  std::reverse(q.begin(), q.end());
  CAF_CHECK_EQUAL(status_of(verify_request(a, "POST", "/apps/3/events", q, docs_body, docs_time)), 0);
}

CAF_TEST(verify_request_sorts_every_parameter) {
  auto a = docs_app();
  // HMAC of "GET\n/apps/3/channels\nauth_key=...&auth_timestamp=1353088179&auth_version=1.0
  // &filter_by_prefix=presence-&info=user_count".
  query_list q{{"info", "user_count"},
               {"auth_signature", "16819168891cb5dfd72b5c7a5d3d602605b26c6ba1930033b5e2eeeb65010291"},
               {"filter_by_prefix", "presence-"},
               {"auth_version", "1.0"},
               {"auth_timestamp", "1353088179"},
               {"auth_key", "278d425bdf160c739803"}};
  CAF_CHECK_EQUAL(status_of(verify_request(a, "GET", "/apps/3/channels", q, "", docs_time)), 0);
  // Signed keys are lowercased: INFO signs as info.
  q[0].first = "INFO";
  CAF_CHECK_EQUAL(status_of(verify_request(a, "GET", "/apps/3/channels", q, "", docs_time)), 0);
  // A parameter changed or added after signing breaks it.
  q[0].second = "subscription_count";
  CAF_CHECK_EQUAL(status_of(verify_request(a, "GET", "/apps/3/channels", q, "", docs_time)), 401);
  q[0].second = "user_count";
  q.emplace_back("extra", "1");
  CAF_CHECK_EQUAL(status_of(verify_request(a, "GET", "/apps/3/channels", q, "", docs_time)), 401);
  // The method and the path are signed too.
  q.pop_back();
  CAF_CHECK_EQUAL(status_of(verify_request(a, "POST", "/apps/3/channels", q, "", docs_time)), 401);
  CAF_CHECK_EQUAL(status_of(verify_request(a, "GET", "/apps/4/channels", q, "", docs_time)), 401);
}

CAF_TEST(verify_request_signs_the_decoded_path) {
  auto a = docs_app();
  // HMAC of "POST\n/apps/3/users/u 1/terminate_connections\nauth_key=...&auth_timestamp=1353088179
  // &auth_version=1.0&body_md5=99914b932bd37a50b983c5e7c90ae93b" (md5 of "{}").
  query_list q{{"auth_key", "278d425bdf160c739803"},
               {"auth_timestamp", "1353088179"},
               {"auth_version", "1.0"},
               {"body_md5", "99914b932bd37a50b983c5e7c90ae93b"},
               {"auth_signature", "8b02fa5c413c4f47396086c5df755ac659b1097ae2b97cca6bd583d925d5699d"}};
  CAF_CHECK_EQUAL(status_of(verify_request(a, "POST", "/apps/3/users/u 1/terminate_connections", q, "{}", docs_time)),
                  0);
  CAF_CHECK_EQUAL(status_of(verify_request(a, "POST", "/apps/3/users/u%201/terminate_connections", q, "{}", docs_time)),
                  401);
}

CAF_TEST(verify_request_refuses_each_bad_part) {
  auto a = docs_app();
  auto check = [&](query_list q, std::string_view body, std::int64_t now, const char* what) {
    auto r = verify_request(a, "POST", "/apps/3/events", q, body, now);
    CAF_MESSAGE(what << ": " << (r ? r->message : std::string("accepted")));
    CAF_CHECK_EQUAL(status_of(r), 401);
  };
  auto with = [](std::string key, std::string value) {
    auto q = docs_query();
    for (auto& [k, v] : q)
      if (k == key)
        v = value;
    return q;
  };
  auto without = [](std::string key) {
    auto q = docs_query();
    q.erase(std::remove_if(q.begin(), q.end(), [&](auto& p) { return p.first == key; }), q.end());
    return q;
  };
  check(docs_query(), docs_body, docs_time + 601, "a timestamp 601 s old");
  check(docs_query(), docs_body, docs_time - 601, "a timestamp 601 s ahead");
  check(docs_query(), docs_body, INT64_MIN, "a clock far behind (no overflow)");
  check(docs_query(), docs_body, INT64_MAX, "a clock far ahead (no overflow)");
  check(with("auth_timestamp", "-9223372036854775808"), docs_body, docs_time, "the lowest timestamp");
  check(with("auth_timestamp", "9223372036854775807"), docs_body, INT64_MIN, "the farthest apart");
  check(with("auth_timestamp", "1353088179x"), docs_body, docs_time, "a timestamp that is not a number");
  check(with("auth_timestamp", "99999999999999999999999"), docs_body, docs_time, "a timestamp out of range");
  check(with("auth_key", "278d425bdf160c739804"), docs_body, docs_time, "another app's key");
  check(with("auth_version", "2.0"), docs_body, docs_time, "another auth_version");
  check(with("auth_signature", std::string(docs_signature).substr(1)), docs_body, docs_time, "a short signature");
  check(with("auth_signature", "DA454824C97BA181A32CCC17A72625BA02771F50B50E1E7430E47A1F3F457E6C"), docs_body,
        docs_time, "the signature in uppercase");
  check(with("body_md5", "ec365a775a4cd0599faeb73354201b6e"), docs_body, docs_time, "another body_md5");
  check(docs_query(), docs_body + " ", docs_time, "a body changed after signing");
  check(without("body_md5"), docs_body, docs_time, "a body without body_md5");
  for (auto* key : {"auth_key", "auth_timestamp", "auth_version", "auth_signature"})
    check(without(key), docs_body, docs_time, key);
  auto twice = docs_query();
  twice.emplace_back("auth_key", "278d425bdf160c739803");
  check(twice, docs_body, docs_time, "auth_key twice");
}
