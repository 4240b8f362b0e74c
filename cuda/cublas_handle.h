// Per-thread, per-device cuBLAS and cuBLASLt handles, created on first use. cublas_handle() returns the
// handle already bound to current_stream(device), so a GEMM queues behind the kernels before it.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>

namespace nat::cuda {

cublasHandle_t cublas_handle(int device);      // call with `device` current (DeviceGuard)
cublasLtHandle_t cublaslt_handle(int device);  // not stream-bound: cublasLtMatmul takes the stream

}  // namespace nat::cuda
