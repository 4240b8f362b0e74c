// The CPU allocator (aligned for vector loads: AVX-512 wants 64 bytes) and stats formatting.
#include "core/allocator.h"

#include <cstdio>
#include <cstdlib>

#include "core/error.h"

namespace nat {

std::string human_bytes(int64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", v, units[u]);
  return buf;
}

std::string AllocatorStats::str() const {
  return nat::str("allocated ", human_bytes(allocated), ", reserved ", human_bytes(reserved), ", peak ",
                  human_bytes(peak_allocated), ", ", num_allocs, " allocations (", num_cache_hits,
                  " from cache, ", num_system_allocs, " from the system)");
}

void* cpu_alloc(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  size_t rounded = (nbytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  NAT_CHECK(p != nullptr, "[cpu allocator] out of memory: could not allocate ", human_bytes(nbytes), " (", nbytes,
            " bytes)");
  return p;
}

void cpu_free(void* p) { std::free(p); }

}  // namespace nat
