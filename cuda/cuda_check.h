// Checked CUDA calls: every runtime, cuBLAS and NCCL call goes through one of these macros, and
// every kernel launch is followed by NAT_CUDA_CHECK_LAUNCH(), so a failure names the file and line.
#pragma once

#include <cublas_v2.h>
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

// cuBLAS and cuBLASLt calls (both return cublasStatus_t).
#define NAT_CUBLAS_CHECK(expr)                                                                      \
  do {                                                                                              \
    cublasStatus_t nat_st_ = (expr);                                                                \
    if (nat_st_ != CUBLAS_STATUS_SUCCESS)                                                           \
      ::nat::throw_error(__FILE__, __LINE__,                                                        \
                         ::nat::str("[cublas] ", #expr, " failed: ", cublasGetStatusString(nat_st_))); \
  } while (0)
