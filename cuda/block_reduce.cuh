// Block-wide sum and max for one-block-per-row kernels: a warp-shuffle butterfly inside each warp,
// then every warp reduces the per-warp partials itself, so all threads get the same result with no
// extra broadcast. blockDim.x must be a multiple of 32 (at most 1024). The order of operations is
// fixed by the block shape, so results are deterministic run to run.
#pragma once

#include <cstdint>

namespace nat::cuda {

template <typename C>
__device__ __forceinline__ C warp_sum(C v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <typename C>
__device__ __forceinline__ C warp_max(C v) {
  for (int o = 16; o > 0; o >>= 1) {
    C other = __shfl_xor_sync(0xffffffffu, v, o);
    v = other > v ? other : v;
  }
  return v;
}

// shared: 32 elements of __shared__ scratch owned by the caller.
template <typename C>
__device__ __forceinline__ C block_sum(C v, C* shared) {
  v = warp_sum(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  __syncthreads();  // a previous call may still be reading `shared`
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  return warp_sum(lane < nwarps ? shared[lane] : C(0));
}

// Max ignoring NaN (callers that must propagate NaN see it through their later arithmetic).
template <typename C>
__device__ __forceinline__ C block_max(C v, C* shared) {
  v = warp_max(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  return warp_max(lane < nwarps ? shared[lane] : C(-INFINITY));
}

// Threads per block for a row of `cols` elements: a multiple of 32, at most 256.
inline int row_block_threads(int64_t cols) {
  int64_t t = (cols + 31) / 32 * 32;
  return static_cast<int>(t < 32 ? 32 : (t > 256 ? 256 : t));
}

// Blocks for `rows` rows, one block per row (kernels loop when rows exceed the grid).
inline unsigned row_grid(int64_t rows) { return static_cast<unsigned>(rows < (1 << 20) ? rows : (1 << 20)); }

}  // namespace nat::cuda
