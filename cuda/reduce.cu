// CUDA reduction kernels over the last axis of [outer, inner]: one block per row, a shared-memory
// tree reduction, f32 accumulation (f64 for f64). Deterministic: the summation order is fixed.
#include "cuda/cuda_check.h"
#include "cuda/element_access.cuh"
#include "cuda/stream.h"
#include "ops/reduce_kernels.h"

namespace nat::kernels::cuda {

using nat::cuda::compute_type;
using nat::cuda::current_stream;
using nat::cuda::DeviceGuard;
using nat::cuda::grid_for;
using nat::cuda::load_c;
using nat::cuda::store_c;
using nat::cuda::with_cuda_float_type;

namespace {

constexpr int kThreads = 256;

// x: [outer, inner] -> y: [outer]; grid.x = outer rows (looped when > gridDim)
template <typename S>
__global__ void reduce_last_kernel(ReduceOp op, int64_t outer, int64_t inner, const S* x, S* y) {
  using C = typename compute_type<S>::type;
  __shared__ C buf[kThreads];
  __shared__ bool nan_seen;
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const S* row = x + o * inner;
    C acc = op == ReduceOp::max ? load_c(row, 0) : C(0);
    bool has_nan = false;
    for (int64_t j = threadIdx.x; j < inner; j += blockDim.x) {
      C v = load_c(row, j);
      if (op == ReduceOp::max) {
        if (v != v) has_nan = true;
        else if (v > acc) acc = v;
      } else {
        acc += v;
      }
    }
    if (threadIdx.x == 0) nan_seen = false;
    __syncthreads();
    if (has_nan) nan_seen = true;
    buf[threadIdx.x] = acc;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) {
        C other = buf[threadIdx.x + s];
        buf[threadIdx.x] = op == ReduceOp::max ? (other > buf[threadIdx.x] ? other : buf[threadIdx.x])
                                               : buf[threadIdx.x] + other;
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      C r = buf[0];
      if (op == ReduceOp::mean) r = r / C(inner);
      if (op == ReduceOp::max && nan_seen) r = C(NAN);
      store_c(y, o, r);
    }
    __syncthreads();
  }
}

// x: [outer, inner] -> idx: [outer]; one thread per row (rows are short in practice: classes, dims)
template <typename S>
__global__ void argmax_last_kernel(int64_t outer, int64_t inner, const S* x, int64_t* idx) {
  using C = typename compute_type<S>::type;
  NAT_GRID_STRIDE_LOOP(o, outer) {
    const S* row = x + o * inner;
    int64_t best = 0;
    C bv = load_c(row, 0);
    for (int64_t j = 1; j < inner; ++j) {
      C v = load_c(row, j);
      if (v > bv || (v != v && bv == bv)) {
        bv = v;
        best = j;
      }
    }
    idx[o] = best;
  }
}

// out: [outer, inner] = g[o] at idx[o], else 0; one thread per output element
template <typename S>
__global__ void scatter_last_kernel(int64_t outer, int64_t inner, const int64_t* idx, const S* g, S* out) {
  using C = typename compute_type<S>::type;
  NAT_GRID_STRIDE_LOOP(i, outer * inner) {
    int64_t o = i / inner, j = i % inner;
    store_c(out, i, j == idx[o] ? load_c(g, o) : C(0));
  }
}

}  // namespace

void reduce_last(ReduceOp op, DType dtype, int64_t outer, int64_t inner, const void* x, void* y, int device) {
  if (outer == 0) return;
  DeviceGuard g(device);
  with_cuda_float_type(dtype, "reduce", [&](auto zero) {
    using S = decltype(zero);
    unsigned grid = static_cast<unsigned>(outer < 65535 ? outer : 65535);
    reduce_last_kernel<S><<<grid, kThreads, 0, current_stream(device)>>>(op, outer, inner, static_cast<const S*>(x),
                                                                         static_cast<S*>(y));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

void argmax_last(DType dtype, int64_t outer, int64_t inner, const void* x, int64_t* idx, int device) {
  if (outer == 0) return;
  DeviceGuard g(device);
  with_cuda_float_type(dtype, "argmax", [&](auto zero) {
    using S = decltype(zero);
    argmax_last_kernel<S><<<grid_for(outer), 256, 0, current_stream(device)>>>(outer, inner, static_cast<const S*>(x), idx);
    NAT_CUDA_CHECK_LAUNCH();
  });
}

void scatter_last(DType dtype, int64_t outer, int64_t inner, const int64_t* idx, const void* g, void* out, int device) {
  if (outer * inner == 0) return;
  DeviceGuard dg(device);
  with_cuda_float_type(dtype, "max backward", [&](auto zero) {
    using S = decltype(zero);
    scatter_last_kernel<S><<<grid_for(outer * inner), 256, 0, current_stream(device)>>>(
        outer, inner, idx, static_cast<const S*>(g), static_cast<S*>(out));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace nat::kernels::cuda
