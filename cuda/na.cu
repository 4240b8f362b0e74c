// CUDA Neighborhood Attention kernels (ops/na_kernels.h): the simple, one-thread-per-output
// reference versions. Windows come from ops/na_index.h, the same functions the CPU uses.
//   qk / dattn (PN): one thread per (b, h, x, t)
//   av / dq    (NN): one thread per (b, h, x, e)
//   dk / dv    (IN): one thread per (b, h, y, e), gathering over the inverse neighbourhood (no atomics)
//   drpb           : two passes, no atomics: sum over batch per (h, x, t), then per (h, rpb cell) a
//                    fixed-order sum over the queries whose window covers that cell. Deterministic.
//   fused        : the whole na2d forward per query (P saved), and its two-pass backward.
// f32 and f64 accumulate in their own type; bf16/f16 in f32.
#include <cstdlib>

#include "core/backend.h"
#include "cuda/cuda_check.h"
#include "cuda/element_access.cuh"
#include "cuda/na_tiled.cuh"
#include "cuda/stream.h"
#include "ops/na_index.h"
#include "ops/na_kernels.h"

namespace nat::kernels::cuda {

using nat::cuda::compute_type;
using nat::cuda::current_stream;
using nat::cuda::DeviceGuard;
using nat::cuda::grid_for;
using nat::cuda::load_c;
using nat::cuda::store_c;
using nat::cuda::with_cuda_float_type;

// NAT_NA_REFERENCE=1 in the environment forces the one-thread-per-output reference kernels
// (tests compare the tiled kernel against them).
bool nat_na_force_reference() {
  const char* e = std::getenv("NAT_NA_REFERENCE");
  return e && e[0] == '1';
}

namespace {

// Decodes token index x into (z, i, j) and returns the three window starts and pb starts.
struct Window {
  int64_t start[3], pb[3];
};

__device__ __forceinline__ Window window_of(const NAProblem& p, int64_t x) {
  int64_t c[3] = {x / (p.size[1] * p.size[2]), (x / p.size[2]) % p.size[1], x % p.size[2]};
  Window w;
  for (int a = 0; a < 3; ++a) {
    w.start[a] = na_window_start(c[a], p.size[a], p.kernel[a], p.dilation[a]);
    w.pb[a] = na_pb_start(c[a], p.size[a], p.kernel[a], p.dilation[a]);
  }
  return w;
}

// Token index of slot t of window w.
__device__ __forceinline__ int64_t neighbor(const NAProblem& p, const Window& w, int64_t t, int64_t* slot) {
  slot[2] = t % p.kernel[2];
  slot[1] = (t / p.kernel[2]) % p.kernel[1];
  slot[0] = t / (p.kernel[1] * p.kernel[2]);
  int64_t zz = w.start[0] + slot[0] * p.dilation[0];
  int64_t ii = w.start[1] + slot[1] * p.dilation[1];
  int64_t jj = w.start[2] + slot[2] * p.dilation[2];
  return (zz * p.size[1] + ii) * p.size[2] + jj;
}

// out[bh, x, t] = a[bh, x] . b[bh, n_t(x)] (+ rpb[h, rho_t(x)]); a, b: [BH, N, C]; out: [BH, N, KK]
template <typename S>
__global__ void na_pn_kernel(NAProblem p, const S* a, const S* b, const S* rpb, S* out) {
  using C = typename compute_type<S>::type;
  const int64_t N = p.tokens(), KK = p.window(), total = p.batch * p.heads * N * KK;
  const int64_t RH = 2 * p.kernel[1] - 1, RW = 2 * p.kernel[2] - 1;
  NAT_GRID_STRIDE_LOOP(idx, total) {
    int64_t t = idx % KK, x = (idx / KK) % N, bh = idx / (KK * N);
    Window w = window_of(p, x);
    int64_t slot[3];
    int64_t y = neighbor(p, w, t, slot);
    const S* ax = a + (bh * N + x) * p.dim;
    const S* by = b + (bh * N + y) * p.dim;
    C s = 0;
    for (int64_t e = 0; e < p.dim; ++e) s += load_c(ax, e) * load_c(by, e);
    if (rpb) {
      int64_t h = bh % p.heads;
      s += load_c(rpb, h * p.rpb_size() + ((w.pb[0] + slot[0]) * RH + (w.pb[1] + slot[1])) * RW + (w.pb[2] + slot[2]));
    }
    store_c(out, idx, s);
  }
}

// out[bh, x, e] = sum_t wgt[bh, x, t] b[bh, n_t(x), e]; wgt: [BH, N, KK]; b, out: [BH, N, C]
template <typename S>
__global__ void na_nn_kernel(NAProblem p, const S* wgt, const S* b, S* out) {
  using C = typename compute_type<S>::type;
  const int64_t N = p.tokens(), KK = p.window(), total = p.batch * p.heads * N * p.dim;
  NAT_GRID_STRIDE_LOOP(idx, total) {
    int64_t e = idx % p.dim, x = (idx / p.dim) % N, bh = idx / (p.dim * N);
    Window w = window_of(p, x);
    C s = 0;
    for (int64_t t = 0; t < KK; ++t) {
      int64_t slot[3];
      int64_t y = neighbor(p, w, t, slot);
      s += load_c(wgt, (bh * N + x) * KK + t) * load_c(b, (bh * N + y) * p.dim + e);
    }
    store_c(out, idx, s);
  }
}

// out[bh, y, e] = sum_{x,t: n_t(x) = y} wgt[bh, x, t] a[bh, x, e]; wgt: [BH, N, KK]; a, out: [BH, N, C]
template <typename S>
__global__ void na_in_kernel(NAProblem p, const S* wgt, const S* a, S* out) {
  using C = typename compute_type<S>::type;
  const int64_t N = p.tokens(), KK = p.window(), total = p.batch * p.heads * N * p.dim;
  NAT_GRID_STRIDE_LOOP(idx, total) {
    int64_t e = idx % p.dim, y = (idx / p.dim) % N, bh = idx / (p.dim * N);
    int64_t c[3] = {y / (p.size[1] * p.size[2]), (y / p.size[2]) % p.size[1], y % p.size[2]};
    int64_t first[3], count[3];
    for (int ax = 0; ax < 3; ++ax) na_inverse_range(c[ax], p.size[ax], p.kernel[ax], p.dilation[ax], first[ax], count[ax]);
    C s = 0;
    for (int64_t qa = 0; qa < count[0]; ++qa) {
      int64_t xz = first[0] + qa * p.dilation[0];
      int64_t ta = (c[0] - na_window_start(xz, p.size[0], p.kernel[0], p.dilation[0])) / p.dilation[0];
      for (int64_t qb = 0; qb < count[1]; ++qb) {
        int64_t xi = first[1] + qb * p.dilation[1];
        int64_t tb = (c[1] - na_window_start(xi, p.size[1], p.kernel[1], p.dilation[1])) / p.dilation[1];
        for (int64_t qc = 0; qc < count[2]; ++qc) {
          int64_t xj = first[2] + qc * p.dilation[2];
          int64_t tc = (c[2] - na_window_start(xj, p.size[2], p.kernel[2], p.dilation[2])) / p.dilation[2];
          int64_t x = (xz * p.size[1] + xi) * p.size[2] + xj;
          int64_t t = (ta * p.kernel[1] + tb) * p.kernel[2] + tc;
          s += load_c(wgt, (bh * N + x) * KK + t) * load_c(a, (bh * N + x) * p.dim + e);
        }
      }
    }
    store_c(out, idx, s);
  }
}

// partial[h, x, t] = sum_b dattn[b, h, x, t] (f32/f64 accumulation, stored in the accumulation type)
template <typename S>
__global__ void na_rpb_batch_sum_kernel(NAProblem p, const S* dattn, typename compute_type<S>::type* partial) {
  using C = typename compute_type<S>::type;
  const int64_t N = p.tokens(), KK = p.window(), total = p.heads * N * KK;
  NAT_GRID_STRIDE_LOOP(idx, total) {
    C s = 0;
    for (int64_t b = 0; b < p.batch; ++b) s += load_c(dattn, b * total + idx);
    partial[idx] = s;
  }
}

// drpb[h, r] = sum over queries x (in order) of partial[h, x, t] where slot t of x uses rpb cell r
template <typename S>
__global__ void na_rpb_gather_kernel(NAProblem p, const typename compute_type<S>::type* partial, S* drpb) {
  using C = typename compute_type<S>::type;
  const int64_t N = p.tokens(), KK = p.window(), R = p.rpb_size();
  const int64_t RH = 2 * p.kernel[1] - 1, RW = 2 * p.kernel[2] - 1;
  NAT_GRID_STRIDE_LOOP(idx, p.heads * R) {
    int64_t h = idx / R, r = idx % R;
    int64_t cell[3] = {r / (RH * RW), (r / RW) % RH, r % RW};
    C s = 0;
    for (int64_t x = 0; x < N; ++x) {
      Window w = window_of(p, x);
      int64_t slot[3];
      bool inside = true;
      for (int a = 0; a < 3; ++a) {
        slot[a] = cell[a] - w.pb[a];
        inside = inside && slot[a] >= 0 && slot[a] < p.kernel[a];
      }
      if (inside) s += partial[(h * N + x) * KK + (slot[0] * p.kernel[1] + slot[1]) * p.kernel[2] + slot[2]];
    }
    store_c(drpb, idx, s);
  }
}


// The fused forward, one thread per (b, h, x): logits for the window in local memory (KK <= 512,
// checked by the op), softmax, then out[x, :]. P is stored for the backward. Reference-quality.
template <typename S>
__global__ void na_fused_forward_kernel(NAProblem p, double scale, const S* q, const S* k, const S* v, const S* rpb,
                                        S* out, S* attn) {
  using C = typename compute_type<S>::type;
  const int64_t N = p.tokens(), KK = p.window();
  const int64_t RH = 2 * p.kernel[1] - 1, RW = 2 * p.kernel[2] - 1;
  C lg[512];
  NAT_GRID_STRIDE_LOOP(idx, p.batch * p.heads * N) {
    int64_t x = idx % N, bh = idx / N, h = bh % p.heads;
    Window w = window_of(p, x);
    C mx = -INFINITY;
    for (int64_t t = 0; t < KK; ++t) {
      int64_t slot[3];
      int64_t y = neighbor(p, w, t, slot);
      C s = 0;
      for (int64_t e = 0; e < p.dim; ++e)
        s += (C(scale) * load_c(q, (bh * N + x) * p.dim + e)) * load_c(k, (bh * N + y) * p.dim + e);
      if (rpb)
        s += load_c(rpb, h * p.rpb_size() + ((w.pb[0] + slot[0]) * RH + (w.pb[1] + slot[1])) * RW + (w.pb[2] + slot[2]));
      lg[t] = s;
      mx = s > mx ? s : mx;
    }
    C sum = 0;
    for (int64_t t = 0; t < KK; ++t) {
      lg[t] = exp(lg[t] - mx);
      sum += lg[t];
    }
    for (int64_t t = 0; t < KK; ++t) {
      lg[t] /= sum;
      store_c(attn, idx * KK + t, lg[t]);
    }
    for (int64_t e = 0; e < p.dim; ++e) {
      C acc = 0;
      for (int64_t t = 0; t < KK; ++t) {
        int64_t slot[3];
        int64_t y = neighbor(p, w, t, slot);
        acc += lg[t] * load_c(v, (bh * N + y) * p.dim + e);
      }
      store_c(out, idx * p.dim + e, acc);
    }
  }
}

// Backward pass 1, one thread per (b, h, x): dP, dS = P (dP - sum P dP) into dS, and dq = scale sum dS k.
template <typename S>
__global__ void na_fused_backward_query_kernel(NAProblem p, double scale, const S* dout, const S* k, const S* v,
                                               const S* attn, S* dq, S* dS) {
  using C = typename compute_type<S>::type;
  const int64_t N = p.tokens(), KK = p.window();
  C dP[512];
  NAT_GRID_STRIDE_LOOP(idx, p.batch * p.heads * N) {
    int64_t x = idx % N, bh = idx / N;
    Window w = window_of(p, x);
    C delta = 0;
    for (int64_t t = 0; t < KK; ++t) {
      int64_t slot[3];
      int64_t y = neighbor(p, w, t, slot);
      C s = 0;
      for (int64_t e = 0; e < p.dim; ++e) s += load_c(dout, idx * p.dim + e) * load_c(v, (bh * N + y) * p.dim + e);
      dP[t] = s;
      delta += load_c(attn, idx * KK + t) * s;
    }
    for (int64_t t = 0; t < KK; ++t) {
      dP[t] = load_c(attn, idx * KK + t) * (dP[t] - delta);
      store_c(dS, idx * KK + t, dP[t]);
    }
    if (!dq) continue;
    for (int64_t e = 0; e < p.dim; ++e) {
      C acc = 0;
      for (int64_t t = 0; t < KK; ++t) {
        int64_t slot[3];
        int64_t y = neighbor(p, w, t, slot);
        acc += dP[t] * load_c(k, (bh * N + y) * p.dim + e);
      }
      store_c(dq, idx * p.dim + e, C(scale) * acc);
    }
  }
}

// Backward pass 2, one thread per (b, h, y, e): dk = scale sum dS q and dv = sum P dout over the
// queries whose window holds y (inverse neighbourhood; no atomics).
template <typename S>
__global__ void na_fused_backward_key_kernel(NAProblem p, double scale, const S* dout, const S* q, const S* attn,
                                             const S* dS, S* dk, S* dv) {
  using C = typename compute_type<S>::type;
  const int64_t N = p.tokens(), KK = p.window(), total = p.batch * p.heads * N * p.dim;
  NAT_GRID_STRIDE_LOOP(idx, total) {
    int64_t e = idx % p.dim, y = (idx / p.dim) % N, bh = idx / (p.dim * N);
    int64_t c[3] = {y / (p.size[1] * p.size[2]), (y / p.size[2]) % p.size[1], y % p.size[2]};
    int64_t first[3], count[3];
    for (int ax = 0; ax < 3; ++ax) na_inverse_range(c[ax], p.size[ax], p.kernel[ax], p.dilation[ax], first[ax], count[ax]);
    C sk = 0, sv = 0;
    for (int64_t qa = 0; qa < count[0]; ++qa) {
      int64_t xz = first[0] + qa * p.dilation[0];
      int64_t ta = (c[0] - na_window_start(xz, p.size[0], p.kernel[0], p.dilation[0])) / p.dilation[0];
      for (int64_t qb = 0; qb < count[1]; ++qb) {
        int64_t xi = first[1] + qb * p.dilation[1];
        int64_t tb = (c[1] - na_window_start(xi, p.size[1], p.kernel[1], p.dilation[1])) / p.dilation[1];
        for (int64_t qc = 0; qc < count[2]; ++qc) {
          int64_t xj = first[2] + qc * p.dilation[2];
          int64_t tc = (c[2] - na_window_start(xj, p.size[2], p.kernel[2], p.dilation[2])) / p.dilation[2];
          int64_t x = (xz * p.size[1] + xi) * p.size[2] + xj;
          int64_t a = (bh * N + x) * KK + (ta * p.kernel[1] + tb) * p.kernel[2] + tc;
          sk += load_c(dS, a) * load_c(q, (bh * N + x) * p.dim + e);
          sv += load_c(attn, a) * load_c(dout, (bh * N + x) * p.dim + e);
        }
      }
    }
    if (dk) store_c(dk, idx, C(scale) * sk);
    if (dv) store_c(dv, idx, sv);
  }
}

template <typename F>
void launch(DType dtype, const char* name, int device, F&& f) {
  DeviceGuard g(device);
  with_cuda_float_type(dtype, name, [&](auto zero) {
    f(zero, current_stream(device));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void na_qk_forward(const NAProblem& p, DType dtype, const void* q, const void* k, const void* rpb, void* attn,
                   int device) {
  int64_t n = p.batch * p.heads * p.tokens() * p.window();
  launch(dtype, "na_qk", device, [&](auto zero, cudaStream_t s) {
    using S = decltype(zero);
    na_pn_kernel<S><<<grid_for(n), 256, 0, s>>>(p, static_cast<const S*>(q), static_cast<const S*>(k),
                                                static_cast<const S*>(rpb), static_cast<S*>(attn));
  });
}

void na_qk_backward(const NAProblem& p, DType dtype, const void* dattn, const void* q, const void* k, void* dq,
                    void* dk, void* drpb, int device) {
  int64_t n = p.batch * p.heads * p.tokens() * p.dim;
  launch(dtype, "na_qk backward", device, [&](auto zero, cudaStream_t s) {
    using S = decltype(zero);
    using C = typename compute_type<S>::type;
    auto* g = static_cast<const S*>(dattn);
    if (dq) na_nn_kernel<S><<<grid_for(n), 256, 0, s>>>(p, g, static_cast<const S*>(k), static_cast<S*>(dq));
    if (dk) na_in_kernel<S><<<grid_for(n), 256, 0, s>>>(p, g, static_cast<const S*>(q), static_cast<S*>(dk));
    if (drpb) {
      int64_t np = p.heads * p.tokens() * p.window();
      DeviceBackend& be = backend(Device::cuda(device));
      auto* partial = static_cast<C*>(be.allocate(sizeof(C) * np, device));
      na_rpb_batch_sum_kernel<S><<<grid_for(np), 256, 0, s>>>(p, g, partial);
      NAT_CUDA_CHECK_LAUNCH();
      na_rpb_gather_kernel<S><<<grid_for(p.heads * p.rpb_size()), 128, 0, s>>>(p, partial, static_cast<S*>(drpb));
      NAT_CUDA_CHECK_LAUNCH();
      be.deallocate(partial, device);  // stream-ordered reuse: later work on this stream comes after the kernel
    }
  });
}

void na_av_forward(const NAProblem& p, DType dtype, const void* attn, const void* v, void* out, int device) {
  int64_t n = p.batch * p.heads * p.tokens() * p.dim;
  launch(dtype, "na_av", device, [&](auto zero, cudaStream_t s) {
    using S = decltype(zero);
    na_nn_kernel<S><<<grid_for(n), 256, 0, s>>>(p, static_cast<const S*>(attn), static_cast<const S*>(v),
                                                static_cast<S*>(out));
  });
}

void na_av_backward(const NAProblem& p, DType dtype, const void* dout, const void* attn, const void* v, void* dattn,
                    void* dv, int device) {
  launch(dtype, "na_av backward", device, [&](auto zero, cudaStream_t s) {
    using S = decltype(zero);
    if (dattn) {
      int64_t n = p.batch * p.heads * p.tokens() * p.window();
      na_pn_kernel<S><<<grid_for(n), 256, 0, s>>>(p, static_cast<const S*>(dout), static_cast<const S*>(v), nullptr,
                                                  static_cast<S*>(dattn));
    }
    if (dv) {
      int64_t n = p.batch * p.heads * p.tokens() * p.dim;
      na_in_kernel<S><<<grid_for(n), 256, 0, s>>>(p, static_cast<const S*>(attn), static_cast<const S*>(dout),
                                                  static_cast<S*>(dv));
    }
  });
}


void na_fused_forward(const NAProblem& p, DType dtype, double scale, const void* q, const void* k, const void* v,
                      const void* rpb, void* out, void* attn, int device) {
  NAT_CHECK(p.window() <= 512, "[na] the CUDA fused kernel handles windows up to 512 keys, got ", p.window());
  int64_t n = p.batch * p.heads * p.tokens();
  if (na_tiled_forward_applies(p, dtype) && !nat_na_force_reference()) {
    DeviceGuard g(device);
    na_tiled_forward(p, dtype, scale, q, k, v, rpb, out, attn, current_stream(device));
    return;
  }
  launch(dtype, "na fused", device, [&](auto zero, cudaStream_t s) {
    using S = decltype(zero);
    na_fused_forward_kernel<S><<<grid_for(n, 128), 128, 0, s>>>(
        p, scale, static_cast<const S*>(q), static_cast<const S*>(k), static_cast<const S*>(v),
        static_cast<const S*>(rpb), static_cast<S*>(out), static_cast<S*>(attn));
  });
}

void na_fused_backward(const NAProblem& p, DType dtype, double scale, const void* dout, const void* q, const void* k,
                       const void* v, const void* attn, void* dq, void* dk, void* dv, void* drpb, void* workspace,
                       int device) {
  NAT_CHECK(p.window() <= 512, "[na] the CUDA fused kernel handles windows up to 512 keys, got ", p.window());
  int64_t nq = p.batch * p.heads * p.tokens(), nk = nq * p.dim;
  launch(dtype, "na fused backward", device, [&](auto zero, cudaStream_t s) {
    using S = decltype(zero);
    using C = typename compute_type<S>::type;
    auto* dS = static_cast<S*>(workspace);
    if (na_tiled_forward_applies(p, dtype) && !nat_na_force_reference()) {
      na_tiled_backward_query(p, dtype, scale, dout, k, v, attn, dq, dS, s);
    } else {
      na_fused_backward_query_kernel<S><<<grid_for(nq, 128), 128, 0, s>>>(
          p, scale, static_cast<const S*>(dout), static_cast<const S*>(k), static_cast<const S*>(v),
          static_cast<const S*>(attn), static_cast<S*>(dq), dS);
      NAT_CUDA_CHECK_LAUNCH();
    }
    if (dk || dv)
      na_fused_backward_key_kernel<S><<<grid_for(nk), 256, 0, s>>>(p, scale, static_cast<const S*>(dout),
                                                                  static_cast<const S*>(q), static_cast<const S*>(attn),
                                                                  dS, static_cast<S*>(dk), static_cast<S*>(dv));
    NAT_CUDA_CHECK_LAUNCH();
    if (drpb) {
      int64_t np = p.heads * p.tokens() * p.window();
      DeviceBackend& be = backend(Device::cuda(device));
      auto* partial = static_cast<C*>(be.allocate(sizeof(C) * np, device));
      na_rpb_batch_sum_kernel<S><<<grid_for(np), 256, 0, s>>>(p, dS, partial);
      NAT_CUDA_CHECK_LAUNCH();
      na_rpb_gather_kernel<S><<<grid_for(p.heads * p.rpb_size()), 128, 0, s>>>(p, partial, static_cast<S*>(drpb));
      be.deallocate(partial, device);
    }
  });
}

}  // namespace nat::kernels::cuda
