// CPU time of the calling thread, for the loader's per-stage accounting: on a machine shared with
// other work, wall-clock stage times mostly measure the scheduler.
#pragma once

#include <time.h>

namespace nat::data {

inline double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

}  // namespace nat::data
