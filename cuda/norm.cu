// CUDA layer-norm kernels (ops/norm_kernels.h). Forward and dx: one block per row with block
// reductions (two-pass mean/variance). dweight/dbias: a two-pass column reduction with no atomics —
// pass 1 sums a fixed chunk of rows per (column, chunk) into a scratch buffer, pass 2 adds the chunk
// partials of each column in order — so the parameter gradients are deterministic.
#include "core/backend.h"
#include "cuda/block_reduce.cuh"
#include "cuda/cuda_check.h"
#include "cuda/element_access.cuh"
#include "cuda/stream.h"
#include "ops/norm_kernels.h"

namespace nat::kernels::cuda {

using nat::cuda::block_sum;
using nat::cuda::compute_type;
using nat::cuda::current_stream;
using nat::cuda::DeviceGuard;
using nat::cuda::grid_for;
using nat::cuda::load_c;
using nat::cuda::row_block_threads;
using nat::cuda::row_grid;
using nat::cuda::store_c;
using nat::cuda::with_cuda_float_type;

namespace {

constexpr int64_t kMaxChunks = 512;

// x, y: [rows, cols]; w, b: [cols] or nullptr; mean, rstd: [rows]; one block per row
template <typename S>
__global__ void layer_norm_forward_kernel(int64_t rows, int64_t cols, double eps, const S* x, const S* w, const S* b,
                                          S* y, typename compute_type<S>::type* mean,
                                          typename compute_type<S>::type* rstd) {
  using C = typename compute_type<S>::type;
  __shared__ C scratch[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const S* xr = x + r * cols;
    S* yr = y + r * cols;
    C s = 0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) s += load_c(xr, j);
    const C mu = block_sum(s, scratch) / C(cols);
    C v = 0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      C d = load_c(xr, j) - mu;
      v += d * d;
    }
    const C rs = C(1) / sqrt(block_sum(v, scratch) / C(cols) + C(eps));
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      C n = (load_c(xr, j) - mu) * rs;
      store_c(yr, j, (w ? n * load_c(w, j) : n) + (b ? load_c(b, j) : C(0)));
    }
    if (threadIdx.x == 0) {
      mean[r] = mu;
      rstd[r] = rs;
    }
  }
}

// dy, x, dx: [rows, cols]; mean, rstd: [rows]; w: [cols] or nullptr; one block per row
template <typename S>
__global__ void layer_norm_backward_dx_kernel(int64_t rows, int64_t cols, const S* dy, const S* x,
                                              const typename compute_type<S>::type* mean,
                                              const typename compute_type<S>::type* rstd, const S* w, S* dx) {
  using C = typename compute_type<S>::type;
  __shared__ C scratch[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const S* xr = x + r * cols;
    const S* gr = dy + r * cols;
    S* dr = dx + r * cols;
    const C m = mean[r], rs = rstd[r];
    C sg = 0, sgx = 0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      C g = w ? load_c(gr, j) * load_c(w, j) : load_c(gr, j);
      sg += g;
      sgx += g * (load_c(xr, j) - m) * rs;
    }
    const C mg = block_sum(sg, scratch) / C(cols);
    const C mgx = block_sum(sgx, scratch) / C(cols);
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      C g = w ? load_c(gr, j) * load_c(w, j) : load_c(gr, j);
      store_c(dr, j, rs * (g - mg - (load_c(xr, j) - m) * rs * mgx));
    }
  }
}

// Pass 1. partial: [chunks, 2, cols] (dweight then dbias partials); grid (column blocks, chunks);
// thread (column j, chunk c) sums rows [c * per, min(rows, (c + 1) * per)) in order.
template <typename S>
__global__ void layer_norm_param_partial_kernel(int64_t rows, int64_t cols, int64_t per, const S* dy, const S* x,
                                                const typename compute_type<S>::type* mean,
                                                const typename compute_type<S>::type* rstd,
                                                typename compute_type<S>::type* partial) {
  using C = typename compute_type<S>::type;
  const int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t c = blockIdx.y;
  if (j >= cols) return;
  const int64_t r1 = (c + 1) * per < rows ? (c + 1) * per : rows;
  C sw = 0, sb = 0;
  for (int64_t r = c * per; r < r1; ++r) {
    C g = load_c(dy, r * cols + j);
    sw += g * (load_c(x, r * cols + j) - mean[r]) * rstd[r];
    sb += g;
  }
  partial[(c * 2) * cols + j] = sw;
  partial[(c * 2 + 1) * cols + j] = sb;
}

