// CUDA dropout and drop_path kernels (ops/dropout_kernels.h): one thread per element, the keep
// decision from ops/dropout_math.h (the same code the CPU runs), so both backends draw identical
// masks. drop_path recomputes its sample's draw per element rather than staging a mask.
#include "cuda/cuda_check.h"
#include "cuda/element_access.cuh"
#include "cuda/stream.h"
#include "ops/dropout_kernels.h"
#include "ops/dropout_math.h"

namespace nat::kernels::cuda {

using nat::cuda::compute_type;
using nat::cuda::current_stream;
using nat::cuda::DeviceGuard;
using nat::cuda::grid_for;
using nat::cuda::load_c;
using nat::cuda::store_c;
using nat::cuda::with_cuda_float_type;

namespace {

// x, y: n elements
template <typename S>
__global__ void dropout_kernel(int64_t n, double keep_prob, uint64_t seed, uint64_t offset, const S* x, S* y) {
  using C = typename compute_type<S>::type;
  const C scale = keep_prob > 0.0 ? C(1.0 / keep_prob) : C(0);
  NAT_GRID_STRIDE_LOOP(i, n) store_c(y, i, dropout_keeps(seed, offset, i, keep_prob) ? load_c(x, i) * scale : C(0));
}

// x, y: [batch, inner]
template <typename S>
__global__ void drop_path_kernel(int64_t batch, int64_t inner, double keep_prob, uint64_t seed, uint64_t offset,
                                 const S* x, S* y) {
  using C = typename compute_type<S>::type;
  NAT_GRID_STRIDE_LOOP(i, batch * inner) {
    const C s = C(drop_path_scale(seed, offset, i / inner, keep_prob));
    store_c(y, i, s == C(0) ? C(0) : load_c(x, i) * s);
  }
}

void launch_dropout(const char* op, DType dtype, int64_t n, double keep_prob, uint64_t seed, uint64_t offset,
                    const void* x, void* y, int device) {
  if (n == 0) return;
  DeviceGuard g(device);
  with_cuda_float_type(dtype, op, [&](auto zero) {
    using S = decltype(zero);
    dropout_kernel<S><<<grid_for(n), 256, 0, current_stream(device)>>>(n, keep_prob, seed, offset,
                                                                       static_cast<const S*>(x), static_cast<S*>(y));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

void launch_drop_path(const char* op, DType dtype, int64_t batch, int64_t inner, double keep_prob, uint64_t seed,
                      uint64_t offset, const void* x, void* y, int device) {
  if (batch * inner == 0) return;
  DeviceGuard g(device);
  with_cuda_float_type(dtype, op, [&](auto zero) {
    using S = decltype(zero);
    drop_path_kernel<S><<<grid_for(batch * inner), 256, 0, current_stream(device)>>>(
        batch, inner, keep_prob, seed, offset, static_cast<const S*>(x), static_cast<S*>(y));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void dropout_forward(DType dtype, int64_t n, double keep_prob, uint64_t seed, uint64_t offset, const void* x, void* y,
                     int device) {
  launch_dropout("dropout", dtype, n, keep_prob, seed, offset, x, y, device);
}
void dropout_backward(DType dtype, int64_t n, double keep_prob, uint64_t seed, uint64_t offset, const void* dy,
                      void* dx, int device) {
  launch_dropout("dropout backward", dtype, n, keep_prob, seed, offset, dy, dx, device);
}
void drop_path_forward(DType dtype, int64_t batch, int64_t inner, double keep_prob, uint64_t seed, uint64_t offset,
                       const void* x, void* y, int device) {
  launch_drop_path("drop_path", dtype, batch, inner, keep_prob, seed, offset, x, y, device);
}
void drop_path_backward(DType dtype, int64_t batch, int64_t inner, double keep_prob, uint64_t seed, uint64_t offset,
                        const void* dy, void* dx, int device) {
  launch_drop_path("drop_path backward", dtype, batch, inner, keep_prob, seed, offset, dy, dx, device);
}

}  // namespace nat::kernels::cuda
