// The pusher-app setting (ID:KEY:SECRET[;options]) and the registry of apps: lookups,
// and the per-app connection count that enforces max-connections.
#define CAF_SUITE pusher_app
#include <caf/test/unit_test_impl.hpp>

#include "transport/pusher/app.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace pusher;

namespace {

app parsed(std::string_view spec) {
  std::string error;
  auto a = parse_app(spec, error);
  if (!a)
    CAF_MESSAGE(std::string(spec) << ": " << error);
  CAF_REQUIRE(a.has_value());
  return *a;
}

std::string refusal(std::string_view spec) {
  std::string error;
  auto a = parse_app(spec, error);
  CAF_MESSAGE(std::string(spec) << ": " << (a ? std::string("accepted") : error));
  CAF_CHECK(!a.has_value());
  CAF_CHECK(!error.empty());
  return error;
}

} // namespace

CAF_TEST(credentials_alone_take_the_defaults) {
  auto a = parsed("app-1:key.1:s3cr3t/+=");
  CAF_CHECK_EQUAL(a.id, "app-1");
  CAF_CHECK_EQUAL(a.key, "key.1");
  CAF_CHECK_EQUAL(a.secret, "s3cr3t/+=");
  CAF_CHECK(a.allowed_origins.empty());
  CAF_CHECK_EQUAL(a.activity_timeout.count(), 30);
  CAF_CHECK_EQUAL(a.max_connections, 0u);
  CAF_CHECK(a.nsp.empty());
}

CAF_TEST(options_set_origins_timeout_limit_and_namespace) {
  auto a = parsed("1:k:s;origins=https://a.example|http://b.example:8080;activity-timeout=120;max-connections=5;"
                  "namespace=/reverb");
  CAF_REQUIRE_EQUAL(a.allowed_origins.size(), 2u);
  CAF_CHECK_EQUAL(a.allowed_origins[0], "https://a.example");
  CAF_CHECK_EQUAL(a.allowed_origins[1], "http://b.example:8080");
  CAF_CHECK_EQUAL(a.activity_timeout.count(), 120);
  CAF_CHECK_EQUAL(a.max_connections, 5u);
  CAF_CHECK_EQUAL(a.nsp, "/reverb");
}

CAF_TEST(malformed_specs_are_refused_with_a_reason) {
  for (auto* spec : {"",
                     "1:k",
                     "1:k:s:x",
                     ":k:s",
                     "1::s",
                     "1:k:",
                     "1/2:k:s",
                     "1:k y:s",
                     "1:k:s s",
                     "1:k:s;",
                     "1:k:s;origins",
                     "1:k:s;origins=",
                     "1:k:s;origins=a||b",
                     "1:k:s;activity-timeout=0",
                     "1:k:s;activity-timeout=3601",
                     "1:k:s;activity-timeout=-1",
                     "1:k:s;activity-timeout=1x",
                     "1:k:s;max-connections=many",
                     "1:k:s;max-connections=-1",
                     "1:k:s;namespace=reverb",
                     "1:k:s;namespace=",
                     "1:k:s;colour=blue",
                     "1:k:s;max-connections=1;max-connections=2"})
    refusal(spec);
  CAF_CHECK_EQUAL(refusal("1:k:s;colour=blue"), "unknown option 'colour'");
  CAF_CHECK_EQUAL(refusal("1:k"), "expected ID:KEY:SECRET");
  // Each field is bounded.
  refusal(std::string(201, 'i') + ":k:s");
  refusal("1:" + std::string(201, 'k') + ":s");
  refusal("1:k:" + std::string(201, 's'));
  parsed(std::string(200, 'i') + ":k:s");
}

CAF_TEST(registry_finds_apps_by_key_and_id) {
  app_registry none;
  CAF_CHECK(none.empty());
  CAF_CHECK(none.by_key("k") == nullptr);
  app_registry r({parsed("1:key-one:s1"), parsed("2:key-two:s2")});
  CAF_CHECK(!r.empty());
  CAF_CHECK_EQUAL(r.all().size(), 2u);
  CAF_REQUIRE(r.by_key("key-two") != nullptr);
  CAF_CHECK_EQUAL(r.by_key("key-two")->id, "2");
  CAF_REQUIRE(r.by_id("1") != nullptr);
  CAF_CHECK_EQUAL(r.by_id("1")->key, "key-one");
  // A key is not an id, nor the other way round.
  CAF_CHECK(r.by_key("1") == nullptr);
  CAF_CHECK(r.by_id("key-one") == nullptr);
  CAF_CHECK(r.by_id("") == nullptr);
}

CAF_TEST(try_admit_holds_each_app_to_its_max_connections) {
  app_registry r({parsed("1:k1:s;max-connections=2"), parsed("2:k2:s")});
  auto& limited = *r.by_id("1");
  auto& open = *r.by_id("2");
  CAF_CHECK(r.try_admit(limited));
  CAF_CHECK(r.try_admit(limited));
  CAF_CHECK(!r.try_admit(limited));
  CAF_CHECK_EQUAL(r.connections(limited), 2u);
  r.release(limited);
  CAF_CHECK_EQUAL(r.connections(limited), 1u);
  CAF_CHECK(r.try_admit(limited));
  // Another app's count is its own; 0 means no limit.
  for (int i = 0; i < 1000; ++i)
    CAF_CHECK(r.try_admit(open));
  CAF_CHECK_EQUAL(r.connections(open), 1000u);
  // A copy of an app (same id) counts against the registry's own.
  app copy = limited;
  CAF_CHECK(!r.try_admit(copy));
  // An app the registry does not hold is never admitted; releasing it changes nothing.
  auto stranger = parsed("9:k9:s");
  CAF_CHECK(!r.try_admit(stranger));
  r.release(stranger);
  CAF_CHECK_EQUAL(r.connections(stranger), 0u);
}

CAF_TEST(try_admit_never_passes_the_limit_under_contention) {
  app_registry r({parsed("1:k:s;max-connections=100")});
  auto& a = *r.by_id("1");
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i)
        if (r.try_admit(a))
          ++admitted;
    });
  for (auto& t : threads)
    t.join();
  CAF_CHECK_EQUAL(admitted.load(), 100);
  CAF_CHECK_EQUAL(r.connections(a), 100u);
  for (int i = 0; i < 150; ++i)
    r.release(a);
  CAF_CHECK_EQUAL(r.connections(a), 0u);
}
