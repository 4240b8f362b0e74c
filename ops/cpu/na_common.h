// Shared pieces of the CPU Neighborhood Attention kernels (ops/cpu/na.cpp, ops/cpu/na_fused.cpp):
// per-axis window tables and the deterministic rpb-gradient reduction.
#pragma once

#include <vector>

#include "core/error.h"
#include "ops/na_index.h"
#include "ops/na_kernels.h"

namespace nat::kernels::cpu::na_cpu {

struct Axis {
  int64_t L, k, d;
  std::vector<int64_t> start, pb, inv_first, inv_count;
};

struct Tables {
  Axis ax[3];
};

inline Tables make_tables(const NAProblem& p) {
  Tables tb;
  for (int a = 0; a < 3; ++a) {
    Axis& x = tb.ax[a];
    x.L = p.size[a];
    x.k = p.kernel[a];
    x.d = p.dilation[a];
    x.start.resize(x.L);
    x.pb.resize(x.L);
    x.inv_first.resize(x.L);
    x.inv_count.resize(x.L);
    for (int64_t i = 0; i < x.L; ++i) {
      x.start[i] = na_window_start(i, x.L, x.k, x.d);
      x.pb[i] = na_pb_start(i, x.L, x.k, x.d);
      na_inverse_range(i, x.L, x.k, x.d, x.inv_first[i], x.inv_count[i]);
    }
  }
  return tb;
}

template <typename T>
inline void rpb_grad(const NAProblem& p, const Tables& tb, const T* dattn, T* drpb) {
  const int64_t D = p.size[0], H = p.size[1], W = p.size[2], KK = p.window();
  const int64_t kd = p.kernel[0], kh = p.kernel[1], kw = p.kernel[2];
  const int64_t RH = 2 * kh - 1, RW = 2 * kw - 1, R = p.rpb_size();
  const int64_t tasks = p.batch * p.heads;
  std::vector<double> partial(static_cast<size_t>(tasks * R), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t bh = 0; bh < tasks; ++bh) {
    double* acc = partial.data() + bh * R;
    const T* g = dattn + bh * p.tokens() * KK;
    for (int64_t z = 0; z < D; ++z)
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) {
          const T* gx = g + ((z * H + i) * W + j) * KK;
          int64_t t = 0;
          for (int64_t ta = 0; ta < kd; ++ta)
            for (int64_t tbb = 0; tbb < kh; ++tbb) {
              double* r = acc + ((tb.ax[0].pb[z] + ta) * RH + (tb.ax[1].pb[i] + tbb)) * RW + tb.ax[2].pb[j];
              for (int64_t tc = 0; tc < kw; ++tc, ++t) r[tc] += gx[t];
            }
        }
  }
  for (int64_t h = 0; h < p.heads; ++h)
    for (int64_t r = 0; r < R; ++r) {
      double s = 0;
      for (int64_t b = 0; b < p.batch; ++b) s += partial[(b * p.heads + h) * R + r];  // fixed order
      drpb[h * R + r] = static_cast<T>(s);
    }
}

template <typename F>
inline void with_float(DType t, const char* name, F&& f) {
  if (t == DType::f32) f(float{});
  else if (t == DType::f64) f(double{});
  else NAT_THROW("[", name, "] the CPU backend computes in f32 or f64, got ", dtype_name(t));
}


}  // namespace nat::kernels::cpu::na_cpu
