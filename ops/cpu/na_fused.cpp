// Fused CPU Neighborhood Attention (ops/na_kernels.h, NAT_NA_FUSED_KERNELS): the whole na2d forward
// (scale, QK + rpb, softmax, AV) in one pass per query while its neighbourhood is in cache, and the
// backward in two passes (per query: dP, dS, dq; per key: dk and dv through inverse neighbourhoods).
// head_dim 32 (every NAT variant) is a compile-time specialisation so the head_dim loops become a
// few full-width vector instructions; other sizes take the generic path. Deterministic: no atomics,
// drpb summed in a fixed order.
#include <cmath>
#include <vector>

#include "ops/cpu/simd_math.h"
#include "ops/cpu/na_common.h"

namespace nat::kernels::cpu {

namespace {

using namespace na_cpu;

// Visits the window of token (z, i, j): f(t, token index of slot t).
template <typename F>
inline void for_window(const NAProblem& p, const Tables& tb, int64_t z, int64_t i, int64_t j, F&& f) {
  const int64_t H = p.size[1], W = p.size[2];
  int64_t t = 0;
  for (int64_t ta = 0; ta < p.kernel[0]; ++ta) {
    int64_t zz = tb.ax[0].start[z] + ta * p.dilation[0];
    for (int64_t tbb = 0; tbb < p.kernel[1]; ++tbb) {
      int64_t ii = tb.ax[1].start[i] + tbb * p.dilation[1];
      int64_t rowbase = (zz * H + ii) * W + tb.ax[2].start[j];
      for (int64_t tc = 0; tc < p.kernel[2]; ++tc, ++t) f(t, rowbase + tc * p.dilation[2]);
    }
  }
}

// Visits the queries whose window holds key (z, i, j): f(query token index, slot).
template <typename F>
inline void for_inverse(const NAProblem& p, const Tables& tb, int64_t z, int64_t i, int64_t j, F&& f) {
  const int64_t H = p.size[1], W = p.size[2], kh = p.kernel[1], kw = p.kernel[2];
  for (int64_t qa = 0; qa < tb.ax[0].inv_count[z]; ++qa) {
    int64_t xz = tb.ax[0].inv_first[z] + qa * p.dilation[0];
    int64_t ta = (z - tb.ax[0].start[xz]) / p.dilation[0];
    for (int64_t qb = 0; qb < tb.ax[1].inv_count[i]; ++qb) {
      int64_t xi = tb.ax[1].inv_first[i] + qb * p.dilation[1];
      int64_t tbb = (i - tb.ax[1].start[xi]) / p.dilation[1];
      for (int64_t qc = 0; qc < tb.ax[2].inv_count[j]; ++qc) {
        int64_t xj = tb.ax[2].inv_first[j] + qc * p.dilation[2];
        int64_t tc = (j - tb.ax[2].start[xj]) / p.dilation[2];
        f((xz * H + xi) * W + xj, (ta * kh + tbb) * kw + tc);
      }
    }
  }
}

template <typename T, int CC>
void fused_forward(const NAProblem& p, const Tables& tb, T scale, const T* q, const T* k, const T* v, const T* rpb,
                   T* out, T* attn) {
  const int64_t D = p.size[0], H = p.size[1], W = p.size[2], KK = p.window();
  const int64_t C = CC > 0 ? CC : p.dim;
  const int64_t RH = 2 * p.kernel[1] - 1, RW = 2 * p.kernel[2] - 1, R = p.rpb_size();
  const int64_t rows = p.batch * p.heads * D * H;
#pragma omp parallel
  {
    std::vector<T> qs_buf(CC > 0 ? 0 : C), acc_buf(CC > 0 ? 0 : C);
    alignas(64) T qs_fixed[CC > 0 ? CC : 1], acc_fixed[CC > 0 ? CC : 1];
    T* qs = CC > 0 ? qs_fixed : qs_buf.data();
    T* acc = CC > 0 ? acc_fixed : acc_buf.data();
#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      int64_t i = row % H, z = (row / H) % D, bh = row / (H * D), h = bh % p.heads;
      int64_t base = bh * p.tokens();
      const T* kb = k + base * C;
      const T* vb = v + base * C;
      const T* rh = rpb ? rpb + h * R : nullptr;
      for (int64_t j = 0; j < W; ++j) {
        int64_t x = (z * H + i) * W + j;
        const T* qx = q + (base + x) * C;
        for (int64_t e = 0; e < C; ++e) qs[e] = scale * qx[e];
        T* P = attn + (base + x) * KK;
        T mx = -INFINITY;
        for_window(p, tb, z, i, j, [&](int64_t t, int64_t y) {
          const T* ky = kb + y * C;
          T s = 0;
#pragma omp simd reduction(+ : s)
          for (int64_t e = 0; e < C; ++e) s += qs[e] * ky[e];
          P[t] = s;
        });
        if (rh) {
          int64_t t = 0;
          for (int64_t ta = 0; ta < p.kernel[0]; ++ta)
            for (int64_t tbb = 0; tbb < p.kernel[1]; ++tbb) {
              const T* r = rh + ((tb.ax[0].pb[z] + ta) * RH + (tb.ax[1].pb[i] + tbb)) * RW + tb.ax[2].pb[j];
              for (int64_t tc = 0; tc < p.kernel[2]; ++tc, ++t) P[t] += r[tc];
            }
        }
#pragma omp simd reduction(max : mx)
        for (int64_t t = 0; t < KK; ++t) mx = P[t] > mx ? P[t] : mx;
        T sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int64_t t = 0; t < KK; ++t) {
          P[t] = std::exp(P[t] - mx);
          sum += P[t];
        }
        T inv = T(1) / sum;
#pragma omp simd
        for (int64_t t = 0; t < KK; ++t) P[t] *= inv;
        for (int64_t e = 0; e < C; ++e) acc[e] = 0;
        for_window(p, tb, z, i, j, [&](int64_t t, int64_t y) {
          const T* vy = vb + y * C;
          T w = P[t];
#pragma omp simd
          for (int64_t e = 0; e < C; ++e) acc[e] += w * vy[e];
        });
        T* o = out + (base + x) * C;
        for (int64_t e = 0; e < C; ++e) o[e] = acc[e];
      }
    }
  }
}

