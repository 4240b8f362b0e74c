// The CUDA implementation of core's kernel list (core/backend.h): caching allocation, pinned host
// memory, copies, casts, fills and Philox random fills. Element math is shared with the CPU through
// NAT_HOST_DEVICE headers (core/convert.h, core/random_math.h), so both backends agree bit for bit.
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "core/backend.h"
#include "core/convert.h"
#include "core/random_math.h"
#include "cuda/caching_allocator.h"
#include "cuda/cuda_check.h"
#include "cuda/stream.h"

namespace nat::cuda {

bool compiled_with_cuda() { return true; }

namespace {

thread_local cudaStream_t tls_streams[16] = {};

// ---------------------------------------------------------------- kernels

// dst[layout] = src[layout] for `T`-sized elements; one thread per element, grid-stride.
template <typename T>
__global__ void copy_strided_kernel(T* dst, const T* src, StridedLayout l, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t rem = i, so = 0, d0 = 0;
    for (int d = l.ndim - 1; d >= 0; --d) {
      int64_t idx = rem % l.shape[d];
      rem /= l.shape[d];
      so += idx * l.src_strides[d];
      d0 += idx * l.dst_strides[d];
    }
    dst[d0] = src[so];
  }
}

// dst: n elements of dst_type; src: n elements of src_type (both contiguous).
__global__ void cast_kernel(void* dst, DType dt, const void* src, DType st, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    cast_element(dst, dt, src, st, i);
}

// dst: n elements, each set to the bit pattern `value`.
template <typename T>
__global__ void fill_kernel(T* dst, T value, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[i] = value;
}

// dst: n elements of `type`, element i drawn from Philox words p.offset + 2i, + 2i + 1.
__global__ void random_kernel(void* dst, DType type, int64_t n, RandomParams p) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    store_random_element(dst, type, i, p);
}

// dst[i] += src[i], n contiguous elements of `type`.
__global__ void accumulate_kernel(void* dst, const void* src, DType type, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    accumulate_element(dst, src, type, i);
}

// ---------------------------------------------------------------- launchers

template <typename T>
void launch_copy_strided(void* dst, const void* src, const StridedLayout& l, int64_t n, cudaStream_t s) {
  copy_strided_kernel<T><<<grid_for(n), 256, 0, s>>>(static_cast<T*>(dst), static_cast<const T*>(src), l, n);
  NAT_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launch_fill(void* dst, const unsigned char* pattern, int64_t n, cudaStream_t s) {
  T v;
  std::memcpy(&v, pattern, sizeof(T));
  fill_kernel<T><<<grid_for(n), 256, 0, s>>>(static_cast<T*>(dst), v, n);
  NAT_CUDA_CHECK_LAUNCH();
}

// ---------------------------------------------------------------- allocation

class CudaRawMemory final : public RawMemory {
 public:
  explicit CudaRawMemory(int device) : device_(device) {}
  void* raw_alloc(size_t nbytes) override {
    DeviceGuard g(device_);
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, nbytes);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the sticky-free error so the retry can succeed
      return nullptr;
    }
    NAT_CUDA_CHECK(e);
    return p;
  }
  void raw_free(void* p) override {
    DeviceGuard g(device_);
    NAT_CUDA_CHECK(cudaFree(p));
  }
  std::string describe() const override {
    DeviceGuard g(device_);
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, device_);
    return nat::str("cuda:", device_, " (", prop.name, ", ", human_bytes(static_cast<int64_t>(free_b)), " free of ",
                    human_bytes(static_cast<int64_t>(total_b)), ")");
  }

 private:
  int device_;
};

class CudaBackend final : public DeviceBackend {
 public:
  const char* name() const override { return "cuda"; }

