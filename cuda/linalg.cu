// CUDA kernels for ops/linalg_kernels.h. GEMMs go to cuBLAS: a row-major C = op(A) op(B) is the
// column-major C^T = op(B)^T op(A)^T, so operands are swapped and M, N exchanged. f32 computes in full f32
// (CUBLAS_COMPUTE_32F, no TF32), bf16/f16 in f32, f64 in f64. linear's bias runs in cuBLASLt's BIAS epilogue.
// cuBLASLt's GELU epilogues implement the tanh approximation (pytorch/pytorch#104061 makes PyTorch's fused
// path use it only for approximate='tanh'); nn.GELU() is the exact erf form, so GELU is a separate pass.
// Bias gradients reduce in two fixed-order passes (no atomics), and col2im gathers: all deterministic.
#include <algorithm>
#include <climits>
#include <cstdint>

#include "core/tensor.h"
#include "cuda/cublas_handle.h"
#include "cuda/cuda_check.h"
#include "cuda/element_access.cuh"
#include "cuda/stream.h"
#include "ops/elementwise_kernels.h"
#include "ops/elementwise_math.h"
#include "ops/linalg_kernels.h"

namespace nat::kernels::cuda {

using nat::cuda::compute_type;
using nat::cuda::current_stream;
using nat::cuda::DeviceGuard;
using nat::cuda::grid_for;
using nat::cuda::load_c;
using nat::cuda::store_c;
using nat::cuda::with_cuda_float_type;

namespace {

// ---------------------------------------------------------------- cuBLAS types

struct BlasTypes {
  cudaDataType_t data;
  cublasComputeType_t compute;
  cudaDataType_t scale;  // type of alpha and beta
};

BlasTypes blas_types(DType t, const char* op) {
  switch (t) {
    case DType::f32:
      return {CUDA_R_32F, CUBLAS_COMPUTE_32F, CUDA_R_32F};
    case DType::f64:
      return {CUDA_R_64F, CUBLAS_COMPUTE_64F, CUDA_R_64F};
    case DType::bf16:
      return {CUDA_R_16BF, CUBLAS_COMPUTE_32F, CUDA_R_32F};
    case DType::f16:
      return {CUDA_R_16F, CUBLAS_COMPUTE_32F, CUDA_R_32F};
    default:
      NAT_THROW("[", op, "] cuBLAS takes f32, f64, bf16 or f16, got ", dtype_name(t));
  }
}

// alpha and beta in the scale type, as pointers for cuBLAS (host pointer mode).
struct Scalars {
  float f[2];
  double d[2];
  bool is_double;
  Scalars(cudaDataType_t scale, double alpha, double beta)
      : f{static_cast<float>(alpha), static_cast<float>(beta)}, d{alpha, beta}, is_double(scale == CUDA_R_64F) {}
  const void* alpha() const { return is_double ? static_cast<const void*>(&d[0]) : &f[0]; }
  const void* beta() const { return is_double ? static_cast<const void*>(&d[1]) : &f[1]; }
};

int blas_int(int64_t v, const char* what) {
  NAT_CHECK(v >= 0 && v <= INT_MAX, "[gemm] ", what, "=", v, " exceeds cuBLAS's 32-bit int");
  return static_cast<int>(v);
}

// ---------------------------------------------------------------- cuBLASLt linear with a bias epilogue

constexpr uint64_t kLtMaxWorkspace = uint64_t{32} << 20;

// Owns the descriptors of one cuBLASLt call.
struct LtCall {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  LtCall() = default;
  LtCall(const LtCall&) = delete;
  LtCall& operator=(const LtCall&) = delete;
  ~LtCall() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (d) cublasLtMatrixLayoutDestroy(d);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

// Largest power of two (at most 256, cuBLASLt's default requirement) dividing the address.
uint32_t alignment_of(const void* p) {
  auto addr = reinterpret_cast<uintptr_t>(p);
  uint32_t a = 256;
  while (a > 1 && addr % a != 0) a /= 2;
  return a;
}

template <typename T>
void set_desc(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr, const T& v) {
  NAT_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, attr, &v, sizeof(v)));
}
template <typename T>
void set_pref(cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attr, const T& v) {
  NAT_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attr, &v, sizeof(v)));
}

