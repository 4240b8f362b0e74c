// CPU kernels for ops/linalg_kernels.h: GEMM on OpenBLAS (cblas_sgemm / cblas_dgemm), the bias + exact-GELU
// epilogue in one OpenMP pass, im2col and col2im. Sums (bias gradients, col2im) run in a fixed order that
// does not depend on the thread count, so results are deterministic.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <mutex>
#include <type_traits>
#include <vector>

#include "ops/cpu/float_dispatch.h"
#include "ops/cpu/simd_math.h"
#include "ops/elementwise_math.h"
#include "ops/linalg_kernels.h"

// Declared by Debian's OpenBLAS cblas.h; repeated for cblas.h variants that lack it.
extern "C" void openblas_set_num_threads(int num_threads);

namespace nat::kernels::cpu {

namespace {

constexpr int64_t kGrain = 1 << 14;  // elements below which a loop stays serial

// OpenBLAS and OpenMP. Debian installs libopenblas0-pthread: OpenBLAS runs its own pthread pool, separate
// from OpenMP's. BLAS is only ever called outside OpenMP parallel regions (checked in gemm), so the two pools
// never compete: a BLAS call inside a region would start a full OpenBLAS pool per OpenMP thread. Both pools
// are sized by omp_get_max_threads(), so OMP_NUM_THREADS governs all of nat.cpp's CPU parallelism.
void configure_blas_threads() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(omp_get_max_threads()); });
}

int blas_int(int64_t v, const char* what) {
  NAT_CHECK(v >= 0 && v <= INT_MAX, "[gemm] ", what, "=", v, " exceeds OpenBLAS's 32-bit int");
  return static_cast<int>(v);
}

template <typename T>
NAT_INLINE T gelu(T v) {
  return unary_value<T>(UnaryOp::gelu, v, T(0), T(0));
}
template <typename T>
NAT_INLINE T gelu_grad(T v) {
  return unary_derivative<T>(UnaryOp::gelu, v, T(0), T(0), T(0));
}

// z += bias[c]; y = gelu(z) — over [outer, C, inner], flags as template parameters so the loops vectorise.
template <typename T, bool BIAS, bool GELU>
void bias_act_loop(int64_t outer, int64_t C, int64_t inner, const T* bias, T* z, T* y) {
  if (inner == 1) {  // linear: rows of C channels, the bias read along the row
#pragma omp parallel for schedule(static) if (outer * C > kGrain)
    for (int64_t o = 0; o < outer; ++o) {
      T* zr = z + o * C;
      T* yr = nullptr;
      if constexpr (GELU) yr = y + o * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        T v = zr[c];
        if constexpr (BIAS) zr[c] = v = v + bias[c];
        if constexpr (GELU) yr[c] = gelu(v);
      }
    }
    return;
  }
  // conv: planes of `inner` elements, one channel each
#pragma omp parallel for schedule(static) if (outer * C * inner > kGrain)
  for (int64_t r = 0; r < outer * C; ++r) {
    T b = T(0);
    if constexpr (BIAS) b = bias[r % C];
    T* zr = z + r * inner;
    T* yr = nullptr;
    if constexpr (GELU) yr = y + r * inner;
#pragma omp simd
    for (int64_t i = 0; i < inner; ++i) {
      T v = zr[i];
      if constexpr (BIAS) zr[i] = v = v + b;
      if constexpr (GELU) yr[i] = gelu(v);
    }
  }
}

