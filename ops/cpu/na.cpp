// CPU Neighborhood Attention kernels (ops/na_kernels.h). Three loop shapes cover all four kernels:
//   PN  out[x,t] = a[x] . b[n_t(x)]            (QK forward, and dattn in AV backward)
//   NN  out[x]   = sum_t w[x,t] b[n_t(x)]       (AV forward, and dq)
//   IN  out[y]   = sum_{x,t: n_t(x)=y} w[x,t] a[x]  (dk and dv, by inverse neighbourhoods: no atomics)
// Per-axis windows are tabulated once per call from ops/na_index.h. Rows of (batch, head, depth,
// height) run in parallel; the head_dim loops are the vectorised inner loops. drpb is summed per
// (batch, head) into private buffers, then over batch in a fixed order: deterministic.
#include "ops/na_kernels.h"
#include "ops/cpu/na_common.h"

namespace nat::kernels::cpu {

namespace {

using namespace na_cpu;

template <typename T>
void pn(const NAProblem& p, const Tables& tb, const T* a, const T* b, const T* rpb, T* out) {
  const int64_t D = p.size[0], H = p.size[1], W = p.size[2], C = p.dim, KK = p.window();
  const int64_t kd = p.kernel[0], kh = p.kernel[1], kw = p.kernel[2];
  const int64_t dd = p.dilation[0], dh = p.dilation[1], dw = p.dilation[2];
  const int64_t RH = 2 * kh - 1, RW = 2 * kw - 1, R = p.rpb_size();
  const int64_t rows = p.batch * p.heads * D * H;
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t i = row % H, z = (row / H) % D, bh = row / (H * D), h = bh % p.heads;
    int64_t base = bh * p.tokens();
    const T* rh = rpb ? rpb + h * R : nullptr;
    for (int64_t j = 0; j < W; ++j) {
      int64_t x = (z * H + i) * W + j;
      const T* ax = a + (base + x) * C;
      T* o = out + (base + x) * KK;
      int64_t t = 0;
      for (int64_t ta = 0; ta < kd; ++ta) {
        int64_t zz = tb.ax[0].start[z] + ta * dd;
        for (int64_t tbb = 0; tbb < kh; ++tbb) {
          int64_t ii = tb.ax[1].start[i] + tbb * dh;
          for (int64_t tc = 0; tc < kw; ++tc, ++t) {
            int64_t jj = tb.ax[2].start[j] + tc * dw;
            const T* bk = b + (base + (zz * H + ii) * W + jj) * C;
            T s = 0;
#pragma omp simd reduction(+ : s)
            for (int64_t e = 0; e < C; ++e) s += ax[e] * bk[e];
            if (rh) s += rh[((tb.ax[0].pb[z] + ta) * RH + (tb.ax[1].pb[i] + tbb)) * RW + (tb.ax[2].pb[j] + tc)];
            o[t] = s;
          }
        }
      }
    }
  }
}

template <typename T>
void nn(const NAProblem& p, const Tables& tb, const T* w, const T* b, T* out) {
  const int64_t D = p.size[0], H = p.size[1], W = p.size[2], C = p.dim, KK = p.window();
  const int64_t kd = p.kernel[0], kh = p.kernel[1], kw = p.kernel[2];
  const int64_t dd = p.dilation[0], dh = p.dilation[1], dw = p.dilation[2];
  const int64_t rows = p.batch * p.heads * D * H;
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t i = row % H, z = (row / H) % D, bh = row / (H * D);
    int64_t base = bh * p.tokens();
    for (int64_t j = 0; j < W; ++j) {
      int64_t x = (z * H + i) * W + j;
      const T* wx = w + (base + x) * KK;
      T* o = out + (base + x) * C;
      for (int64_t e = 0; e < C; ++e) o[e] = 0;
      int64_t t = 0;
      for (int64_t ta = 0; ta < kd; ++ta) {
        int64_t zz = tb.ax[0].start[z] + ta * dd;
        for (int64_t tbb = 0; tbb < kh; ++tbb) {
          int64_t ii = tb.ax[1].start[i] + tbb * dh;
          for (int64_t tc = 0; tc < kw; ++tc, ++t) {
            int64_t jj = tb.ax[2].start[j] + tc * dw;
            const T* bk = b + (base + (zz * H + ii) * W + jj) * C;
            T wt = wx[t];
#pragma omp simd
            for (int64_t e = 0; e < C; ++e) o[e] += wt * bk[e];
          }
        }
      }
    }
  }
}

