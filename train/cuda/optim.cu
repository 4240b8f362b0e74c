// CUDA optimizer kernels, elementwise with a grid-stride loop (same arithmetic as train/cpu/optim.cpp),
// and a two-stage sum of squares: block s sums slice s of kSumSquaresPartials fixed slices (a fixed tree
// inside the block), then one block adds the partials in order — deterministic on every device.
#include "cuda/cuda_check.h"
#include "cuda/element_access.cuh"
#include "cuda/stream.h"
#include "train/optim_kernels.h"

namespace nat::kernels::cuda {

using nat::cuda::current_stream;
using nat::cuda::DeviceGuard;
using nat::cuda::grid_for;
using nat::cuda::load_c;

namespace {

constexpr int kThreads = 256;

template <typename F>
void with_grad_type(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: f(float{}); break;
    case DType::bf16: f(bf16{}); break;
    case DType::f16: f(f16{}); break;
    default: NAT_THROW("[", op, "] gradients must be f32, bf16 or f16, got ", dtype_name(t));
  }
}

__device__ __forceinline__ void store_out(void* out, DType odtype, int64_t i, float v) {
  if (!out) return;
  if (odtype == DType::bf16) static_cast<bf16*>(out)[i].bits = f32_to_bf16_bits(v);
  else if (odtype == DType::f16) static_cast<f16*>(out)[i].bits = f32_to_f16_bits(v);
  else static_cast<float*>(out)[i] = v;
}

__device__ __forceinline__ float prepare_grad(float g, float scale, float clip_value) {
  g *= scale;
  if (clip_value > 0) g = fminf(fmaxf(g, -clip_value), clip_value);
  return g;
}

// p, m, v: [n] f32; g: [n] G; out: [n] odtype or null
template <typename G>
__global__ void adamw_update_kernel(int64_t n, float* p, const G* g, float* m, float* v, AdamWStep s, void* out,
                                    DType odtype) {
  const float decay = 1.0f - s.lr * s.weight_decay;
  const float step_size = s.lr / s.bias_correction1;
  NAT_GRID_STRIDE_LOOP(i, n) {
    float gi = prepare_grad(load_c(g, i), s.grad_scale, s.clip_value);
    float mi = s.beta1 * m[i] + (1.0f - s.beta1) * gi;
    float vi = s.beta2 * v[i] + (1.0f - s.beta2) * gi * gi;
    float denom = sqrtf(vi) / s.bias_correction2_sqrt + s.eps;
    float pi = p[i] * decay - step_size * (mi / denom);
    m[i] = mi;
    v[i] = vi;
    p[i] = pi;
    store_out(out, odtype, i, pi);
  }
}

// p, buf: [n] f32; g: [n] G; out: [n] odtype or null
template <typename G>
__global__ void sgd_update_kernel(int64_t n, float* p, const G* g, float* buf, SgdStep s, void* out, DType odtype) {
  NAT_GRID_STRIDE_LOOP(i, n) {
    float gi = prepare_grad(load_c(g, i), s.grad_scale, s.clip_value) + s.weight_decay * p[i];
    float d = gi;
    if (s.momentum != 0.0f) {
      float b = s.first ? gi : s.momentum * buf[i] + gi;
      buf[i] = b;
      d = s.nesterov ? gi + s.momentum * b : b;
    }
    float pi = p[i] - s.lr * d;
    p[i] = pi;
    store_out(out, odtype, i, pi);
  }
}

// x: [n] T; partials: [kSumSquaresPartials]; block s sums slice s
template <typename T>
__global__ void sum_squares_partial_kernel(int64_t n, const T* x, double* partials) {
  __shared__ double buf[kThreads];
  int64_t s = blockIdx.x;
  int64_t b = n * s / kSumSquaresPartials, e = n * (s + 1) / kSumSquaresPartials;
  double acc = 0;
  for (int64_t i = b + threadIdx.x; i < e; i += blockDim.x) {
    double xi = load_c(x, i);
    acc += xi * xi;
  }
  buf[threadIdx.x] = acc;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w >>= 1) {
    if (threadIdx.x < w) buf[threadIdx.x] += buf[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[s] = buf[0];
}

// partials: [kSumSquaresPartials] -> out: one value, added in index order
__global__ void sum_partials_kernel(const double* partials, double* out) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  double t = 0;
  for (int64_t s = 0; s < kSumSquaresPartials; ++s) t += partials[s];
  *out = t;
}

// ema, x: [n] f32
__global__ void ema_update_kernel(int64_t n, float* ema, const float* x, float d, float one_m_d) {
  NAT_GRID_STRIDE_LOOP(i, n) { ema[i] = ema[i] * d + one_m_d * x[i]; }
}

}  // namespace

void adamw_update(int64_t n, float* p, const void* g, DType gdtype, float* m, float* v, const AdamWStep& s, void* out,
                  DType odtype, int device) {
  if (n == 0) return;
  DeviceGuard guard(device);
  with_grad_type(gdtype, "adamw_update", [&](auto zero) {
    using G = decltype(zero);
    adamw_update_kernel<G><<<grid_for(n, kThreads), kThreads, 0, current_stream(device)>>>(
        n, p, static_cast<const G*>(g), m, v, s, out, odtype);
    NAT_CUDA_CHECK_LAUNCH();
  });
}

void sgd_update(int64_t n, float* p, const void* g, DType gdtype, float* buf, const SgdStep& s, void* out,
                DType odtype, int device) {
  if (n == 0) return;
  DeviceGuard guard(device);
  with_grad_type(gdtype, "sgd_update", [&](auto zero) {
    using G = decltype(zero);
    sgd_update_kernel<G><<<grid_for(n, kThreads), kThreads, 0, current_stream(device)>>>(
        n, p, static_cast<const G*>(g), buf, s, out, odtype);
    NAT_CUDA_CHECK_LAUNCH();
  });
}

void sum_squares(int64_t n, const void* x, DType dtype, double* partials, double* out, int device) {
  DeviceGuard guard(device);
  cudaStream_t stream = current_stream(device);
  with_grad_type(dtype, "sum_squares", [&](auto zero) {
    using T = decltype(zero);
    sum_squares_partial_kernel<T><<<kSumSquaresPartials, kThreads, 0, stream>>>(n, static_cast<const T*>(x), partials);
    NAT_CUDA_CHECK_LAUNCH();
  });
  sum_partials_kernel<<<1, 1, 0, stream>>>(partials, out);
  NAT_CUDA_CHECK_LAUNCH();
}

void ema_update(int64_t n, float* ema, const float* x, double decay, int device) {
  if (n == 0) return;
  DeviceGuard guard(device);
  ema_update_kernel<<<grid_for(n, kThreads), kThreads, 0, current_stream(device)>>>(
      n, ema, x, static_cast<float>(decay), static_cast<float>(1.0 - decay));
  NAT_CUDA_CHECK_LAUNCH();
}

}  // namespace nat::kernels::cuda