// y [rows, out] = x [rows, in] w[out, in]^T + bias, column-major: y^T [out, rows] = op_T(w^T) x^T, the bias
// running along D's rows. Returns false, having done nothing, when cuBLASLt has no algorithm for it.
bool linear_bias_lt(int64_t rows, int64_t in, int64_t out, const void* x, const void* w, const void* bias, void* y,
                    DType dtype, int device) {
  BlasTypes t = blas_types(dtype, "linear");
  cublasLtHandle_t handle = nat::cuda::cublaslt_handle(device);
  LtCall lt;
  NAT_CUBLAS_CHECK(cublasLtMatmulDescCreate(&lt.desc, t.compute, t.scale));
  set_desc(lt.desc, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T);
  set_desc(lt.desc, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
  set_desc(lt.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, CUBLASLT_EPILOGUE_BIAS);
  set_desc(lt.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);  // before the heuristic: it reads its alignment
  NAT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lt.a, t.data, in, out, in));     // w^T, column-major
  NAT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lt.b, t.data, in, rows, in));    // x^T
  NAT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lt.d, t.data, out, rows, out));  // y^T
  NAT_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&lt.pref));
  set_pref(lt.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, kLtMaxWorkspace);
  set_pref(lt.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, alignment_of(w));
  set_pref(lt.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, alignment_of(x));
  set_pref(lt.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, alignment_of(y));
  set_pref(lt.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, alignment_of(y));

  cublasLtMatmulHeuristicResult_t result = {};
  int found = 0;
  cublasStatus_t st =
      cublasLtMatmulAlgoGetHeuristic(handle, lt.desc, lt.a, lt.b, lt.d, lt.d, lt.pref, 1, &result, &found);
  if (st == CUBLAS_STATUS_NOT_SUPPORTED || (st == CUBLAS_STATUS_SUCCESS && found == 0)) return false;
  NAT_CUBLAS_CHECK(st);

  // Stream-ordered: the caching allocator reuses the block only for later work on this stream.
  Tensor workspace = Tensor::empty({static_cast<int64_t>(result.workspaceSize)}, DType::u8, Device::cuda(device));
  Scalars s(t.scale, 1.0, 0.0);
  NAT_CUBLAS_CHECK(cublasLtMatmul(handle, lt.desc, s.alpha(), w, lt.a, x, lt.b, s.beta(), y, lt.d, y, lt.d,
                                  &result.algo, workspace.data_ptr(), result.workspaceSize, current_stream(device)));
  return true;
}

// ---------------------------------------------------------------- epilogue kernels

// z, y: n = outer * C * inner elements; bias: [C] or null. z += bias[c]; y = gelu(z) when act is gelu.
template <typename S>
__global__ void bias_act_forward_kernel(Activation act, int64_t n, int64_t C, int64_t inner, const S* bias, S* z,
                                        S* y) {
  using A = typename compute_type<S>::type;
  NAT_GRID_STRIDE_LOOP(i, n) {
    A v = load_c(z, i);
    if (bias) {
      v += load_c(bias, (i / inner) % C);
      store_c(z, i, v);
    }
    if (act == Activation::gelu) store_c(y, i, unary_value<A>(UnaryOp::gelu, v, A(0), A(0)));
  }
}

constexpr int kColTile = 32;  // channels per block in column_partial_kernel
constexpr int kColRows = 8;   // rows per block step

// g: [outer, C] (inner == 1); partial: [chunks, C]. Block (32, 8) sums 32 channels over one chunk of rows:
// warps read 32 consecutive channels (coalesced), then the 8 row lanes are added in order.
template <typename S>
__global__ void column_partial_kernel(int64_t outer, int64_t C, int64_t rows_per_chunk, const S* g,
                                      typename compute_type<S>::type* partial) {
  using A = typename compute_type<S>::type;
  __shared__ A buf[kColRows][kColTile + 1];
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * rows_per_chunk;
  const int64_t r1 = min(outer, r0 + rows_per_chunk);
  A acc = A(0);
  if (c < C)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kColRows) acc += load_c(g, r * C + c);
  buf[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    A s = A(0);
    for (int k = 0; k < kColRows; ++k) s += buf[k][threadIdx.x];
    partial[blockIdx.y * C + c] = s;
  }
}

constexpr int kPlaneThreads = 256;

// g: [outer, C, inner] (inner > 1); partial: [chunks, C]. Block (channel c, chunk) sums the chunk's planes of
// channel c with a fixed-shape tree reduction.
template <typename S>
__global__ void plane_partial_kernel(int64_t outer, int64_t C, int64_t inner, int64_t rows_per_chunk, const S* g,
                                     typename compute_type<S>::type* partial) {
  using A = typename compute_type<S>::type;
  __shared__ A buf[kPlaneThreads];
  const int64_t c = blockIdx.x;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * rows_per_chunk;
  const int64_t count = max(int64_t{0}, min(outer, r0 + rows_per_chunk) - r0) * inner;
  A acc = A(0);
  for (int64_t j = threadIdx.x; j < count; j += kPlaneThreads)
    acc += load_c(g, ((r0 + j / inner) * C + c) * inner + j % inner);
  buf[threadIdx.x] = acc;
  __syncthreads();
  for (int s = kPlaneThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) buf[threadIdx.x] += buf[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.y * C + c] = buf[0];
}

