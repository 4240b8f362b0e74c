// The CPU implementation of core's kernel list (core/backend.h), and the backend registry.
// Loops are OpenMP-parallel above a size threshold so small tensors do not pay for a thread team.
#include <cstring>

#include "core/backend.h"
#include "core/convert.h"
#include "core/error.h"
#include "core/random_math.h"

namespace nat {

namespace {

constexpr int64_t kParallelGrain = 1 << 15;

// Offset (in elements) of the linear index i in a strided layout.
inline void strided_offsets(const StridedLayout& l, int64_t i, int64_t& src, int64_t& dst) {
  src = 0;
  dst = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    int64_t idx = i % l.shape[d];
    i /= l.shape[d];
    src += idx * l.src_strides[d];
    dst += idx * l.dst_strides[d];
  }
}

template <typename T>
void copy_strided_typed(T* dst, const T* src, const StridedLayout& l, int64_t n) {
  // Fast path for the innermost dim: contiguous runs on both sides become memcpy-like loops.
  int inner = l.ndim - 1;
  int64_t run = l.ndim > 0 ? l.shape[inner] : 1;
  int64_t ss = l.ndim > 0 ? l.src_strides[inner] : 1, ds = l.ndim > 0 ? l.dst_strides[inner] : 1;
  int64_t rows = run > 0 ? n / run : 0;
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t so, d0;
    strided_offsets(l, r * run, so, d0);
    const T* s = src + so;
    T* d = dst + d0;
    if (ss == 1 && ds == 1) {
      for (int64_t j = 0; j < run; ++j) d[j] = s[j];
    } else {
      for (int64_t j = 0; j < run; ++j) d[j * ds] = s[j * ss];
    }
  }
}

class CpuBackend final : public DeviceBackend {
 public:
  const char* name() const override { return "cpu"; }
  int device_count() override { return 1; }
  void* allocate(size_t nbytes, int) override { return cpu_alloc(nbytes); }
  void deallocate(void* p, int) override { cpu_free(p); }
  void* allocate_pinned(size_t) override { NAT_THROW("[cpu] pinned memory needs the CUDA backend"); }
  void deallocate_pinned(void*) override {}
  AllocatorStats memory_stats(int) override { return {}; }
  void reset_peak_memory(int) override {}
  void empty_cache(int) override {}
  void synchronize(int) override {}

  void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes, bool) override {
    NAT_CHECK(dst_dev.is_cpu() && src_dev.is_cpu(), "[cpu] copy_bytes between ", src_dev, " and ", dst_dev,
              " needs the CUDA backend");
    std::memcpy(dst, src, nbytes);
  }

  void copy_strided(void* dst, const void* src, size_t elem_size, const StridedLayout& l, int) override {
    int64_t n = 1;
    for (int d = 0; d < l.ndim; ++d) n *= l.shape[d];
    if (n == 0) return;
    switch (elem_size) {
      case 1: copy_strided_typed(static_cast<uint8_t*>(dst), static_cast<const uint8_t*>(src), l, n); break;
      case 2: copy_strided_typed(static_cast<uint16_t*>(dst), static_cast<const uint16_t*>(src), l, n); break;
      case 4: copy_strided_typed(static_cast<uint32_t*>(dst), static_cast<const uint32_t*>(src), l, n); break;
      case 8: copy_strided_typed(static_cast<uint64_t*>(dst), static_cast<const uint64_t*>(src), l, n); break;
      default: NAT_THROW("[cpu] copy_strided: unsupported element size ", elem_size);
    }
  }

  void cast(void* dst, DType dt, const void* src, DType st, int64_t n, int) override {
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) cast_element(dst, dt, src, st, i);
  }

  void fill(void* dst, DType t, int64_t n, double value, int) override {
    // Convert once, then replicate the bytes.
    alignas(8) unsigned char one[8];
    store_from_double(one, t, 0, value);
    size_t es = dtype_size(t);
    auto* d = static_cast<unsigned char*>(dst);
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) std::memcpy(d + i * es, one, es);
  }

  void accumulate(void* dst, const void* src, DType t, int64_t n, int) override {
    if (t == DType::f32) {
      float* d = static_cast<float*>(dst);
      const float* s = static_cast<const float*>(src);
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
      for (int64_t i = 0; i < n; ++i) d[i] += s[i];
      return;
    }
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) accumulate_element(dst, src, t, i);
  }

  void random(void* dst, DType t, int64_t n, const RandomParams& p, int) override {
#pragma omp parallel for schedule(static) if (n > 4096)
    for (int64_t i = 0; i < n; ++i) store_random_element(dst, t, i, p);
  }
};

DeviceBackend* g_cuda_backend = nullptr;

}  // namespace

DeviceBackend& cpu_backend() {
  static CpuBackend b;
  return b;
}

void register_cuda_backend(DeviceBackend* b) { g_cuda_backend = b; }
bool cuda_compiled() { return g_cuda_backend != nullptr; }
int cuda_device_count() { return g_cuda_backend ? g_cuda_backend->device_count() : 0; }
bool cuda_available() { return cuda_device_count() > 0; }

DeviceBackend& backend(Device d) {
  if (d.is_cpu()) return cpu_backend();
  NAT_CHECK(g_cuda_backend != nullptr, "[device] ", d,
            " requested, but this nat.cpp was built without CUDA (configure with -DNAT_CUDA=ON)");
  int count = g_cuda_backend->device_count();
  NAT_CHECK(d.index >= 0 && d.index < count, "[device] ", d, " requested, but ",
            count == 0 ? std::string("no CUDA device is present") : str(count, " CUDA device(s) are present"));
  return *g_cuda_backend;
}

}  // namespace nat
