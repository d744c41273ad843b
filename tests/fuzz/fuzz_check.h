// FUZZ_CHECK: an invariant check for fuzz targets that aborts (a crash libFuzzer records) in
// every build type, unlike assert, which the replay build's NDEBUG disables. Thread-safe.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                 \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (false)
