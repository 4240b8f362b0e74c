// CPU layer-norm kernels (ops/norm_kernels.h). Forward: rows in parallel, two-pass mean/variance in
// f64. Backward: rows are split into a fixed number of chunks (independent of the thread count); each
// chunk writes dx for its rows and its own dweight/dbias partial sums, which are then added in chunk
// order, so the result is bit-identical whatever OMP_NUM_THREADS is.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/cpu/float_dispatch.h"
#include "ops/norm_kernels.h"

namespace nat::kernels::cpu {

namespace {

constexpr int64_t kGrain = 1 << 14;
constexpr int64_t kChunks = 64;

template <typename T>
void ln_forward(int64_t rows, int64_t cols, double eps, const T* x, const T* w, const T* b, T* y, T* mean, T* rstd) {
#pragma omp parallel for schedule(static) if (rows * cols > kGrain && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < cols; ++j) s += xr[j];
    const double mu = s / static_cast<double>(cols);
    double v = 0;
#pragma omp simd reduction(+ : v)
    for (int64_t j = 0; j < cols; ++j) {
      double d = xr[j] - mu;
      v += d * d;
    }
    const T m = static_cast<T>(mu), rs = static_cast<T>(1.0 / std::sqrt(v / static_cast<double>(cols) + eps));
    mean[r] = m;
    rstd[r] = rs;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) {
      T n = (xr[j] - m) * rs;
      yr[j] = (w ? n * w[j] : n) + (b ? b[j] : T(0));
    }
  }
}

template <typename T>
void ln_backward(int64_t rows, int64_t cols, const T* dy, const T* x, const T* mean, const T* rstd, const T* w, T* dx,
                 T* dw, T* db) {
  const int64_t chunks = std::min(rows, kChunks);
  if (chunks == 0) {
    if (dw) std::fill(dw, dw + cols, T(0));
    if (db) std::fill(db, db + cols, T(0));
    return;
  }
  const int64_t per = (rows + chunks - 1) / chunks;
  const bool params = dw || db;
  std::vector<double> partial(params ? static_cast<size_t>(chunks * 2 * cols) : 0, 0.0);
#pragma omp parallel for schedule(static) if (rows * cols > kGrain && chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    double* pw = params ? partial.data() + c * 2 * cols : nullptr;
    double* pb = params ? pw + cols : nullptr;
    const int64_t r1 = std::min(rows, (c + 1) * per);
    for (int64_t r = c * per; r < r1; ++r) {
      const T* xr = x + r * cols;
      const T* gr = dy + r * cols;
      const T m = mean[r], rs = rstd[r];
      if (dx) {
        double sg = 0, sgx = 0;
#pragma omp simd reduction(+ : sg, sgx)
        for (int64_t j = 0; j < cols; ++j) {
          T g = w ? gr[j] * w[j] : gr[j];
          sg += g;
          sgx += static_cast<double>(g) * ((xr[j] - m) * rs);
        }
        const T mg = static_cast<T>(sg / static_cast<double>(cols));
        const T mgx = static_cast<T>(sgx / static_cast<double>(cols));
        T* dr = dx + r * cols;
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) {
          T g = w ? gr[j] * w[j] : gr[j];
          dr[j] = rs * (g - mg - (xr[j] - m) * rs * mgx);
        }
      }
      if (params) {
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) {
          pw[j] += static_cast<double>(gr[j]) * ((xr[j] - m) * rs);
          pb[j] += gr[j];
        }
      }
    }
  }
  if (!params) return;
#pragma omp parallel for schedule(static) if (chunks * cols > kGrain)
  for (int64_t j = 0; j < cols; ++j) {
    double sw = 0, sb = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      sw += partial[c * 2 * cols + j];
      sb += partial[c * 2 * cols + cols + j];
    }
    if (dw) dw[j] = static_cast<T>(sw);
    if (db) db[j] = static_cast<T>(sb);
  }
}

}  // namespace

void layer_norm_forward(DType dtype, int64_t rows, int64_t cols, double eps, const void* x, const void* weight,
                        const void* bias, void* y, void* mean, void* rstd, int) {
  with_cpu_float(dtype, "layer_norm", [&](auto zero) {
    using T = decltype(zero);
    ln_forward<T>(rows, cols, eps, static_cast<const T*>(x), static_cast<const T*>(weight), static_cast<const T*>(bias),
                  static_cast<T*>(y), static_cast<T*>(mean), static_cast<T*>(rstd));
  });
}

void layer_norm_backward(DType dtype, int64_t rows, int64_t cols, const void* dy, const void* x, const void* mean,
                         const void* rstd, const void* weight, void* dx, void* dweight, void* dbias, int) {
  with_cpu_float(dtype, "layer_norm backward", [&](auto zero) {
    using T = decltype(zero);
    ln_backward<T>(rows, cols, static_cast<const T*>(dy), static_cast<const T*>(x), static_cast<const T*>(mean),
                   static_cast<const T*>(rstd), static_cast<const T*>(weight), static_cast<T*>(dx),
                   static_cast<T*>(dweight), static_cast<T*>(dbias));
  });
}

}  // namespace nat::kernels::cpu