// gz = gy * gelu'(z) when GELU; gbias[c] = sum of (gz or gy) over outer and inner, accumulated in f64.
template <typename T, bool GELU>
void bias_act_backward_loop(int64_t outer, int64_t C, int64_t inner, const T* z, const T* gy, T* gz, T* gbias) {
  if (inner == 1) {
    // Rows in fixed blocks: per-block partial sums, then added in block order (thread-count independent).
    constexpr int64_t kRows = 256;
    int64_t nblocks = (outer + kRows - 1) / kRows;
    std::vector<double> partial(nblocks * C, 0.0);
#pragma omp parallel for schedule(static) if (outer * C > kGrain)
    for (int64_t blk = 0; blk < nblocks; ++blk) {
      double* acc = partial.data() + blk * C;
      for (int64_t o = blk * kRows; o < std::min(outer, (blk + 1) * kRows); ++o) {
        const T* g = gy + o * C;
        if constexpr (GELU) {
          const T* zr = z + o * C;
          T* gzr = gz + o * C;
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) {
            T v = g[c] * gelu_grad(zr[c]);
            gzr[c] = v;
            acc[c] += v;
          }
        } else {
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) acc[c] += g[c];
        }
      }
    }
    if (gbias)
      for (int64_t c = 0; c < C; ++c) {
        double s = 0;
        for (int64_t blk = 0; blk < nblocks; ++blk) s += partial[blk * C + c];
        gbias[c] = static_cast<T>(s);
      }
    return;
  }
  std::vector<double> plane_sum(outer * C);
#pragma omp parallel for schedule(static) if (outer * C * inner > kGrain)
  for (int64_t r = 0; r < outer * C; ++r) {
    const T* g = gy + r * inner;
    double s = 0;
    if constexpr (GELU) {
      const T* zr = z + r * inner;
      T* gzr = gz + r * inner;
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < inner; ++i) {
        T v = g[i] * gelu_grad(zr[i]);
        gzr[i] = v;
        s += v;
      }
    } else {
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < inner; ++i) s += g[i];
    }
    plane_sum[r] = s;
  }
  if (gbias)
    for (int64_t c = 0; c < C; ++c) {
      double s = 0;
      for (int64_t o = 0; o < outer; ++o) s += plane_sum[o * C + c];
      gbias[c] = static_cast<T>(s);
    }
}

// Output positions [lo, hi) of n_out whose input index pos * stride + off lies in [0, n_in).
void valid_range(int64_t n_in, int64_t n_out, int64_t stride, int64_t off, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = n_in - 1 - off < 0 ? 0 : std::min(n_out, (n_in - 1 - off) / stride + 1);
  lo = std::min(lo, hi);
}

template <typename T>
void im2col_loop(const Conv2dShape& g, const T* x, T* col) {
  const int64_t KK = g.kh * g.kw, P = g.Ho * g.Wo;
#pragma omp parallel for collapse(2) schedule(static) if (g.C * KK * g.N * P > kGrain)
  for (int64_t k = 0; k < g.C * KK; ++k) {
    for (int64_t n = 0; n < g.N; ++n) {
      const int64_t c = k / KK, i = (k / g.kw) % g.kh, j = k % g.kw;
      const T* plane = x + (n * g.C + c) * g.H * g.W;
      T* dst = col + (k * g.N + n) * P;
      int64_t lo, hi;
      valid_range(g.W, g.Wo, g.stride, j - g.pad, lo, hi);
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        T* d = dst + oh * g.Wo;
        const int64_t ih = oh * g.stride - g.pad + i;
        if (ih < 0 || ih >= g.H) {
          std::fill(d, d + g.Wo, T(0));
          continue;
        }
        const T* row = plane + ih * g.W;
        std::fill(d, d + lo, T(0));
#pragma omp simd
        for (int64_t ow = lo; ow < hi; ++ow) d[ow] = row[ow * g.stride + j - g.pad];
        std::fill(d + hi, d + g.Wo, T(0));
      }
    }
  }
}

