// The caching allocator's policy, driven through a fake RawMemory so it runs on any machine (no GPU):
// reuse of freed blocks on the same stream only, size rounding, statistics, empty_cache, and the
// out-of-memory path (release the cache, retry once, then a nat::Error with the bytes and the stats).
// It lives under tests/cuda/ because it tests cuda/ code, and so carries the `cuda` label, but never skips.
#include <gtest/gtest.h>

#include <map>
#include <thread>
#include <vector>

#include "cuda/caching_allocator.h"
#include "support/expect_error.h"

namespace nat::cuda {
namespace {

constexpr size_t KiB = 1024, MiB = 1024 * 1024;

// Hands out fake, never dereferenced addresses from a device of `capacity` bytes.
class FakeRawMemory final : public RawMemory {
 public:
  explicit FakeRawMemory(size_t capacity = 1ull << 40) : capacity_(capacity) {}

  void* raw_alloc(size_t nbytes) override {
    ++alloc_calls;
    if (in_use_ + nbytes > capacity_) {
      ++failed_allocs;
      return nullptr;
    }
    next_ += 4096 + nbytes;                    // distinct, non-overlapping addresses
    void* p = reinterpret_cast<void*>(next_);  // NOLINT(performance-no-int-to-ptr): never dereferenced
    live_[p] = nbytes;
    in_use_ += nbytes;
    return p;
  }
  void raw_free(void* p) override {
    auto it = live_.find(p);
    ASSERT_NE(it, live_.end()) << "raw_free of a block the fake never handed out";
    in_use_ -= it->second;
    live_.erase(it);
    ++frees;
  }
  std::string describe() const override { return "fake:0 (" + std::to_string(capacity_ - in_use_) + " bytes free)"; }

  size_t in_use() const { return in_use_; }
  size_t live_blocks() const { return live_.size(); }

  int alloc_calls = 0, failed_allocs = 0, frees = 0;

