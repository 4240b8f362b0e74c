// CPU reduction kernels over the last axis of [outer, inner]; rows in parallel, f64 accumulation.
#include <cstring>
#include <limits>

#include "core/error.h"
#include "ops/reduce_kernels.h"

namespace nat::kernels::cpu {

namespace {
template <typename F>
void with_float(DType t, const char* name, F&& f) {
  if (t == DType::f32) f(float{});
  else if (t == DType::f64) f(double{});
  else NAT_THROW("[", name, "] the CPU backend computes in f32 or f64, got ", dtype_name(t));
}
}  // namespace

void reduce_last(ReduceOp op, DType dtype, int64_t outer, int64_t inner, const void* x, void* y, int) {
  with_float(dtype, "reduce", [&](auto zero) {
    using T = decltype(zero);
    const T* px = static_cast<const T*>(x);
    T* py = static_cast<T*>(y);
#pragma omp parallel for schedule(static) if (outer * inner > (1 << 15) && outer > 1)
    for (int64_t o = 0; o < outer; ++o) {
      const T* row = px + o * inner;
      if (op == ReduceOp::max) {
        T m = row[0];
        for (int64_t j = 1; j < inner; ++j)
          if (row[j] > m || row[j] != row[j]) m = row[j];  // NaN propagates
        py[o] = m;
      } else {
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < inner; ++j) s += row[j];
        py[o] = static_cast<T>(op == ReduceOp::mean ? (inner ? s / inner : std::numeric_limits<double>::quiet_NaN()) : s);
      }
    }
  });
}

void argmax_last(DType dtype, int64_t outer, int64_t inner, const void* x, int64_t* idx, int) {
  with_float(dtype, "argmax", [&](auto zero) {
    using T = decltype(zero);
    const T* px = static_cast<const T*>(x);
#pragma omp parallel for schedule(static) if (outer * inner > (1 << 15) && outer > 1)
    for (int64_t o = 0; o < outer; ++o) {
      const T* row = px + o * inner;
      int64_t best = 0;
      for (int64_t j = 1; j < inner; ++j)
        if (row[j] > row[best] || (row[j] != row[j] && row[best] == row[best])) best = j;
      idx[o] = best;
    }
  });
}

void scatter_last(DType dtype, int64_t outer, int64_t inner, const int64_t* idx, const void* g, void* out, int) {
  with_float(dtype, "max backward", [&](auto zero) {
    using T = decltype(zero);
    const T* pg = static_cast<const T*>(g);
    T* po = static_cast<T*>(out);
    std::memset(po, 0, sizeof(T) * outer * inner);
    for (int64_t o = 0; o < outer; ++o) po[o * inner + idx[o]] = pg[o];
  });
}

}  // namespace nat::kernels::cpu