// One (image, channel) plane per iteration, accumulated in a fixed (i, j, oh, ow) order: no atomics.
template <typename T>
void col2im_loop(const Conv2dShape& g, const T* col, T* x) {
  const int64_t P = g.Ho * g.Wo;
#pragma omp parallel for schedule(static) if (g.N * g.C * g.H * g.W > kGrain)
  for (int64_t nc = 0; nc < g.N * g.C; ++nc) {
    const int64_t n = nc / g.C, c = nc % g.C;
    T* plane = x + nc * g.H * g.W;
    std::fill(plane, plane + g.H * g.W, T(0));
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* src = col + (((c * g.kh + i) * g.kw + j) * g.N + n) * P;
        int64_t lo, hi;
        valid_range(g.W, g.Wo, g.stride, j - g.pad, lo, hi);
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + i;
          if (ih < 0 || ih >= g.H) continue;
          T* row = plane + ih * g.W;
          const T* s = src + oh * g.Wo;
#pragma omp simd
          for (int64_t ow = lo; ow < hi; ++ow) row[ow * g.stride + j - g.pad] += s[ow];
        }
      }
    }
  }
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const void* A, int64_t lda,
          int64_t stride_a, const void* B, int64_t ldb, int64_t stride_b, double beta, void* C, int64_t ldc,
          int64_t stride_c, int64_t batch, DType dtype, int) {
  const int m = blas_int(M, "M"), n = blas_int(N, "N"), k = blas_int(K, "K");
  const int la = blas_int(lda, "lda"), lb = blas_int(ldb, "ldb"), lc = blas_int(ldc, "ldc");
  NAT_CHECK(!omp_in_parallel(), "[gemm] called inside an OpenMP parallel region (see configure_blas_threads)");
  configure_blas_threads();
  const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
  with_cpu_float(dtype, "gemm", [&](auto zero) {
    using T = decltype(zero);
    for (int64_t b = 0; b < batch; ++b) {
      const T* a = static_cast<const T*>(A) + b * stride_a;
      const T* bb = static_cast<const T*>(B) + b * stride_b;
      T* c = static_cast<T*>(C) + b * stride_c;
      if constexpr (std::is_same_v<T, float>)
        cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, static_cast<float>(alpha), a, la, bb, lb, static_cast<float>(beta),
                    c, lc);
      else
        cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, la, bb, lb, beta, c, lc);
    }
  });
}

void linear_forward(Activation act, int64_t rows, int64_t in, int64_t out, const void* x, const void* w,
                    const void* bias, void* pre, void* y, DType dtype, int device) {
  void* z = act == Activation::none ? y : pre;
  gemm(false, true, rows, out, in, 1.0, x, in, 0, w, in, 0, 0.0, z, out, 0, 1, dtype, device);
  if (bias || act != Activation::none)
    bias_act_forward(act, rows, out, 1, bias, z, act == Activation::none ? nullptr : y, dtype, device);
}

void bias_act_forward(Activation act, int64_t outer, int64_t channels, int64_t inner, const void* bias, void* z,
                      void* y, DType dtype, int) {
  with_cpu_float(dtype, "bias_act_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* b = static_cast<const T*>(bias);
    T* pz = static_cast<T*>(z);
    T* py = static_cast<T*>(y);
    const bool gelu = act == Activation::gelu;
    if (b && gelu)
      bias_act_loop<T, true, true>(outer, channels, inner, b, pz, py);
    else if (b)
      bias_act_loop<T, true, false>(outer, channels, inner, b, pz, py);
    else if (gelu)
      bias_act_loop<T, false, true>(outer, channels, inner, b, pz, py);
  });
}

void bias_act_backward(Activation act, int64_t outer, int64_t channels, int64_t inner, const void* z, const void* gy,
                       void* gz, void* gbias, DType dtype, int) {
  with_cpu_float(dtype, "bias_act_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* pz = static_cast<const T*>(z);
    const T* pg = static_cast<const T*>(gy);
    if (act == Activation::gelu)
      bias_act_backward_loop<T, true>(outer, channels, inner, pz, pg, static_cast<T*>(gz), static_cast<T*>(gbias));
    else if (gbias)
      bias_act_backward_loop<T, false>(outer, channels, inner, pz, pg, nullptr, static_cast<T*>(gbias));
  });
}

void im2col(const Conv2dShape& g, const void* x, void* col, DType dtype, int) {
  with_cpu_float(dtype, "im2col", [&](auto zero) {
    using T = decltype(zero);
    im2col_loop<T>(g, static_cast<const T*>(x), static_cast<T*>(col));
  });
}

void col2im(const Conv2dShape& g, const void* col, void* x, DType dtype, int) {
  with_cpu_float(dtype, "col2im", [&](auto zero) {
    using T = decltype(zero);
    col2im_loop<T>(g, static_cast<const T*>(col), static_cast<T*>(x));
  });
}

}  // namespace nat::kernels::cpu