template <typename T, int CC>
void fused_backward(const NAProblem& p, const Tables& tb, T scale, const T* dout, const T* q, const T* k, const T* v,
                    const T* attn, T* dq, T* dk, T* dv, T* dS) {
  const int64_t D = p.size[0], H = p.size[1], W = p.size[2], KK = p.window();
  const int64_t C = CC > 0 ? CC : p.dim;
  const int64_t rows = p.batch * p.heads * D * H;
  // Pass 1, per query: dP, dS (stored), dq.
#pragma omp parallel
  {
    std::vector<T> acc_buf(C), dp_buf(KK);
    T* acc = acc_buf.data();
    T* dP = dp_buf.data();
#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      int64_t i = row % H, z = (row / H) % D, bh = row / (H * D);
      int64_t base = bh * p.tokens();
      for (int64_t j = 0; j < W; ++j) {
        int64_t x = (z * H + i) * W + j;
        const T* go = dout + (base + x) * C;
        const T* P = attn + (base + x) * KK;
        T* S = dS + (base + x) * KK;
        for_window(p, tb, z, i, j, [&](int64_t t, int64_t y) {
          const T* vy = v + (base + y) * C;
          T s = 0;
#pragma omp simd reduction(+ : s)
          for (int64_t e = 0; e < C; ++e) s += go[e] * vy[e];
          dP[t] = s;
        });
        T delta = 0;
        for (int64_t t = 0; t < KK; ++t) delta += P[t] * dP[t];
        for (int64_t t = 0; t < KK; ++t) S[t] = P[t] * (dP[t] - delta);
        if (!dq) continue;
        for (int64_t e = 0; e < C; ++e) acc[e] = 0;
        for_window(p, tb, z, i, j, [&](int64_t t, int64_t y) {
          const T* ky = k + (base + y) * C;
          T w = S[t];
#pragma omp simd
          for (int64_t e = 0; e < C; ++e) acc[e] += w * ky[e];
        });
        T* o = dq + (base + x) * C;
        for (int64_t e = 0; e < C; ++e) o[e] = scale * acc[e];
      }
    }
  }
  if (!dk && !dv) return;
  // Pass 2, per key: dk and dv through the inverse neighbourhood.
