// CPU softmax / log_softmax kernels (ops/softmax_kernels.h): rows in parallel, each row in three
// vectorisable passes (max, exponentiate-and-sum, normalise); sums accumulate in f64. The exp loops
// vectorise only through libmvec's SIMD exp, announced by ops/cpu/simd_math.h.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/cpu/float_dispatch.h"
#include "ops/cpu/simd_math.h"
#include "ops/softmax_kernels.h"

namespace nat::kernels::cpu {

namespace {

constexpr int64_t kGrain = 1 << 14;

template <typename T>
T row_max(const T* x, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t j = 0; j < n; ++j) m = std::max(m, x[j]);
  return m;
}

template <typename T>
void softmax_rows(bool log_space, int64_t rows, int64_t cols, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (rows * cols > kGrain && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    const T m = row_max(xr, cols);
    double s = 0;
    if (log_space) {
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < cols; ++j) s += std::exp(xr[j] - m);
      const T log_s = static_cast<T>(std::log(s));
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) yr[j] = (xr[j] - m) - log_s;
    } else {
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < cols; ++j) {
        T e = std::exp(xr[j] - m);
        yr[j] = e;
        s += e;
      }
      const T inv = static_cast<T>(1.0 / s);
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) yr[j] *= inv;
    }
  }
}

template <typename T>
void softmax_grad_rows(bool log_space, int64_t rows, int64_t cols, const T* y, const T* dy, T* dx) {
#pragma omp parallel for schedule(static) if (rows * cols > kGrain && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const T* yr = y + r * cols;
    const T* gr = dy + r * cols;
    T* dr = dx + r * cols;
    double s = 0;
    if (log_space) {
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < cols; ++j) s += gr[j];
      const T st = static_cast<T>(s);
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) dr[j] = gr[j] - std::exp(yr[j]) * st;
    } else {
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < cols; ++j) s += static_cast<double>(gr[j]) * yr[j];
      const T st = static_cast<T>(s);
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) dr[j] = yr[j] * (gr[j] - st);
    }
  }
}

void forward(bool log_space, const char* op, DType dtype, int64_t rows, int64_t cols, const void* x, void* y) {
  with_cpu_float(dtype, op, [&](auto zero) {
    using T = decltype(zero);
    softmax_rows<T>(log_space, rows, cols, static_cast<const T*>(x), static_cast<T*>(y));
  });
}

void backward(bool log_space, const char* op, DType dtype, int64_t rows, int64_t cols, const void* y, const void* dy,
              void* dx) {
  with_cpu_float(dtype, op, [&](auto zero) {
    using T = decltype(zero);
    softmax_grad_rows<T>(log_space, rows, cols, static_cast<const T*>(y), static_cast<const T*>(dy),
                         static_cast<T*>(dx));
  });
}

}  // namespace

void softmax_forward(DType dtype, int64_t rows, int64_t cols, const void* x, void* y, int) {
  forward(false, "softmax", dtype, rows, cols, x, y);
}
void softmax_backward(DType dtype, int64_t rows, int64_t cols, const void* y, const void* dy, void* dx, int) {
  backward(false, "softmax backward", dtype, rows, cols, y, dy, dx);
}
void log_softmax_forward(DType dtype, int64_t rows, int64_t cols, const void* x, void* y, int) {
  forward(true, "log_softmax", dtype, rows, cols, x, y);
}
void log_softmax_backward(DType dtype, int64_t rows, int64_t cols, const void* y, const void* dy, void* dx, int) {
  backward(true, "log_softmax backward", dtype, rows, cols, y, dy, dx);
}

}  // namespace nat::kernels::cpu
