// Tiled CUDA kernels for Neighborhood Attention at NAT's shapes (the forward, and the backward's
// per-query pass): 2-D, dilation 1, head_dim 32,
// kernel 3..13. A block owns a TILE x TILE tile of queries of one (batch, head) and first loads the
// haloed key and value tile — every key any of its queries can see — into shared memory, so each
// key row is read from global memory once per tile instead of once per query. TILE = 14 - k keeps
// the halo at 13 x 13 tokens (43 KB of f32 keys and values with padded rows). One thread per query
// then computes its k*k logits (+ rpb), the softmax in registers, and the output from shared memory.
// Used by na_fused_forward when those conditions hold; everything else takes the reference kernel.
// The kernel size is a runtime argument: templating on it made nvcc take many minutes per file.
#include "cuda/cuda_check.h"
#include "cuda/element_access.cuh"
#include "cuda/na_tiled.cuh"
#include "cuda/stream.h"
#include "ops/na_index.h"

namespace nat::kernels::cuda {

using nat::cuda::compute_type;
using nat::cuda::load_c;
using nat::cuda::store_c;

namespace {

constexpr int kDim = 32;
constexpr int kHalo = 13;       // halo side: TILE + K - 1
constexpr int kRow = kDim + 1;  // padded smem row against bank conflicts

// This block's query tile and the haloed key/value tile it needs: from the first query's window start
// to the last query's window end on each axis (window starts are monotone), converted to f32 into
// shared memory (rows padded to kRow). Every thread of the block calls it; it ends with a barrier.
struct Tile {
  int64_t i0, j0, i1, j1;  // query tile, inclusive
  int64_t r0, c0;          // top-left token of the halo
};

template <typename S>
__device__ Tile load_halo(int K, int64_t H, int64_t W, const S* kb, const S* vb, float* ks, float* vs) {
  const int TILE = kHalo - K + 1;
  Tile t;
  t.i0 = static_cast<int64_t>(blockIdx.y) * TILE;
  t.j0 = static_cast<int64_t>(blockIdx.x) * TILE;
  t.i1 = min(t.i0 + TILE, H) - 1;
  t.j1 = min(t.j0 + TILE, W) - 1;
  t.r0 = na_window_start(t.i0, H, K, 1);
  t.c0 = na_window_start(t.j0, W, K, 1);
  const int64_t nr = na_window_start(t.i1, H, K, 1) + K - t.r0, nc = na_window_start(t.j1, W, K, 1) + K - t.c0;
  for (int64_t idx = threadIdx.x; idx < nr * nc * kDim; idx += blockDim.x) {
    int64_t e = idx % kDim, cc = (idx / kDim) % nc, rr = idx / (kDim * nc);
    int64_t g = ((t.r0 + rr) * W + (t.c0 + cc)) * kDim + e;
    ks[(rr * kHalo + cc) * kRow + e] = load_c(kb, g);
    vs[(rr * kHalo + cc) * kRow + e] = load_c(vb, g);
  }
  __syncthreads();
  return t;
}

// grid: (tiles_w, tiles_h, B * heads); block: TILE * TILE threads, one per query.
// q, k, v, out: [B, heads, H, W, 32]; rpb: [heads, 2K-1, 2K-1] or null; attn: [B, heads, H, W, K*K]
template <typename S>
__global__ void na_tiled_forward_kernel(int K, int64_t heads, int64_t H, int64_t W, float scale, const S* q,
                                        const S* k, const S* v, const S* rpb, S* out, S* attn) {
  const int TILE = kHalo - K + 1;
  const int R = 2 * K - 1;
  __shared__ float ks[kHalo * kHalo * kRow];
  __shared__ float vs[kHalo * kHalo * kRow];
  const int64_t bh = blockIdx.z, h = bh % heads;
  const Tile tile = load_halo(K, H, W, k + bh * H * W * kDim, v + bh * H * W * kDim, ks, vs);
  const int64_t i = tile.i0 + threadIdx.x / TILE, j = tile.j0 + threadIdx.x % TILE;
  if (i > tile.i1 || j > tile.j1) return;
  const int64_t r0 = tile.r0, c0 = tile.c0;
  const int64_t x = i * W + j;
  float qv[kDim];
  for (int e = 0; e < kDim; ++e) qv[e] = scale * static_cast<float>(load_c(q + (bh * H * W + x) * kDim, e));
  const int64_t si = na_window_start(i, H, K, 1) - r0, sj = na_window_start(j, W, K, 1) - c0;
  const int64_t pi = na_pb_start(i, H, K, 1), pj = na_pb_start(j, W, K, 1);
  float lg[kHalo * kHalo];  // K * K <= 169 logits
  float mx = -INFINITY;
  for (int a = 0; a < K; ++a)
    for (int b = 0; b < K; ++b) {
      const float* kr = ks + ((si + a) * kHalo + (sj + b)) * kRow;
      float s = 0;
#pragma unroll
      for (int e = 0; e < kDim; ++e) s += qv[e] * kr[e];
      if (rpb) s += static_cast<float>(load_c(rpb, (h * R + pi + a) * R + pj + b));
      lg[a * K + b] = s;
      mx = fmaxf(mx, s);
    }
  float sum = 0;
  for (int t = 0; t < K * K; ++t) {
    lg[t] = __expf(lg[t] - mx);
    sum += lg[t];
  }
  const float inv = 1.0f / sum;
  S* P = attn + (bh * H * W + x) * (K * K);
  for (int t = 0; t < K * K; ++t) {
    lg[t] *= inv;
    store_c(P, t, lg[t]);
  }
  float acc[kDim];
#pragma unroll
  for (int e = 0; e < kDim; ++e) acc[e] = 0;
  for (int a = 0; a < K; ++a)
    for (int b = 0; b < K; ++b) {
      const float* vr = vs + ((si + a) * kHalo + (sj + b)) * kRow;
      const float w = lg[a * K + b];
#pragma unroll
      for (int e = 0; e < kDim; ++e) acc[e] += w * vr[e];
    }
  S* o = out + (bh * H * W + x) * kDim;
#pragma unroll
  for (int e = 0; e < kDim; ++e) store_c(o, e, acc[e]);
}


// The backward's per-query pass with the same tiling: the haloed key and value tiles in shared memory;
// one thread per query computes dP = dout . v[n_t], dS = P (dP - sum_t P dP) (written to dS), and
// dq = scale sum_t dS k[n_t]. The per-key pass (dk, dv) and drpb stay on the reference kernels.
template <typename S>
__global__ void na_tiled_backward_query_kernel(int K, int64_t H, int64_t W, float scale, const S* dout, const S* k,
                                               const S* v, const S* attn, S* dq, S* dS) {
  const int TILE = kHalo - K + 1;
  __shared__ float ks[kHalo * kHalo * kRow];
  __shared__ float vs[kHalo * kHalo * kRow];
  const int64_t bh = blockIdx.z;
  const Tile tile = load_halo(K, H, W, k + bh * H * W * kDim, v + bh * H * W * kDim, ks, vs);
  const int64_t i = tile.i0 + threadIdx.x / TILE, j = tile.j0 + threadIdx.x % TILE;
  if (i > tile.i1 || j > tile.j1) return;
  const int64_t r0 = tile.r0, c0 = tile.c0;
  const int64_t x = bh * H * W + i * W + j;
  float go[kDim];
  for (int e = 0; e < kDim; ++e) go[e] = load_c(dout + x * kDim, e);
  const int64_t si = na_window_start(i, H, K, 1) - r0, sj = na_window_start(j, W, K, 1) - c0;
  const S* P = attn + x * (K * K);
  float g[kHalo * kHalo];
  float delta = 0;
  for (int a = 0; a < K; ++a)
    for (int b = 0; b < K; ++b) {
      const float* vr = vs + ((si + a) * kHalo + (sj + b)) * kRow;
      float s = 0;
#pragma unroll
      for (int e = 0; e < kDim; ++e) s += go[e] * vr[e];
      g[a * K + b] = s;
      delta += static_cast<float>(load_c(P, a * K + b)) * s;
    }
  S* dSx = dS + x * (K * K);
  for (int t = 0; t < K * K; ++t) {
    g[t] = static_cast<float>(load_c(P, t)) * (g[t] - delta);
    store_c(dSx, t, g[t]);
  }
  if (!dq) return;
  float acc[kDim];
#pragma unroll
  for (int e = 0; e < kDim; ++e) acc[e] = 0;
  for (int a = 0; a < K; ++a)
    for (int b = 0; b < K; ++b) {
      const float* kr = ks + ((si + a) * kHalo + (sj + b)) * kRow;
      const float w = g[a * K + b];
#pragma unroll
      for (int e = 0; e < kDim; ++e) acc[e] += w * kr[e];
    }
#pragma unroll
  for (int e = 0; e < kDim; ++e) store_c(dq + x * kDim, e, scale * acc[e]);
}

// One instantiation per storage type; the kernel size stays a runtime value (compile time matters).
template <typename S>
void launch_tiled(const NAProblem& p, double scale, const void* q, const void* k, const void* v, const void* rpb,
                  void* out, void* attn, cudaStream_t s) {
  const int K = static_cast<int>(p.kernel[1]), TILE = kHalo - K + 1;
  dim3 grid(static_cast<unsigned>((p.size[2] + TILE - 1) / TILE), static_cast<unsigned>((p.size[1] + TILE - 1) / TILE),
            static_cast<unsigned>(p.batch * p.heads));
  na_tiled_forward_kernel<S><<<grid, TILE * TILE, 0, s>>>(
      K, p.heads, p.size[1], p.size[2], static_cast<float>(scale), static_cast<const S*>(q), static_cast<const S*>(k),
      static_cast<const S*>(v), static_cast<const S*>(rpb), static_cast<S*>(out), static_cast<S*>(attn));
  NAT_CUDA_CHECK_LAUNCH();
}


template <typename S>
void launch_tiled_backward_query(const NAProblem& p, double scale, const void* dout, const void* k, const void* v,
                                 const void* attn, void* dq, void* dS, cudaStream_t s) {
  const int K = static_cast<int>(p.kernel[1]), TILE = kHalo - K + 1;
  dim3 grid(static_cast<unsigned>((p.size[2] + TILE - 1) / TILE), static_cast<unsigned>((p.size[1] + TILE - 1) / TILE),
            static_cast<unsigned>(p.batch * p.heads));
  na_tiled_backward_query_kernel<S><<<grid, TILE * TILE, 0, s>>>(
      K, p.size[1], p.size[2], static_cast<float>(scale), static_cast<const S*>(dout), static_cast<const S*>(k),
      static_cast<const S*>(v), static_cast<const S*>(attn), static_cast<S*>(dq), static_cast<S*>(dS));
  NAT_CUDA_CHECK_LAUNCH();
}

}  // namespace

bool na_tiled_forward_applies(const NAProblem& p, DType dtype) {
  return p.size[0] == 1 && p.kernel[0] == 1 && p.dim == kDim && p.kernel[1] == p.kernel[2] && p.kernel[1] >= 3 &&
         p.kernel[1] <= 13 && p.dilation[1] == 1 && p.dilation[2] == 1 &&
         (dtype == DType::f32 || dtype == DType::bf16 || dtype == DType::f16);
}

void na_tiled_forward(const NAProblem& p, DType dtype, double scale, const void* q, const void* k, const void* v,
                      const void* rpb, void* out, void* attn, cudaStream_t s) {
  switch (dtype) {
    case DType::f32: launch_tiled<float>(p, scale, q, k, v, rpb, out, attn, s); break;
    case DType::bf16: launch_tiled<bf16>(p, scale, q, k, v, rpb, out, attn, s); break;
    default: launch_tiled<f16>(p, scale, q, k, v, rpb, out, attn, s); break;
  }
}

void na_tiled_backward_query(const NAProblem& p, DType dtype, double scale, const void* dout, const void* k,
                             const void* v, const void* attn, void* dq, void* dS, cudaStream_t s) {
  switch (dtype) {
    case DType::f32: launch_tiled_backward_query<float>(p, scale, dout, k, v, attn, dq, dS, s); break;
    case DType::bf16: launch_tiled_backward_query<bf16>(p, scale, dout, k, v, attn, dq, dS, s); break;
    default: launch_tiled_backward_query<f16>(p, scale, dout, k, v, attn, dq, dS, s); break;
  }
}

}  // namespace nat::kernels::cuda
