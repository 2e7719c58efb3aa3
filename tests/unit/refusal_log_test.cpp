#define CAF_SUITE refusal_log
#include <caf/test/unit_test_impl.hpp>

#include "transport/http/refusal_log.hpp"

using sio::http::refusal_log;
using namespace std::chrono_literals;

CAF_TEST(one_line_per_cause_and_interval) {
  refusal_log log(10s);
  refusal_log::clock::time_point t0{};
  // The first refusal is told at once; the next ones wait for the interval's end.
  CAF_CHECK_EQUAL(log.refused("too many open files", t0), "refused 1 connection: too many open files");
  for (int i = 1; i <= 40; ++i)
    CAF_CHECK_EQUAL(log.refused("too many open files", t0 + i * 100ms), "");
  // Another cause has its own line.
  CAF_CHECK_EQUAL(log.refused("over max-connections (5)", t0 + 1s, 1, "10.0.0.1"),
                  "refused 1 connection: over max-connections (5) (last from 10.0.0.1)");
  CAF_CHECK(log.due(t0 + 9s).empty());
  auto lines = log.due(t0 + 10s);
  CAF_REQUIRE_EQUAL(lines.size(), 1u);
  CAF_CHECK_EQUAL(lines[0], "refused 40 connections in the last 10 s: too many open files");
  CAF_CHECK(log.waiting());
  // The other cause had nothing more: it goes quiet, and its next refusal is told at once.
  CAF_CHECK(log.due(t0 + 11s).empty());
  CAF_CHECK_EQUAL(log.refused("over max-connections (5)", t0 + 12s, 3, "10.0.0.2"),
                  "refused 3 connections: over max-connections (5) (last from 10.0.0.2)");
  // A quiet interval ends the first cause's window too.
  CAF_CHECK(log.due(t0 + 20s).empty());
  CAF_CHECK_EQUAL(log.refused("over max-connections (5)", t0 + 21s, 1, "10.0.0.3"), "");
  lines = log.due(t0 + 22s);
  CAF_REQUIRE_EQUAL(lines.size(), 1u);
  CAF_CHECK_EQUAL(lines[0], "refused 1 connection in the last 10 s: over max-connections (5) (last from 10.0.0.3)");
  CAF_CHECK(log.due(t0 + 32s).empty());
  CAF_CHECK(!log.waiting());
}