#pragma omp parallel
  {
    std::vector<T> ak(C), av(C);
#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      int64_t i = row % H, z = (row / H) % D, bh = row / (H * D);
      int64_t base = bh * p.tokens();
      for (int64_t j = 0; j < W; ++j) {
        int64_t y = (z * H + i) * W + j;
        for (int64_t e = 0; e < C; ++e) ak[e] = av[e] = 0;
        for_inverse(p, tb, z, i, j, [&](int64_t x, int64_t t) {
          T ws = dS[(base + x) * KK + t], wp = attn[(base + x) * KK + t];
          const T* qx = q + (base + x) * C;
          const T* gx = dout + (base + x) * C;
          T* a1 = ak.data();
          T* a2 = av.data();
#pragma omp simd
          for (int64_t e = 0; e < C; ++e) {
            a1[e] += ws * qx[e];
            a2[e] += wp * gx[e];
          }
        });
        if (dk)
          for (int64_t e = 0; e < C; ++e) dk[(base + y) * C + e] = scale * ak[e];
        if (dv)
          for (int64_t e = 0; e < C; ++e) dv[(base + y) * C + e] = av[e];
      }
    }
  }
}

}  // namespace

void na_fused_forward(const NAProblem& p, DType dtype, double scale, const void* q, const void* k, const void* v,
                      const void* rpb, void* out, void* attn, int) {
  Tables tb = make_tables(p);
  with_float(dtype, "na fused", [&](auto zero) {
    using T = decltype(zero);
    auto run = [&](auto cc) {
      fused_forward<T, decltype(cc)::value>(p, tb, static_cast<T>(scale), static_cast<const T*>(q),
                                            static_cast<const T*>(k), static_cast<const T*>(v),
                                            static_cast<const T*>(rpb), static_cast<T*>(out), static_cast<T*>(attn));
    };
    if (p.dim == 32) run(std::integral_constant<int, 32>{});
    else run(std::integral_constant<int, 0>{});
  });
}

void na_fused_backward(const NAProblem& p, DType dtype, double scale, const void* dout, const void* q, const void* k,
                       const void* v, const void* attn, void* dq, void* dk, void* dv, void* drpb, void* workspace,
                       int) {
  Tables tb = make_tables(p);
  with_float(dtype, "na fused backward", [&](auto zero) {
    using T = decltype(zero);
    auto run = [&](auto cc) {
      fused_backward<T, decltype(cc)::value>(p, tb, static_cast<T>(scale), static_cast<const T*>(dout),
                                             static_cast<const T*>(q), static_cast<const T*>(k),
                                             static_cast<const T*>(v), static_cast<const T*>(attn),
                                             static_cast<T*>(dq), static_cast<T*>(dk), static_cast<T*>(dv),
                                             static_cast<T*>(workspace));
    };
    if (p.dim == 32) run(std::integral_constant<int, 32>{});
    else run(std::integral_constant<int, 0>{});
    if (drpb) rpb_grad<T>(p, tb, static_cast<const T*>(workspace), static_cast<T*>(drpb));
  });
}

}  // namespace nat::kernels::cpu