  int device_count() override {
    std::call_once(count_once_, [this] {
      int n = 0;
      if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        n = 0;
      }
      count_ = n;
      for (int d = 0; d < n; ++d) {
        raws_.push_back(std::make_unique<CudaRawMemory>(d));
        allocators_.push_back(std::make_unique<CachingAllocator>(*raws_.back()));
      }
    });
    return count_;
  }

  void* allocate(size_t nbytes, int device) override {
    return allocator(device).allocate(nbytes, reinterpret_cast<StreamId>(current_stream(device)));
  }
  void deallocate(void* p, int device) override { allocator(device).deallocate(p); }
  void* allocate_pinned(size_t nbytes) override {
    void* p = nullptr;
    NAT_CUDA_CHECK(cudaHostAlloc(&p, nbytes, cudaHostAllocDefault));
    return p;
  }
  void deallocate_pinned(void* p) override { NAT_CUDA_CHECK(cudaFreeHost(p)); }
  AllocatorStats memory_stats(int device) override { return allocator(device).stats(); }
  void reset_peak_memory(int device) override { allocator(device).reset_peak(); }
  void empty_cache(int device) override { allocator(device).empty_cache(); }

  void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes,
                  bool non_blocking) override {
    int device = dst_dev.is_cuda() ? dst_dev.index : src_dev.index;
    DeviceGuard g(device);
    cudaStream_t s = current_stream(device);
    NAT_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDefault, s));
    if (!non_blocking) NAT_CUDA_CHECK(cudaStreamSynchronize(s));
  }

  void copy_strided(void* dst, const void* src, size_t elem_size, const StridedLayout& l, int device) override {
    int64_t n = 1;
    for (int d = 0; d < l.ndim; ++d) n *= l.shape[d];
    if (n == 0) return;
    DeviceGuard g(device);
    cudaStream_t s = current_stream(device);
    switch (elem_size) {
      case 1: launch_copy_strided<uint8_t>(dst, src, l, n, s); break;
      case 2: launch_copy_strided<uint16_t>(dst, src, l, n, s); break;
      case 4: launch_copy_strided<uint32_t>(dst, src, l, n, s); break;
      case 8: launch_copy_strided<uint64_t>(dst, src, l, n, s); break;
      default: NAT_THROW("[cuda] copy_strided: unsupported element size ", elem_size);
    }
  }

  void cast(void* dst, DType dt, const void* src, DType st, int64_t n, int device) override {
    DeviceGuard g(device);
    cast_kernel<<<grid_for(n), 256, 0, current_stream(device)>>>(dst, dt, src, st, n);
    NAT_CUDA_CHECK_LAUNCH();
  }

  void fill(void* dst, DType t, int64_t n, double value, int device) override {
    alignas(8) unsigned char pattern[8];
    store_from_double(pattern, t, 0, value);  // the same conversion the CPU uses
    DeviceGuard g(device);
    cudaStream_t s = current_stream(device);
    switch (dtype_size(t)) {
      case 1: launch_fill<uint8_t>(dst, pattern, n, s); break;
      case 2: launch_fill<uint16_t>(dst, pattern, n, s); break;
      case 4: launch_fill<uint32_t>(dst, pattern, n, s); break;
      default: launch_fill<uint64_t>(dst, pattern, n, s); break;
    }
  }

  void random(void* dst, DType t, int64_t n, const RandomParams& p, int device) override {
    DeviceGuard g(device);
    random_kernel<<<grid_for(n), 256, 0, current_stream(device)>>>(dst, t, n, p);
    NAT_CUDA_CHECK_LAUNCH();
  }

  void accumulate(void* dst, const void* src, DType t, int64_t n, int device) override {
    DeviceGuard g(device);
    accumulate_kernel<<<grid_for(n), 256, 0, current_stream(device)>>>(dst, src, t, n);
    NAT_CUDA_CHECK_LAUNCH();
  }

  void synchronize(int device) override {
    DeviceGuard g(device);
    NAT_CUDA_CHECK(cudaDeviceSynchronize());
  }

 private:
  CachingAllocator& allocator(int device) {
    int n = device_count();
    NAT_CHECK(device >= 0 && device < n, "[cuda] device ", device, " requested, ", n, " present");
    return *allocators_[device];
  }

  std::once_flag count_once_;
  int count_ = 0;
  std::vector<std::unique_ptr<CudaRawMemory>> raws_;
  std::vector<std::unique_ptr<CachingAllocator>> allocators_;
};

CudaBackend& instance() {
  static CudaBackend* b = new CudaBackend();  // never destroyed: tensors may outlive static teardown
  return *b;
}

struct Registrar {
  Registrar() { register_cuda_backend(&instance()); }
} registrar;

}  // namespace

cudaStream_t current_stream(int device) { return (device >= 0 && device < 16) ? tls_streams[device] : nullptr; }
void set_current_stream(int device, cudaStream_t stream) {
  NAT_CHECK(device >= 0 && device < 16, "[cuda] device index ", device, " out of range");
  tls_streams[device] = stream;
}

DeviceGuard::DeviceGuard(int device) {
  NAT_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) NAT_CUDA_CHECK(cudaSetDevice(device));
}
DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0) cudaSetDevice(previous_);
}

}  // namespace nat::cuda