 private:
  size_t capacity_;
  size_t in_use_ = 0;
  uintptr_t next_ = 1 << 20;
  std::map<void*, size_t> live_;
};

constexpr StreamId kStreamA = 0, kStreamB = 0x1234;

TEST(CudaCachingAllocator, RoundsSmallTo512BytesAndLargeTo2MiB) {
  EXPECT_EQ(CachingAllocator::round_size(0), 512u);
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(512), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);
  EXPECT_EQ(CachingAllocator::round_size(MiB - 1), MiB);
  EXPECT_EQ(CachingAllocator::round_size(MiB), 2 * MiB);
  EXPECT_EQ(CachingAllocator::round_size(2 * MiB), 2 * MiB);
  EXPECT_EQ(CachingAllocator::round_size(2 * MiB + 1), 4 * MiB);
  EXPECT_EQ(CachingAllocator::round_size(5 * MiB), 6 * MiB);
}

TEST(CudaCachingAllocator, FreedBlockIsReusedOnTheSameStream) {
  FakeRawMemory raw;
  CachingAllocator a(raw);
  void* p = a.allocate(1000, kStreamA);
  a.deallocate(p);
  EXPECT_EQ(a.cached_blocks(), 1u);
  void* q = a.allocate(900, kStreamA);  // rounds to the same 1 KiB block
  EXPECT_EQ(q, p);
  EXPECT_EQ(raw.alloc_calls, 1);
  EXPECT_EQ(a.cached_blocks(), 0u);
  AllocatorStats s = a.stats();
  EXPECT_EQ(s.num_allocs, 2);
  EXPECT_EQ(s.num_cache_hits, 1);
  EXPECT_EQ(s.num_system_allocs, 1);
  a.deallocate(q);
}

TEST(CudaCachingAllocator, NoReuseAcrossStreams) {
  FakeRawMemory raw;
  CachingAllocator a(raw);
  void* p = a.allocate(4096, kStreamA);
  a.deallocate(p);
  void* q = a.allocate(4096, kStreamB);
  EXPECT_NE(q, p);
  EXPECT_EQ(raw.alloc_calls, 2);
  EXPECT_EQ(a.stats().num_cache_hits, 0);
  EXPECT_EQ(a.cached_blocks(), 1u);  // stream A's block waits for stream A
  void* r = a.allocate(4096, kStreamA);
  EXPECT_EQ(r, p);
  a.deallocate(q);
  a.deallocate(r);
}

TEST(CudaCachingAllocator, BestFitUpToTwiceTheRoundedSize) {
  FakeRawMemory raw;
  CachingAllocator a(raw);
  void* big = a.allocate(4096, kStreamA);
  void* small = a.allocate(1024, kStreamA);
  a.deallocate(big);
  a.deallocate(small);
  EXPECT_EQ(a.allocate(1000, kStreamA), small);  // the smallest block that fits
  void* fresh = a.allocate(1500, kStreamA);      // 4 KiB > 2 x 1.5 KiB: too wasteful, new block
  EXPECT_NE(fresh, big);
  EXPECT_EQ(raw.alloc_calls, 3);
  EXPECT_EQ(a.allocate(2048, kStreamA), big);  // 4 KiB <= 2 x 2 KiB: reused
  // The block keeps its size: allocated counts the whole 4 KiB.
  EXPECT_EQ(a.stats().allocated, static_cast<int64_t>(1024 + 1536 + 4096));
  EXPECT_EQ(raw.alloc_calls, 3);
}

TEST(CudaCachingAllocator, StatisticsTrackAllocatedReservedAndPeak) {
  FakeRawMemory raw;
  CachingAllocator a(raw);
  void* p1 = a.allocate(3 * MiB, kStreamA);  // 4 MiB block
  void* p2 = a.allocate(100, kStreamA);      // 512 B block
  AllocatorStats s = a.stats();
  EXPECT_EQ(s.allocated, static_cast<int64_t>(4 * MiB + 512));
  EXPECT_EQ(s.reserved, static_cast<int64_t>(4 * MiB + 512));
  EXPECT_EQ(s.peak_allocated, s.allocated);
  EXPECT_EQ(raw.in_use(), 4 * MiB + 512);
  a.deallocate(p1);
  s = a.stats();
  EXPECT_EQ(s.allocated, 512);
  EXPECT_EQ(s.reserved, static_cast<int64_t>(4 * MiB + 512));  // cached, still reserved
  EXPECT_EQ(s.peak_allocated, static_cast<int64_t>(4 * MiB + 512));
  a.reset_peak();
  EXPECT_EQ(a.stats().peak_allocated, 512);
  void* p3 = a.allocate(3 * MiB, kStreamA);
  EXPECT_EQ(p3, p1);
  s = a.stats();
  EXPECT_EQ(s.num_allocs, 3);
  EXPECT_EQ(s.num_cache_hits, 1);
  EXPECT_EQ(s.num_system_allocs, 2);
  EXPECT_EQ(s.peak_allocated, static_cast<int64_t>(4 * MiB + 512));
  a.deallocate(p2);
  a.deallocate(p3);
  EXPECT_EQ(a.stats().allocated, 0);
}

TEST(CudaCachingAllocator, EmptyCacheReturnsOnlyFreeBlocks) {
  FakeRawMemory raw;
  CachingAllocator a(raw);
  void* keep = a.allocate(8 * KiB, kStreamA);
  void* drop1 = a.allocate(16 * KiB, kStreamA);
  void* drop2 = a.allocate(2 * MiB, kStreamB);
  a.deallocate(drop1);
  a.deallocate(drop2);
  a.empty_cache();
  EXPECT_EQ(raw.frees, 2);
  EXPECT_EQ(raw.live_blocks(), 1u);
  EXPECT_EQ(a.cached_blocks(), 0u);
  AllocatorStats s = a.stats();
  EXPECT_EQ(s.reserved, static_cast<int64_t>(8 * KiB));
  EXPECT_EQ(s.allocated, static_cast<int64_t>(8 * KiB));
  a.deallocate(keep);  // still valid after empty_cache
  EXPECT_EQ(a.cached_blocks(), 1u);
}

TEST(CudaCachingAllocator, OutOfMemoryReleasesTheCacheAndRetries) {
  FakeRawMemory raw(10 * MiB);
  CachingAllocator a(raw);
  void* p = a.allocate(6 * MiB, kStreamA);
  a.deallocate(p);                          // 6 MiB cached on stream A
  void* q = a.allocate(8 * MiB, kStreamB);  // does not fit beside the cached block
  EXPECT_NE(q, nullptr);
  EXPECT_EQ(raw.failed_allocs, 1);
  EXPECT_EQ(raw.frees, 1);
  EXPECT_EQ(a.cached_blocks(), 0u);
  AllocatorStats s = a.stats();
  EXPECT_EQ(s.reserved, static_cast<int64_t>(8 * MiB));
  EXPECT_EQ(s.allocated, static_cast<int64_t>(8 * MiB));
  EXPECT_EQ(s.num_system_allocs, 2);
  a.deallocate(q);
}

TEST(CudaCachingAllocator, OutOfMemoryErrorNamesTheBytesAndTheStatistics) {
  FakeRawMemory raw(10 * MiB);
  CachingAllocator a(raw);
  void* p = a.allocate(4 * MiB, kStreamA);
  NAT_EXPECT_ERROR(a.allocate(7 * MiB, kStreamA), "[cuda allocator] out of memory", "requested 7.00 MiB",
                   "(7340032 bytes)", "fake:0 (6291456 bytes free)", "allocated 4.00 MiB", "reserved 4.00 MiB",
                   "1 allocations");
  // A failed request changes nothing, and the allocator keeps working.
  AllocatorStats s = a.stats();
  EXPECT_EQ(s.allocated, static_cast<int64_t>(4 * MiB));
  EXPECT_EQ(s.num_allocs, 1);
  EXPECT_EQ(raw.live_blocks(), 1u);
  void* q = a.allocate(4 * MiB, kStreamA);
  EXPECT_NE(q, nullptr);
  a.deallocate(p);
  a.deallocate(q);
}

TEST(CudaCachingAllocator, BadFreesAreErrors) {
  FakeRawMemory raw;
  CachingAllocator a(raw);
  a.deallocate(nullptr);  // ignored
  int x = 0;
  NAT_EXPECT_ERROR(a.deallocate(&x), "[cuda allocator]", "did not allocate");
  void* p = a.allocate(10, kStreamA);
  a.deallocate(p);
  NAT_EXPECT_ERROR(a.deallocate(p), "[cuda allocator]", "did not allocate");  // double free
}

TEST(CudaCachingAllocator, DestructorReturnsCachedBlocks) {
  FakeRawMemory raw;
  {
    CachingAllocator a(raw);
    void* p = a.allocate(1000, kStreamA);
    void* q = a.allocate(3 * MiB, kStreamB);
    a.deallocate(p);
    a.deallocate(q);
    EXPECT_EQ(raw.live_blocks(), 2u);
  }
  EXPECT_EQ(raw.live_blocks(), 0u);
  EXPECT_EQ(raw.frees, 2);
}

TEST(CudaCachingAllocator, ConcurrentUseKeepsStatisticsConsistent) {
  FakeRawMemory raw;
  CachingAllocator a(raw);
  auto work = [&a](StreamId stream) {
    for (int i = 0; i < 2000; ++i) {
      void* p = a.allocate(512 * (1 + i % 7), stream);
      void* q = a.allocate(100, stream);
      a.deallocate(p);
      a.deallocate(q);
    }
  };
  std::thread t1(work, kStreamA), t2(work, kStreamB);
  t1.join();
  t2.join();
  AllocatorStats s = a.stats();
  EXPECT_EQ(s.allocated, 0);
  EXPECT_EQ(s.num_allocs, 8000);
  EXPECT_EQ(s.num_cache_hits + s.num_system_allocs, 8000);
  EXPECT_LT(s.num_system_allocs, 40);  // steady state is served from the cache
  EXPECT_EQ(s.reserved, static_cast<int64_t>(raw.in_use()));
}

}  // namespace
}  // namespace nat::cuda
