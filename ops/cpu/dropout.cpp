// CPU dropout and drop_path kernels (ops/dropout_kernels.h). The backward is the forward applied to
// the incoming gradient: the mask is regenerated from the same (seed, offset).
#include "ops/cpu/float_dispatch.h"
#include "ops/dropout_kernels.h"
#include "ops/dropout_math.h"

namespace nat::kernels::cpu {

namespace {

constexpr int64_t kGrain = 1 << 12;

void dropout_apply(const char* op, DType dtype, int64_t n, double keep_prob, uint64_t seed, uint64_t offset,
                   const void* in, void* out) {
  with_cpu_float(dtype, op, [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(in);
    T* y = static_cast<T*>(out);
    const T scale = keep_prob > 0 ? static_cast<T>(1.0 / keep_prob) : T(0);
#pragma omp parallel for schedule(static) if (n > kGrain)
    for (int64_t i = 0; i < n; ++i) y[i] = dropout_keeps(seed, offset, i, keep_prob) ? x[i] * scale : T(0);
  });
}

void drop_path_apply(const char* op, DType dtype, int64_t batch, int64_t inner, double keep_prob, uint64_t seed,
                     uint64_t offset, const void* in, void* out) {
  with_cpu_float(dtype, op, [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(in);
    T* y = static_cast<T*>(out);
#pragma omp parallel for schedule(static) if (batch * inner > kGrain && batch > 1)
    for (int64_t b = 0; b < batch; ++b) {
      const T s = static_cast<T>(drop_path_scale(seed, offset, b, keep_prob));
      const T* xr = x + b * inner;
      T* yr = y + b * inner;
      if (s == T(0)) {
        for (int64_t j = 0; j < inner; ++j) yr[j] = T(0);
      } else {
#pragma omp simd
        for (int64_t j = 0; j < inner; ++j) yr[j] = xr[j] * s;
      }
    }
  });
}

}  // namespace

void dropout_forward(DType dtype, int64_t n, double keep_prob, uint64_t seed, uint64_t offset, const void* x, void* y,
                     int) {
  dropout_apply("dropout", dtype, n, keep_prob, seed, offset, x, y);
}
void dropout_backward(DType dtype, int64_t n, double keep_prob, uint64_t seed, uint64_t offset, const void* dy,
                      void* dx, int) {
  dropout_apply("dropout backward", dtype, n, keep_prob, seed, offset, dy, dx);
}
void drop_path_forward(DType dtype, int64_t batch, int64_t inner, double keep_prob, uint64_t seed, uint64_t offset,
                       const void* x, void* y, int) {
  drop_path_apply("drop_path", dtype, batch, inner, keep_prob, seed, offset, x, y);
}
void drop_path_backward(DType dtype, int64_t batch, int64_t inner, double keep_prob, uint64_t seed, uint64_t offset,
                        const void* dy, void* dx, int) {
  drop_path_apply("drop_path backward", dtype, batch, inner, keep_prob, seed, offset, dy, dx);
}

}  // namespace nat::kernels::cpu
