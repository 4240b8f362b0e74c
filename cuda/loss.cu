// CUDA kernels for the fused classification losses (ops/loss_kernels.h). Forward: one block per row
// (block max, then block sums of exp and of the target-weighted logits). Backward: one thread per
// logit for hard targets; one block per row for soft targets (which need the row's target mass).
// An out-of-range hard target makes that row's loss and log-sum-exp NaN rather than faulting.
#include "cuda/block_reduce.cuh"
#include "cuda/cuda_check.h"
#include "cuda/element_access.cuh"
#include "cuda/stream.h"
#include "ops/loss_kernels.h"

namespace nat::kernels::cuda {

using nat::cuda::block_max;
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

// log sum_j exp(xr[j]) over one row, by the whole block; every thread gets the result.
template <typename S, typename C>
__device__ C block_logsumexp(const S* xr, int64_t c, C* scratch) {
  C m = C(-INFINITY);
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    C v = load_c(xr, j);
    m = v > m ? v : m;
  }
  m = block_max(m, scratch);
  C s = 0;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) s += exp(load_c(xr, j) - m);
  return m + log(block_sum(s, scratch));
}

// logits: [n, c]; target: [n]; loss, lse: [n]; one block per row
template <typename S>
__global__ void cross_entropy_forward_kernel(int64_t n, int64_t c, double smoothing, const S* logits,
                                             const int64_t* target, typename compute_type<S>::type* loss,
                                             typename compute_type<S>::type* lse) {
  using C = typename compute_type<S>::type;
  __shared__ C scratch[32];
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const S* xr = logits + i * c;
    const C z = block_logsumexp(xr, c, scratch);
    C sx = 0;
    if (smoothing != 0.0)
      for (int64_t j = threadIdx.x; j < c; j += blockDim.x) sx += load_c(xr, j);
    sx = block_sum(sx, scratch);
    if (threadIdx.x == 0) {
      const int64_t t = target[i];
      if (t < 0 || t >= c) {
        loss[i] = C(NAN);
        lse[i] = C(NAN);
      } else {
        const C eps = C(smoothing);
        loss[i] = (C(1) - eps) * (z - load_c(xr, t)) + eps * (z - sx / C(c));
        lse[i] = z;
      }
    }
  }
}

// logits, dlogits: [n, c]; target, lse: [n]; dloss: one element; one thread per logit
template <typename S>
__global__ void cross_entropy_backward_kernel(int64_t n, int64_t c, double smoothing, double scale, const S* logits,
                                              const int64_t* target, const typename compute_type<S>::type* lse,
                                              const typename compute_type<S>::type* dloss, S* dlogits) {
  using C = typename compute_type<S>::type;
  const C g = dloss[0] * C(scale);
  const C off = C(smoothing / static_cast<double>(c)), on = C(1.0 - smoothing);
  NAT_GRID_STRIDE_LOOP(e, n * c) {
    const int64_t i = e / c, j = e % c;
    C q = j == target[i] ? on + off : off;
    store_c(dlogits, e, g * (exp(load_c(logits, e) - lse[i]) - q));
  }
}

// logits, target: [n, c]; loss, lse: [n]; one block per row
template <typename S>
__global__ void soft_cross_entropy_forward_kernel(int64_t n, int64_t c, const S* logits, const S* target,
                                                  typename compute_type<S>::type* loss,
                                                  typename compute_type<S>::type* lse) {
  using C = typename compute_type<S>::type;
  __shared__ C scratch[32];
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const S* xr = logits + i * c;
    const S* tr = target + i * c;
    const C z = block_logsumexp(xr, c, scratch);
    C st = 0, stx = 0;
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
      C t = load_c(tr, j);
      st += t;
      stx += t * load_c(xr, j);
    }
    st = block_sum(st, scratch);
    stx = block_sum(stx, scratch);
    if (threadIdx.x == 0) {
      loss[i] = st * z - stx;
      lse[i] = z;
    }
  }
}

