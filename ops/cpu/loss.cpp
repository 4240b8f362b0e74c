// CPU kernels for the fused classification losses (ops/loss_kernels.h): rows in parallel, each row's
// max, log-sum-exp and target sums in vectorisable passes with f64 accumulation.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/cpu/float_dispatch.h"
#include "ops/loss_kernels.h"

namespace nat::kernels::cpu {

namespace {

constexpr int64_t kGrain = 1 << 14;

// log sum_j exp(x[j]), shifted by the row max for stability.
template <typename T>
double row_logsumexp(const T* x, int64_t c) {
  T m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t j = 0; j < c; ++j) m = std::max(m, x[j]);
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < c; ++j) s += std::exp(x[j] - m);
  return static_cast<double>(m) + std::log(s);
}

void check_targets(int64_t n, int64_t c, const int64_t* target) {
  for (int64_t i = 0; i < n; ++i)
    NAT_CHECK(target[i] >= 0 && target[i] < c, "[cross_entropy] target[", i, "] = ", target[i], " is out of range for ",
              c, " classes (expected 0 <= target < ", c, ")");
}

}  // namespace

void cross_entropy_forward(DType dtype, int64_t n, int64_t c, double smoothing, const void* logits,
                           const int64_t* target, void* loss, void* lse, int) {
  with_cpu_float(dtype, "cross_entropy", [&](auto zero) {
    using T = decltype(zero);
    check_targets(n, c, target);
    const T* x = static_cast<const T*>(logits);
    T* pl = static_cast<T*>(loss);
    T* pz = static_cast<T*>(lse);
#pragma omp parallel for schedule(static) if (n * c > kGrain && n > 1)
    for (int64_t i = 0; i < n; ++i) {
      const T* xr = x + i * c;
      const double z = row_logsumexp(xr, c);
      double sx = 0;
      if (smoothing != 0) {
#pragma omp simd reduction(+ : sx)
        for (int64_t j = 0; j < c; ++j) sx += xr[j];
      }
      pz[i] = static_cast<T>(z);
      pl[i] = static_cast<T>((1 - smoothing) * (z - xr[target[i]]) + smoothing * (z - sx / static_cast<double>(c)));
    }
  });
}

void cross_entropy_backward(DType dtype, int64_t n, int64_t c, double smoothing, double scale, const void* logits,
                            const int64_t* target, const void* lse, const void* dloss, void* dlogits, int) {
  with_cpu_float(dtype, "cross_entropy backward", [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(logits);
    const T* pz = static_cast<const T*>(lse);
    T* dx = static_cast<T*>(dlogits);
    const T g = static_cast<T>(static_cast<const T*>(dloss)[0] * scale);
    const T off = static_cast<T>(smoothing / static_cast<double>(c));
    const T on = static_cast<T>(1 - smoothing);
#pragma omp parallel for schedule(static) if (n * c > kGrain && n > 1)
    for (int64_t i = 0; i < n; ++i) {
      const T* xr = x + i * c;
      T* dr = dx + i * c;
      const T z = pz[i];
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) dr[j] = g * (std::exp(xr[j] - z) - off);
      dr[target[i]] -= g * on;
    }
  });
}

void soft_cross_entropy_forward(DType dtype, int64_t n, int64_t c, const void* logits, const void* target, void* loss,
                                void* lse, int) {
  with_cpu_float(dtype, "soft_target_cross_entropy", [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(logits);
    const T* t = static_cast<const T*>(target);
    T* pl = static_cast<T*>(loss);
    T* pz = static_cast<T*>(lse);
#pragma omp parallel for schedule(static) if (n * c > kGrain && n > 1)
    for (int64_t i = 0; i < n; ++i) {
      const T* xr = x + i * c;
      const T* tr = t + i * c;
      const double z = row_logsumexp(xr, c);
      double st = 0, stx = 0;
#pragma omp simd reduction(+ : st, stx)
      for (int64_t j = 0; j < c; ++j) {
        st += tr[j];
        stx += static_cast<double>(tr[j]) * xr[j];
      }
      pz[i] = static_cast<T>(z);
      pl[i] = static_cast<T>(st * z - stx);
    }
  });
}

void soft_cross_entropy_backward(DType dtype, int64_t n, int64_t c, double scale, const void* logits,
                                 const void* target, const void* lse, const void* dloss, void* dlogits, void* dtarget,
                                 int) {
  with_cpu_float(dtype, "soft_target_cross_entropy backward", [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(logits);
    const T* t = static_cast<const T*>(target);
    const T* pz = static_cast<const T*>(lse);
    T* dx = static_cast<T*>(dlogits);
    T* dt = static_cast<T*>(dtarget);
    const T g = static_cast<T>(static_cast<const T*>(dloss)[0] * scale);
#pragma omp parallel for schedule(static) if (n * c > kGrain && n > 1)
    for (int64_t i = 0; i < n; ++i) {
      const T* xr = x + i * c;
      const T* tr = t + i * c;
      const T z = pz[i];
      if (dx) {
        double st = 0;
#pragma omp simd reduction(+ : st)
        for (int64_t j = 0; j < c; ++j) st += tr[j];
        const T stt = static_cast<T>(st);
        T* dr = dx + i * c;
#pragma omp simd
        for (int64_t j = 0; j < c; ++j) dr[j] = g * (std::exp(xr[j] - z) * stt - tr[j]);
      }
      if (dt) {
        T* dr = dt + i * c;
#pragma omp simd
        for (int64_t j = 0; j < c; ++j) dr[j] = g * (z - xr[j]);
      }
    }
  });
}

}  // namespace nat::kernels::cpu
