// Caching allocator logic (see the header for the policy).
#include "cuda/caching_allocator.h"

#include "core/error.h"

namespace nat::cuda {

namespace {
constexpr size_t kSmall = 1 << 20;      // 1 MiB
constexpr size_t kSmallRound = 512;
constexpr size_t kLargeRound = 2 << 20;  // 2 MiB
}  // namespace

size_t CachingAllocator::round_size(size_t n) {
  if (n == 0) n = 1;
  if (n < kSmall) return (n + kSmallRound - 1) / kSmallRound * kSmallRound;
  return (n + kLargeRound - 1) / kLargeRound * kLargeRound;
}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mu_);
  release_cached_locked();
}

void* CachingAllocator::allocate(size_t nbytes, StreamId stream) {
  size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mu_);
  void* p = nullptr;
  auto it = free_.lower_bound({stream, size});
  if (it != free_.end() && it->first.first == stream && it->first.second <= 2 * size) {
    p = it->second;
    size = it->first.second;
    free_.erase(it);
    ++stats_.num_cache_hits;
  } else {
    p = raw_.raw_alloc(size);
    if (!p) {
      release_cached_locked();  // give the cache back and try once more
      p = raw_.raw_alloc(size);
    }
    NAT_CHECK(p != nullptr, "[cuda allocator] out of memory: requested ", human_bytes(static_cast<int64_t>(nbytes)),
              " (", nbytes, " bytes) on ", raw_.describe(), "; ", stats_.str());
    stats_.reserved += static_cast<int64_t>(size);
    ++stats_.num_system_allocs;
  }
  active_[p] = Block{size, stream};
  ++stats_.num_allocs;  // counted once served, so a failed request leaves the statistics as they were
  stats_.allocated += static_cast<int64_t>(size);
  stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
  return p;
}

void CachingAllocator::deallocate(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = active_.find(p);
  NAT_CHECK(it != active_.end(), "[cuda allocator] free of a pointer it did not allocate");
  stats_.allocated -= static_cast<int64_t>(it->second.size);
  free_.emplace(std::make_pair(it->second.stream, it->second.size), p);
  active_.erase(it);
}

void CachingAllocator::release_cached_locked() {
  for (auto& [key, p] : free_) {
    raw_.raw_free(p);
    stats_.reserved -= static_cast<int64_t>(key.second);
  }
  free_.clear();
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  release_cached_locked();
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.peak_allocated = stats_.allocated;
}

size_t CachingAllocator::cached_blocks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return free_.size();
}

}  // namespace nat::cuda
