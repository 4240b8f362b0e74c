// CUDA kernels for elementwise ops (ops/elementwise_kernels.h): one thread per output element,
// grid-stride loops, f32 compute for bf16/f16 storage. The op stays a runtime switch here to keep
// nvcc compile time small (one instantiation per storage type, not per op).
#include "cuda/cuda_check.h"
#include "cuda/element_access.cuh"
#include "cuda/stream.h"
#include "ops/elementwise_math.h"

namespace nat::kernels::cuda {

using nat::cuda::compute_type;
using nat::cuda::current_stream;
using nat::cuda::DeviceGuard;
using nat::cuda::grid_for;
using nat::cuda::load_c;
using nat::cuda::store_c;
using nat::cuda::with_cuda_float_type;

namespace {

// y, x: n elements
template <typename S>
__global__ void unary_forward_kernel(UnaryOp op, double p0, double p1, int64_t n, const S* x, S* y) {
  using C = typename compute_type<S>::type;
  NAT_GRID_STRIDE_LOOP(i, n) store_c(y, i, unary_value<C>(op, load_c(x, i), C(p0), C(p1)));
}

// gx, gy, x, y: n elements
template <typename S>
__global__ void unary_backward_kernel(UnaryOp op, double p0, double p1, int64_t n, const S* x, const S* y,
                                      const S* gy, S* gx) {
  using C = typename compute_type<S>::type;
  NAT_GRID_STRIDE_LOOP(i, n) {
    C d = unary_derivative<C>(op, load_c(x, i), load_c(y, i), C(p0), C(p1));
    store_c(gx, i, load_c(gy, i) * d);
  }
}

__device__ __forceinline__ void offsets(const BroadcastLayout& l, int64_t i, int nops, int64_t* off) {
  for (int k = 0; k < 3; ++k) off[k] = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    int64_t idx = i % l.shape[d];
    i /= l.shape[d];
    for (int k = 0; k < nops; ++k) off[k] += idx * l.strides[k][d];
  }
}

// out: n contiguous elements; a, b: strided through layout operands 0 and 1
template <typename S>
__global__ void binary_forward_kernel(BinaryOp op, BroadcastLayout l, int64_t n, const S* a, const S* b, S* out) {
  using C = typename compute_type<S>::type;
  NAT_GRID_STRIDE_LOOP(i, n) {
    int64_t off[3];
    offsets(l, i, 2, off);
    store_c(out, i, binary_value<C>(op, load_c(a, off[0]), load_c(b, off[1])));
  }
}

// out: n contiguous elements; cond (u8), a, b: strided through layout operands 0, 1, 2
template <typename S>
__global__ void where_forward_kernel(BroadcastLayout l, int64_t n, const uint8_t* cond, const S* a, const S* b,
                                     S* out) {
  NAT_GRID_STRIDE_LOOP(i, n) {
    int64_t off[3];
    offsets(l, i, 3, off);
    out[i] = cond[off[0]] ? a[off[1]] : b[off[2]];
  }
}

int64_t layout_numel(const BroadcastLayout& l) {
  int64_t n = 1;
  for (int d = 0; d < l.ndim; ++d) n *= l.shape[d];
  return n;
}

}  // namespace

void unary_forward(UnaryOp op, double p0, double p1, DType dtype, int64_t n, const void* x, void* y, int device) {
  if (n == 0) return;
  DeviceGuard g(device);
  with_cuda_float_type(dtype, "unary", [&](auto zero) {
    using S = decltype(zero);
    unary_forward_kernel<S><<<grid_for(n), 256, 0, current_stream(device)>>>(op, p0, p1, n, static_cast<const S*>(x),
                                                                             static_cast<S*>(y));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

void unary_backward(UnaryOp op, double p0, double p1, DType dtype, int64_t n, const void* x, const void* y,
                    const void* gy, void* gx, int device) {
  if (n == 0) return;
  DeviceGuard g(device);
  with_cuda_float_type(dtype, "unary backward", [&](auto zero) {
    using S = decltype(zero);
    unary_backward_kernel<S><<<grid_for(n), 256, 0, current_stream(device)>>>(
        op, p0, p1, n, static_cast<const S*>(x), static_cast<const S*>(y), static_cast<const S*>(gy),
        static_cast<S*>(gx));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

void binary_forward(BinaryOp op, DType dtype, const BroadcastLayout& l, const void* a, const void* b, void* out,
                    int device) {
  int64_t n = layout_numel(l);
  if (n == 0) return;
  DeviceGuard g(device);
  with_cuda_float_type(dtype, "binary", [&](auto zero) {
    using S = decltype(zero);
    binary_forward_kernel<S><<<grid_for(n), 256, 0, current_stream(device)>>>(
        op, l, n, static_cast<const S*>(a), static_cast<const S*>(b), static_cast<S*>(out));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

void where_forward(DType dtype, const BroadcastLayout& l, const uint8_t* cond, const void* a, const void* b, void* out,
                   int device) {
  int64_t n = layout_numel(l);
  if (n == 0) return;
  DeviceGuard g(device);
  with_cuda_float_type(dtype, "where", [&](auto zero) {
    using S = decltype(zero);
    where_forward_kernel<S><<<grid_for(n), 256, 0, current_stream(device)>>>(
        l, n, cond, static_cast<const S*>(a), static_cast<const S*>(b), static_cast<S*>(out));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace nat::kernels::cuda
