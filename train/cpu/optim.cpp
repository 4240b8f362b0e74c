// CPU optimizer kernels: one OpenMP-parallel pass per parameter. Each element's update is independent,
// so the result does not depend on the thread count; sum_squares reduces fixed slices in a fixed order.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/half.h"
#include "train/optim_kernels.h"

namespace nat::kernels::cpu {

namespace {

constexpr int64_t kParallelMin = 1 << 14;  // below this, threads cost more than they save

template <typename T>
inline float load(const T* p, int64_t i) {
  return static_cast<float>(p[i]);
}

template <typename F>
void with_grad_type(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32:
      return f(float{});
    case DType::bf16:
      return f(bf16{});
    case DType::f16:
      return f(f16{});
    default:
      NAT_THROW("[", op, "] gradients must be f32, bf16 or f16, got ", dtype_name(t));
  }
}

// Stores the updated f32 value into the model's low-precision copy, when there is one.
inline void store_out(void* out, DType odtype, int64_t i, float v) {
  if (!out) return;
  if (odtype == DType::bf16)
    static_cast<bf16*>(out)[i] = bf16(v);
  else if (odtype == DType::f16)
    static_cast<f16*>(out)[i] = f16(v);
  else
    static_cast<float*>(out)[i] = v;
}

inline float prepare_grad(float g, float scale, float clip_value) {
  g *= scale;
  if (clip_value > 0) g = std::min(std::max(g, -clip_value), clip_value);
  return g;
}

}  // namespace

void adamw_update(int64_t n, float* p, const void* g, DType gdtype, float* m, float* v, const AdamWStep& s, void* out,
                  DType odtype, int device) {
  (void)device;
  with_grad_type(gdtype, "adamw_update", [&](auto zero) {
    using G = decltype(zero);
    const G* gp = static_cast<const G*>(g);
    const float decay = 1.0f - s.lr * s.weight_decay;
    const float step_size = s.lr / s.bias_correction1;
    const float one_m_b1 = 1.0f - s.beta1, one_m_b2 = 1.0f - s.beta2;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) {
      float gi = prepare_grad(load(gp, i), s.grad_scale, s.clip_value);
      float mi = s.beta1 * m[i] + one_m_b1 * gi;
      float vi = s.beta2 * v[i] + one_m_b2 * gi * gi;
      float denom = std::sqrt(vi) / s.bias_correction2_sqrt + s.eps;
      float pi = p[i] * decay - step_size * (mi / denom);
      m[i] = mi;
      v[i] = vi;
      p[i] = pi;
      store_out(out, odtype, i, pi);
    }
  });
}

void sgd_update(int64_t n, float* p, const void* g, DType gdtype, float* buf, const SgdStep& s, void* out, DType odtype,
                int device) {
  (void)device;
  with_grad_type(gdtype, "sgd_update", [&](auto zero) {
    using G = decltype(zero);
    const G* gp = static_cast<const G*>(g);
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) {
      float gi = prepare_grad(load(gp, i), s.grad_scale, s.clip_value) + s.weight_decay * p[i];
      float d = gi;
      if (s.momentum != 0) {
        float b = s.first ? gi : s.momentum * buf[i] + gi;
        buf[i] = b;
        d = s.nesterov ? gi + s.momentum * b : b;
      }
      float pi = p[i] - s.lr * d;
      p[i] = pi;
      store_out(out, odtype, i, pi);
    }
  });
}

void sum_squares(int64_t n, const void* x, DType dtype, double* partials, double* out, int device) {
  (void)device;
  with_grad_type(dtype, "sum_squares", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = static_cast<const T*>(x);
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t s = 0; s < kSumSquaresPartials; ++s) {
      int64_t b = n * s / kSumSquaresPartials, e = n * (s + 1) / kSumSquaresPartials;
      double acc = 0;
      for (int64_t i = b; i < e; ++i) {
        double xi = load(xp, i);
        acc += xi * xi;
      }
      partials[s] = acc;
    }
  });
  double total = 0;
  for (int64_t s = 0; s < kSumSquaresPartials; ++s) total += partials[s];
  *out = total;
}

void ema_update(int64_t n, float* ema, const float* x, double decay, int device) {
  (void)device;
  const float d = static_cast<float>(decay), one_m_d = static_cast<float>(1.0 - decay);
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) ema[i] = ema[i] * d + one_m_d * x[i];
}

}  // namespace nat::kernels::cpu