// gbias[c] = sum over chunks of partial[chunk, c], in chunk order.
template <typename S>
__global__ void channel_sum_finish_kernel(int64_t C, int64_t chunks, const typename compute_type<S>::type* partial,
                                          S* gbias) {
  using A = typename compute_type<S>::type;
  NAT_GRID_STRIDE_LOOP(c, C) {
    A s = A(0);
    for (int64_t k = 0; k < chunks; ++k) s += partial[k * C + c];
    store_c(gbias, c, s);
  }
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// gbias [C] = sum of g [outer, C, inner] over outer and inner. Chunking depends only on the sizes, so the
// summation order (and the result) is the same on every run and every GPU.
template <typename S>
void channel_sum(int64_t outer, int64_t C, int64_t inner, const S* g, S* gbias, DType dtype, int device) {
  using A = typename compute_type<S>::type;
  constexpr int64_t kTargetBlocks = 2048;
  cudaStream_t stream = current_stream(device);
  int64_t rows_per_chunk, chunks;
  dim3 grid, block;
  if (inner == 1) {
    int64_t tiles = ceil_div(C, kColTile);
    rows_per_chunk = std::max<int64_t>(kColRows, ceil_div(outer, std::max<int64_t>(1, kTargetBlocks / tiles)));
    chunks = ceil_div(outer, rows_per_chunk);
    grid = dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(chunks));
    block = dim3(kColTile, kColRows);
  } else {
    rows_per_chunk = ceil_div(outer, std::clamp<int64_t>(kTargetBlocks / C, 1, outer));
    chunks = ceil_div(outer, rows_per_chunk);
    grid = dim3(static_cast<unsigned>(C), static_cast<unsigned>(chunks));
    block = dim3(kPlaneThreads);
  }
  Tensor partial = Tensor::empty({chunks * C}, dtype == DType::f64 ? DType::f64 : DType::f32, Device::cuda(device));
  A* p = static_cast<A*>(partial.data_ptr());
  if (inner == 1)
    column_partial_kernel<S><<<grid, block, 0, stream>>>(outer, C, rows_per_chunk, g, p);
  else
    plane_partial_kernel<S><<<grid, block, 0, stream>>>(outer, C, inner, rows_per_chunk, g, p);
  NAT_CUDA_CHECK_LAUNCH();
  channel_sum_finish_kernel<S><<<grid_for(C), 256, 0, stream>>>(C, chunks, p, gbias);
  NAT_CUDA_CHECK_LAUNCH();
}

// ---------------------------------------------------------------- im2col / col2im

// col: [C*kh*kw, N, Ho*Wo], one thread per element (writes coalesced along Ho*Wo).
template <typename S>
__global__ void im2col_kernel(Conv2dShape g, const S* x, S* col) {
  using A = typename compute_type<S>::type;
  const int64_t P = g.Ho * g.Wo, total = g.C * g.kh * g.kw * g.N * P;
  NAT_GRID_STRIDE_LOOP(idx, total) {
    const int64_t p = idx % P, t = idx / P;
    const int64_t n = t % g.N, k = t / g.N;
    const int64_t j = k % g.kw, i = (k / g.kw) % g.kh, c = k / (g.kw * g.kh);
    const int64_t ih = (p / g.Wo) * g.stride - g.pad + i, iw = (p % g.Wo) * g.stride - g.pad + j;
    const bool inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
    store_c(col, idx, inside ? load_c(x, ((n * g.C + c) * g.H + ih) * g.W + iw) : A(0));
  }
}