template <typename T>
void in(const NAProblem& p, const Tables& tb, const T* w, const T* a, T* out) {
  const int64_t D = p.size[0], H = p.size[1], W = p.size[2], C = p.dim, KK = p.window();
  const int64_t kh = p.kernel[1], kw = p.kernel[2];
  const int64_t dd = p.dilation[0], dh = p.dilation[1], dw = p.dilation[2];
  const int64_t rows = p.batch * p.heads * D * H;
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t i = row % H, z = (row / H) % D, bh = row / (H * D);
    int64_t base = bh * p.tokens();
    for (int64_t j = 0; j < W; ++j) {
      int64_t y = (z * H + i) * W + j;
      T* o = out + (base + y) * C;
      for (int64_t e = 0; e < C; ++e) o[e] = 0;
      for (int64_t qa = 0; qa < tb.ax[0].inv_count[z]; ++qa) {
        int64_t xz = tb.ax[0].inv_first[z] + qa * dd;
        int64_t ta = (z - tb.ax[0].start[xz]) / dd;
        for (int64_t qb = 0; qb < tb.ax[1].inv_count[i]; ++qb) {
          int64_t xi = tb.ax[1].inv_first[i] + qb * dh;
          int64_t tbb = (i - tb.ax[1].start[xi]) / dh;
          for (int64_t qc = 0; qc < tb.ax[2].inv_count[j]; ++qc) {
            int64_t xj = tb.ax[2].inv_first[j] + qc * dw;
            int64_t tc = (j - tb.ax[2].start[xj]) / dw;
            int64_t x = (xz * H + xi) * W + xj;
            T wt = w[(base + x) * KK + (ta * kh + tbb) * kw + tc];
            const T* ax = a + (base + x) * C;
#pragma omp simd
            for (int64_t e = 0; e < C; ++e) o[e] += wt * ax[e];
          }
        }
      }
    }
  }
}

}  // namespace

void na_qk_forward(const NAProblem& p, DType dtype, const void* q, const void* k, const void* rpb, void* attn, int) {
  Tables tb = make_tables(p);
  with_float(dtype, "na_qk", [&](auto zero) {
    using T = decltype(zero);
    pn<T>(p, tb, static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(rpb), static_cast<T*>(attn));
  });
}

void na_qk_backward(const NAProblem& p, DType dtype, const void* dattn, const void* q, const void* k, void* dq, void* dk,
                    void* drpb, int) {
  Tables tb = make_tables(p);
  with_float(dtype, "na_qk backward", [&](auto zero) {
    using T = decltype(zero);
    auto* g = static_cast<const T*>(dattn);
    if (dq) nn<T>(p, tb, g, static_cast<const T*>(k), static_cast<T*>(dq));
    if (dk) in<T>(p, tb, g, static_cast<const T*>(q), static_cast<T*>(dk));
    if (drpb) rpb_grad<T>(p, tb, g, static_cast<T*>(drpb));
  });
}

void na_av_forward(const NAProblem& p, DType dtype, const void* attn, const void* v, void* out, int) {
  Tables tb = make_tables(p);
  with_float(dtype, "na_av", [&](auto zero) {
    using T = decltype(zero);
    nn<T>(p, tb, static_cast<const T*>(attn), static_cast<const T*>(v), static_cast<T*>(out));
  });
}

void na_av_backward(const NAProblem& p, DType dtype, const void* dout, const void* attn, const void* v, void* dattn,
                    void* dv, int) {
  Tables tb = make_tables(p);
  with_float(dtype, "na_av backward", [&](auto zero) {
    using T = decltype(zero);
    if (dattn) pn<T>(p, tb, static_cast<const T*>(dout), static_cast<const T*>(v), nullptr, static_cast<T*>(dattn));
    if (dv) in<T>(p, tb, static_cast<const T*>(attn), static_cast<const T*>(dout), static_cast<T*>(dv));
  });
}

}  // namespace nat::kernels::cpu
