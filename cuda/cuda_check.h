// Checked CUDA calls: every runtime, cuBLAS and NCCL call goes through one of these macros, and
// every kernel launch is followed by NAT_CUDA_CHECK_LAUNCH(), so a failure names the file and line.
#pragma once

#include <cuda_runtime.h>

#include "core/error.h"

#define NAT_CUDA_CHECK(expr)                                                                      \
  do {                                                                                            \
    cudaError_t nat_err_ = (expr);                                                                \
    if (nat_err_ != cudaSuccess)                                                                  \
      ::nat::throw_error(__FILE__, __LINE__,                                                      \
                         ::nat::str("[cuda] ", #expr, " failed: ", cudaGetErrorString(nat_err_))); \
  } while (0)

#define NAT_CUDA_CHECK_LAUNCH() NAT_CUDA_CHECK(cudaGetLastError())