// logits, target, dlogits, dtarget: [n, c]; lse: [n]; dloss: one element; one block per row
template <typename S>
__global__ void soft_cross_entropy_backward_kernel(int64_t n, int64_t c, double scale, const S* logits, const S* target,
                                                   const typename compute_type<S>::type* lse,
                                                   const typename compute_type<S>::type* dloss, S* dlogits,
                                                   S* dtarget) {
  using C = typename compute_type<S>::type;
  __shared__ C scratch[32];
  const C g = dloss[0] * C(scale);
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const S* xr = logits + i * c;
    const S* tr = target + i * c;
    const C z = lse[i];
    C st = 0;
    if (dlogits)
      for (int64_t j = threadIdx.x; j < c; j += blockDim.x) st += load_c(tr, j);
    st = block_sum(st, scratch);
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
      const C x = load_c(xr, j);
      if (dlogits) store_c(dlogits, i * c + j, g * (exp(x - z) * st - load_c(tr, j)));
      if (dtarget) store_c(dtarget, i * c + j, g * (z - x));
    }
  }
}

}  // namespace

void cross_entropy_forward(DType dtype, int64_t n, int64_t c, double smoothing, const void* logits,
                           const int64_t* target, void* loss, void* lse, int device) {
  if (n == 0 || c == 0) return;
  DeviceGuard g(device);
  with_cuda_float_type(dtype, "cross_entropy", [&](auto zero) {
    using S = decltype(zero);
    using C = typename compute_type<S>::type;
    cross_entropy_forward_kernel<S><<<row_grid(n), row_block_threads(c), 0, current_stream(device)>>>(
        n, c, smoothing, static_cast<const S*>(logits), target, static_cast<C*>(loss), static_cast<C*>(lse));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

void cross_entropy_backward(DType dtype, int64_t n, int64_t c, double smoothing, double scale, const void* logits,
                            const int64_t* target, const void* lse, const void* dloss, void* dlogits, int device) {
  if (n == 0 || c == 0) return;
  DeviceGuard g(device);
  with_cuda_float_type(dtype, "cross_entropy backward", [&](auto zero) {
    using S = decltype(zero);
    using C = typename compute_type<S>::type;
    cross_entropy_backward_kernel<S><<<grid_for(n * c), 256, 0, current_stream(device)>>>(
        n, c, smoothing, scale, static_cast<const S*>(logits), target, static_cast<const C*>(lse),
        static_cast<const C*>(dloss), static_cast<S*>(dlogits));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

void soft_cross_entropy_forward(DType dtype, int64_t n, int64_t c, const void* logits, const void* target, void* loss,
                                void* lse, int device) {
  if (n == 0 || c == 0) return;
  DeviceGuard g(device);
  with_cuda_float_type(dtype, "soft_target_cross_entropy", [&](auto zero) {
    using S = decltype(zero);
    using C = typename compute_type<S>::type;
    soft_cross_entropy_forward_kernel<S><<<row_grid(n), row_block_threads(c), 0, current_stream(device)>>>(
        n, c, static_cast<const S*>(logits), static_cast<const S*>(target), static_cast<C*>(loss),
        static_cast<C*>(lse));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

void soft_cross_entropy_backward(DType dtype, int64_t n, int64_t c, double scale, const void* logits,
                                 const void* target, const void* lse, const void* dloss, void* dlogits, void* dtarget,
                                 int device) {
  if (n == 0 || c == 0) return;
  DeviceGuard g(device);
  with_cuda_float_type(dtype, "soft_target_cross_entropy backward", [&](auto zero) {
    using S = decltype(zero);
    using C = typename compute_type<S>::type;
    soft_cross_entropy_backward_kernel<S><<<row_grid(n), row_block_threads(c), 0, current_stream(device)>>>(
        n, c, scale, static_cast<const S*>(logits), static_cast<const S*>(target), static_cast<const C*>(lse),
        static_cast<const C*>(dloss), static_cast<S*>(dlogits), static_cast<S*>(dtarget));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace nat::kernels::cuda
