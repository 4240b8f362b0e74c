// A caching allocator for device memory, in the style of PyTorch's: freed blocks go back to a
// per-stream pool and are reused by later requests on the same stream, so steady-state training
// makes no cudaMalloc/cudaFree calls. The logic is device-agnostic (it talks to a RawMemory), which
// lets the CPU test suite exercise it with a fake backend; cuda/cuda_backend.cu plugs in cudaMalloc.
//
// Sizes are rounded up: to 512 B below 1 MiB, to 2 MiB above. A cached block serves a request on the
// same stream when it is at most twice the rounded size. Memory used on another stream must be
// synchronised by the caller (there is no record_stream).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/allocator.h"

namespace nat::cuda {

using StreamId = uintptr_t;

class RawMemory {
 public:
  virtual ~RawMemory() = default;
  virtual void* raw_alloc(size_t nbytes) = 0;  // nullptr when out of memory
  virtual void raw_free(void* p) = 0;
  virtual std::string describe() const = 0;    // device name and free/total memory, for OOM messages
};

class CachingAllocator {
 public:
  explicit CachingAllocator(RawMemory& raw) : raw_(raw) {}
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // Throws nat::Error naming the requested bytes and the statistics when memory runs out
  // even after the cache was released.
  void* allocate(size_t nbytes, StreamId stream);
  void deallocate(void* p);  // p must come from allocate(); nullptr is ignored
  void empty_cache();        // returns every cached (free) block to the system
  AllocatorStats stats() const;
  void reset_peak();
  size_t cached_blocks() const;

  static size_t round_size(size_t nbytes);

 private:
  struct Block {
    size_t size;
    StreamId stream;
  };
  void release_cached_locked();

  RawMemory& raw_;
  mutable std::mutex mu_;
  std::unordered_map<void*, Block> active_;
  std::multimap<std::pair<StreamId, size_t>, void*> free_;  // (stream, size) -> block
  AllocatorStats stats_;
};

}  // namespace nat::cuda
