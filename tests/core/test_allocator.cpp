// The CPU allocator (64-byte alignment, zero-size requests) and the formatting of allocator
// statistics shared with the CUDA caching allocator.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "core/allocator.h"
#include "core/backend.h"
#include "core/tensor.h"

namespace nat {
namespace {

TEST(CoreAllocator, HumanBytesUsesBinaryUnits) {
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(1023), "1023 B");
  EXPECT_EQ(human_bytes(1024), "1.00 KiB");
  EXPECT_EQ(human_bytes(1536), "1.50 KiB");
  EXPECT_EQ(human_bytes(3 << 20), "3.00 MiB");
  EXPECT_EQ(human_bytes(5LL << 30), "5.00 GiB");
  EXPECT_EQ(human_bytes(1LL << 40), "1.00 TiB");
  EXPECT_EQ(human_bytes(1LL << 50), "1024.00 TiB");  // TiB is the largest unit
}

TEST(CoreAllocator, StatsLineNamesEveryCounter) {
  AllocatorStats s;
  s.allocated = 3 << 20;
  s.reserved = 4 << 20;
  s.peak_allocated = 1536;
  s.num_allocs = 7;
  s.num_cache_hits = 5;
  s.num_system_allocs = 2;
  EXPECT_EQ(s.str(),
            "allocated 3.00 MiB, reserved 4.00 MiB, peak 1.50 KiB, 7 allocations (5 from cache, 2 from the system)");
}

TEST(CoreAllocator, CpuBlocksAre64ByteAlignedAndWritable) {
  for (size_t n : {1, 63, 64, 65, 1000, 4096 + 3}) {
    void* p = cpu_alloc(n);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << n;
    std::memset(p, 0xab, n);  // ASan builds check the whole request is usable
    cpu_free(p);
  }
  EXPECT_EQ(cpu_alloc(0), nullptr);
  cpu_free(nullptr);
}

TEST(CoreAllocator, TensorStorageIsAligned) {
  for (DType t : {DType::u8, DType::f16, DType::f32, DType::f64}) {
    Tensor x = Tensor::empty({3, 5}, t);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(x.data_ptr()) % 64, 0u) << t;
    EXPECT_GE(x.storage()->nbytes(), x.nbytes());
  }
  EXPECT_EQ(Tensor::empty({0}).storage()->data(), nullptr);  // empty tensors allocate nothing
}

TEST(CoreAllocator, CpuBackendReportsNoCachingStatistics) {
  AllocatorStats s = cpu_backend().memory_stats(0);
  EXPECT_EQ(s.allocated, 0);
  EXPECT_EQ(s.reserved, 0);
  EXPECT_EQ(s.num_allocs, 0);
}

}  // namespace
}  // namespace nat
