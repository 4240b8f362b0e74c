// CUDA softmax / log_softmax kernels (ops/softmax_kernels.h): one block per row, block reductions
// for the row max and sum (cuda/block_reduce.cuh), f32 compute for bf16/f16 storage. Softmax and
// log_softmax share one kernel with a runtime flag, instantiated once per storage type.
#include "cuda/block_reduce.cuh"
#include "cuda/cuda_check.h"
#include "cuda/element_access.cuh"
#include "cuda/stream.h"
#include "ops/softmax_kernels.h"

namespace nat::kernels::cuda {

using nat::cuda::block_max;
using nat::cuda::block_sum;
using nat::cuda::compute_type;
using nat::cuda::current_stream;
using nat::cuda::DeviceGuard;
using nat::cuda::load_c;
using nat::cuda::row_block_threads;
using nat::cuda::row_grid;
using nat::cuda::store_c;
using nat::cuda::with_cuda_float_type;

namespace {

// x, y: [rows, cols]; one block per row
template <typename S>
__global__ void softmax_forward_kernel(bool log_space, int64_t rows, int64_t cols, const S* x, S* y) {
  using C = typename compute_type<S>::type;
  __shared__ C scratch[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const S* xr = x + r * cols;
    S* yr = y + r * cols;
    C m = C(-INFINITY);
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      C v = load_c(xr, j);
      m = v > m ? v : m;
    }
    m = block_max(m, scratch);
    C s = 0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) s += exp(load_c(xr, j) - m);
    s = block_sum(s, scratch);
    if (log_space) {
      const C log_s = log(s);
      for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) store_c(yr, j, (load_c(xr, j) - m) - log_s);
    } else {
      const C inv = C(1) / s;
      for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) store_c(yr, j, exp(load_c(xr, j) - m) * inv);
    }
  }
}

// y, dy, dx: [rows, cols]; one block per row
template <typename S>
__global__ void softmax_backward_kernel(bool log_space, int64_t rows, int64_t cols, const S* y, const S* dy, S* dx) {
  using C = typename compute_type<S>::type;
  __shared__ C scratch[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const S* yr = y + r * cols;
    const S* gr = dy + r * cols;
    S* dr = dx + r * cols;
    C s = 0;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
      s += log_space ? load_c(gr, j) : load_c(gr, j) * load_c(yr, j);
    s = block_sum(s, scratch);
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      C yv = load_c(yr, j), gv = load_c(gr, j);
      store_c(dr, j, log_space ? gv - exp(yv) * s : yv * (gv - s));
    }
  }
}

void launch_forward(bool log_space, const char* op, DType dtype, int64_t rows, int64_t cols, const void* x, void* y,
                    int device) {
  if (rows == 0 || cols == 0) return;
  DeviceGuard g(device);
  with_cuda_float_type(dtype, op, [&](auto zero) {
    using S = decltype(zero);
    softmax_forward_kernel<S><<<row_grid(rows), row_block_threads(cols), 0, current_stream(device)>>>(
        log_space, rows, cols, static_cast<const S*>(x), static_cast<S*>(y));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

void launch_backward(bool log_space, const char* op, DType dtype, int64_t rows, int64_t cols, const void* y,
                     const void* dy, void* dx, int device) {
  if (rows == 0 || cols == 0) return;
  DeviceGuard g(device);
  with_cuda_float_type(dtype, op, [&](auto zero) {
    using S = decltype(zero);
    softmax_backward_kernel<S><<<row_grid(rows), row_block_threads(cols), 0, current_stream(device)>>>(
        log_space, rows, cols, static_cast<const S*>(y), static_cast<const S*>(dy), static_cast<S*>(dx));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void softmax_forward(DType dtype, int64_t rows, int64_t cols, const void* x, void* y, int device) {
  launch_forward(false, "softmax", dtype, rows, cols, x, y, device);
}
void softmax_backward(DType dtype, int64_t rows, int64_t cols, const void* y, const void* dy, void* dx, int device) {
  launch_backward(false, "softmax backward", dtype, rows, cols, y, dy, dx, device);
}
void log_softmax_forward(DType dtype, int64_t rows, int64_t cols, const void* x, void* y, int device) {
  launch_forward(true, "log_softmax", dtype, rows, cols, x, y, device);
}
void log_softmax_backward(DType dtype, int64_t rows, int64_t cols, const void* y, const void* dy, void* dx,
                          int device) {
  launch_backward(true, "log_softmax backward", dtype, rows, cols, y, dy, dx, device);
}

}  // namespace nat::kernels::cuda
