// The fuzz targets' invariant check: a broken invariant aborts, which libFuzzer reports
// as a crash with its input (assert() is compiled out in RelWithDebInfo).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                                               \
  do {                                                                                                                 \
    if (!(cond)) {                                                                                                     \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);                                \
      std::abort();                                                                                                    \
    }                                                                                                                  \
  } while (false)
