// The kernel list core needs from a device, declared once. The CPU implements it in
// core/cpu_backend.cpp; CUDA in cuda/cuda_backend.cu, which registers itself at start-up.
// A build without CUDA has no CUDA backend, and asking for one is a clear nat::Error.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/allocator.h"
#include "core/device.h"
#include "core/dtype.h"

namespace nat {

constexpr int kMaxDims = 8;

// Gather layout for copy_strided: dst[contiguous i] = src[offset(i)], or a strided destination.
struct StridedLayout {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t src_strides[kMaxDims] = {};
  int64_t dst_strides[kMaxDims] = {};
};

enum class RandomKind : uint8_t { uniform, normal, trunc_normal, bernoulli };

// Parameters of one random fill. Element i of the fill uses Philox words offset+2i and offset+2i+1
// of the stream keyed by `seed` (see core/rng.h), on every device.
struct RandomParams {
  RandomKind kind = RandomKind::uniform;
  double a = 0, b = 1;      // uniform: [a, b); normal: mean a, std b; trunc_normal: mean a, std b
  double lo = -2, hi = 2;   // trunc_normal: absolute cut points; bernoulli: p in `a`
  uint64_t seed = 0, offset = 0;
};

class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  virtual const char* name() const = 0;
  virtual int device_count() = 0;

  virtual void* allocate(size_t nbytes, int device) = 0;
  virtual void deallocate(void* p, int device) = 0;
  virtual void* allocate_pinned(size_t nbytes) = 0;  // page-locked host memory
  virtual void deallocate_pinned(void* p) = 0;
  virtual AllocatorStats memory_stats(int device) = 0;
  virtual void reset_peak_memory(int device) = 0;
  virtual void empty_cache(int device) = 0;

  // Byte copy between host and device memory in any direction. With non_blocking and a pinned
  // host side, the copy is queued on the current stream and returns at once.
  virtual void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes,
                          bool non_blocking) = 0;
  // Same-device copy of `elem_size`-byte elements through strides (both sides in elements).
  virtual void copy_strided(void* dst, const void* src, size_t elem_size, const StridedLayout& layout, int device) = 0;
  // Contiguous elementwise dtype conversion (bf16/f16 round to nearest even).
  virtual void cast(void* dst, DType dst_type, const void* src, DType src_type, int64_t n, int device) = 0;
  virtual void fill(void* dst, DType type, int64_t n, double value, int device) = 0;
  virtual void random(void* dst, DType type, int64_t n, const RandomParams& p, int device) = 0;
  // dst[i] += src[i] for n contiguous elements of one dtype (gradient accumulation).
  virtual void accumulate(void* dst, const void* src, DType type, int64_t n, int device) = 0;
  virtual void synchronize(int device) = 0;
};

DeviceBackend& cpu_backend();
DeviceBackend& backend(Device d);         // throws when the device's backend is missing
bool cuda_available();                    // built with CUDA and at least one device present
int cuda_device_count();                  // 0 without CUDA
bool cuda_compiled();                     // built with the CUDA backend
void register_cuda_backend(DeviceBackend* b);

}  // namespace nat