// Pass 2. partial: [chunks, 2, cols] -> dw, db: [cols] (either may be nullptr); one thread per column
template <typename S>
__global__ void layer_norm_param_sum_kernel(int64_t chunks, int64_t cols, const typename compute_type<S>::type* partial,
                                            S* dw, S* db) {
  using C = typename compute_type<S>::type;
  NAT_GRID_STRIDE_LOOP(j, cols) {
    C sw = 0, sb = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      sw += partial[(c * 2) * cols + j];
      sb += partial[(c * 2 + 1) * cols + j];
    }
    if (dw) store_c(dw, j, sw);
    if (db) store_c(db, j, sb);
  }
}

// Device scratch from the caching allocator, returned to the current stream's pool on scope exit
// (later work on the same stream is ordered after the kernels that use it).
class Scratch {
 public:
  Scratch(size_t nbytes, int device) : device_(device), p_(backend(Device::cuda(device)).allocate(nbytes, device)) {}
  ~Scratch() { backend(Device::cuda(device_)).deallocate(p_, device_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  void* get() const { return p_; }

 private:
  int device_;
  void* p_;
};

}  // namespace

void layer_norm_forward(DType dtype, int64_t rows, int64_t cols, double eps, const void* x, const void* weight,
                        const void* bias, void* y, void* mean, void* rstd, int device) {
  if (rows == 0 || cols == 0) return;
  DeviceGuard g(device);
  with_cuda_float_type(dtype, "layer_norm", [&](auto zero) {
    using S = decltype(zero);
    using C = typename compute_type<S>::type;
    layer_norm_forward_kernel<S><<<row_grid(rows), row_block_threads(cols), 0, current_stream(device)>>>(
        rows, cols, eps, static_cast<const S*>(x), static_cast<const S*>(weight), static_cast<const S*>(bias),
        static_cast<S*>(y), static_cast<C*>(mean), static_cast<C*>(rstd));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

void layer_norm_backward(DType dtype, int64_t rows, int64_t cols, const void* dy, const void* x, const void* mean,
                         const void* rstd, const void* weight, void* dx, void* dweight, void* dbias, int device) {
  if (cols == 0) return;
  DeviceGuard g(device);
  cudaStream_t stream = current_stream(device);
  with_cuda_float_type(dtype, "layer_norm backward", [&](auto zero) {
    using S = decltype(zero);
    using C = typename compute_type<S>::type;
    const C* m = static_cast<const C*>(mean);
    const C* rs = static_cast<const C*>(rstd);
    if (dx && rows > 0) {
      layer_norm_backward_dx_kernel<S><<<row_grid(rows), row_block_threads(cols), 0, stream>>>(
          rows, cols, static_cast<const S*>(dy), static_cast<const S*>(x), m, rs, static_cast<const S*>(weight),
          static_cast<S*>(dx));
      NAT_CUDA_CHECK_LAUNCH();
    }
    if (!dweight && !dbias) return;
    const int64_t want = rows < kMaxChunks ? rows : kMaxChunks;
    const int64_t per = want > 0 ? (rows + want - 1) / want : 1;
    const int64_t chunks = want > 0 ? (rows + per - 1) / per : 0;
    Scratch partial(static_cast<size_t>((chunks > 0 ? chunks : 1) * 2 * cols) * sizeof(C), device);
    C* p = static_cast<C*>(partial.get());
    if (chunks > 0) {
      const int threads = row_block_threads(cols);
      dim3 grid(static_cast<unsigned>((cols + threads - 1) / threads), static_cast<unsigned>(chunks));
      layer_norm_param_partial_kernel<S><<<grid, threads, 0, stream>>>(rows, cols, per, static_cast<const S*>(dy),
                                                                       static_cast<const S*>(x), m, rs, p);
      NAT_CUDA_CHECK_LAUNCH();
    }
    layer_norm_param_sum_kernel<S>
        <<<grid_for(cols), 256, 0, stream>>>(chunks, cols, p, static_cast<S*>(dweight), static_cast<S*>(dbias));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace nat::kernels::cuda