// x: [N, C, H, W], one thread per element, gathering every col entry that im2col copied from it.
template <typename S>
__global__ void col2im_kernel(Conv2dShape g, const S* col, S* x) {
  using A = typename compute_type<S>::type;
  const int64_t P = g.Ho * g.Wo, total = g.N * g.C * g.H * g.W;
  NAT_GRID_STRIDE_LOOP(idx, total) {
    const int64_t w = idx % g.W, h = (idx / g.W) % g.H, c = (idx / (g.W * g.H)) % g.C, n = idx / (g.W * g.H * g.C);
    A acc = A(0);
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t hs = h + g.pad - i;  // = oh * stride when this tap row reads h
      if (hs < 0 || hs % g.stride != 0 || hs / g.stride >= g.Ho) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t ws = w + g.pad - j;
        if (ws < 0 || ws % g.stride != 0 || ws / g.stride >= g.Wo) continue;
        const int64_t k = (c * g.kh + i) * g.kw + j;
        acc += load_c(col, (k * g.N + n) * P + (hs / g.stride) * g.Wo + ws / g.stride);
      }
    }
    store_c(x, idx, acc);
  }
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const void* A, int64_t lda,
          int64_t stride_a, const void* B, int64_t ldb, int64_t stride_b, double beta, void* C, int64_t ldc,
          int64_t stride_c, int64_t batch, DType dtype, int device) {
  BlasTypes t = blas_types(dtype, "gemm");
  const int m = blas_int(M, "M"), n = blas_int(N, "N"), k = blas_int(K, "K"), nb = blas_int(batch, "batch");
  const int la = blas_int(lda, "lda"), lb = blas_int(ldb, "ldb"), lc = blas_int(ldc, "ldc");
  DeviceGuard guard(device);
  cublasHandle_t h = nat::cuda::cublas_handle(device);
  Scalars s(t.scale, alpha, beta);
  const cublasOperation_t opa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, opb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  // Column-major C^T [N, M] = op(B)^T [N, K] op(A)^T [K, M].
  if (nb == 1)
    NAT_CUBLAS_CHECK(cublasGemmEx(h, opb, opa, n, m, k, s.alpha(), B, t.data, lb, A, t.data, la, s.beta(), C, t.data,
                                  lc, t.compute, CUBLAS_GEMM_DEFAULT));
  else
    NAT_CUBLAS_CHECK(cublasGemmStridedBatchedEx(h, opb, opa, n, m, k, s.alpha(), B, t.data, lb, stride_b, A, t.data, la,
                                                stride_a, s.beta(), C, t.data, lc, stride_c, nb, t.compute,
                                                CUBLAS_GEMM_DEFAULT));
}

void linear_forward(Activation act, int64_t rows, int64_t in, int64_t out, const void* x, const void* w,
                    const void* bias, void* pre, void* y, DType dtype, int device) {
  DeviceGuard guard(device);
  void* z = act == Activation::none ? y : pre;
  // f64 exists for tests; its GEMM and bias pass separately.
  bool fused = bias && dtype != DType::f64 && linear_bias_lt(rows, in, out, x, w, bias, z, dtype, device);
  if (!fused) gemm(false, true, rows, out, in, 1.0, x, in, 0, w, in, 0, 0.0, z, out, 0, 1, dtype, device);
  const void* pending_bias = fused ? nullptr : bias;
  if (pending_bias || act != Activation::none)
    bias_act_forward(act, rows, out, 1, pending_bias, z, act == Activation::none ? nullptr : y, dtype, device);
}

void bias_act_forward(Activation act, int64_t outer, int64_t channels, int64_t inner, const void* bias, void* z,
                      void* y, DType dtype, int device) {
  const int64_t n = outer * channels * inner;
  if (n == 0 || (!bias && act == Activation::none)) return;
  DeviceGuard guard(device);
  with_cuda_float_type(dtype, "bias_act_forward", [&](auto zero) {
    using S = decltype(zero);
    bias_act_forward_kernel<S><<<grid_for(n), 256, 0, current_stream(device)>>>(
        act, n, channels, inner, static_cast<const S*>(bias), static_cast<S*>(z), static_cast<S*>(y));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

void bias_act_backward(Activation act, int64_t outer, int64_t channels, int64_t inner, const void* z, const void* gy,
                       void* gz, void* gbias, DType dtype, int device) {
  const int64_t n = outer * channels * inner;
  if (n == 0) return;
  DeviceGuard guard(device);
  if (act == Activation::gelu) unary_backward(UnaryOp::gelu, 0, 0, dtype, n, z, z, gy, gz, device);
  if (!gbias) return;
  with_cuda_float_type(dtype, "bias_act_backward", [&](auto zero) {
    using S = decltype(zero);
    const void* g = act == Activation::none ? gy : gz;
    channel_sum<S>(outer, channels, inner, static_cast<const S*>(g), static_cast<S*>(gbias), dtype, device);
  });
}

void im2col(const Conv2dShape& g, const void* x, void* col, DType dtype, int device) {
  const int64_t total = g.C * g.kh * g.kw * g.N * g.Ho * g.Wo;
  if (total == 0) return;
  DeviceGuard guard(device);
  with_cuda_float_type(dtype, "im2col", [&](auto zero) {
    using S = decltype(zero);
    im2col_kernel<S>
        <<<grid_for(total), 256, 0, current_stream(device)>>>(g, static_cast<const S*>(x), static_cast<S*>(col));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

void col2im(const Conv2dShape& g, const void* col, void* x, DType dtype, int device) {
  const int64_t total = g.N * g.C * g.H * g.W;
  if (total == 0) return;
  DeviceGuard guard(device);
  with_cuda_float_type(dtype, "col2im", [&](auto zero) {
    using S = decltype(zero);
    col2im_kernel<S>
        <<<grid_for(total), 256, 0, current_stream(device)>>>(g, static_cast<const S*>(col), static_cast<S*>(x));
    NAT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace nat::kernels::cuda
