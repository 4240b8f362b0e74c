// Memory allocators and their statistics. The CPU allocator hands out 64-byte aligned blocks;
// the CUDA caching allocator (cuda/caching_allocator.h) reports the same AllocatorStats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace nat {

struct AllocatorStats {
  int64_t allocated = 0;       // bytes handed out and not yet freed
  int64_t reserved = 0;        // bytes obtained from the system (cudaMalloc), cached blocks included
  int64_t peak_allocated = 0;  // high-water mark of `allocated`
  int64_t num_allocs = 0;      // allocation requests served
  int64_t num_cache_hits = 0;  // requests served from the cache without a system call
  int64_t num_system_allocs = 0;
  std::string str() const;     // one readable line
};

std::string human_bytes(int64_t bytes);  // "1.50 MiB"

void* cpu_alloc(size_t nbytes);  // throws nat::Error naming the size when the system refuses
void cpu_free(void* p);

}  // namespace nat
