// cuBLAS handles, one per thread and device (a handle must not be shared by threads issuing work at once).
// They are never destroyed: destruction at thread or process exit can run after the CUDA driver has shut
// down, and a handle per thread that ran a GEMM is a bounded cost.
#include "cuda/cublas_handle.h"
#include "cuda/cuda_check.h"
#include "cuda/stream.h"

namespace nat::cuda {

namespace {
constexpr int kMaxDevices = 16;  // as current_stream()
thread_local cublasHandle_t tls_cublas[kMaxDevices] = {};
thread_local cublasLtHandle_t tls_cublaslt[kMaxDevices] = {};

void check_device(int device) {
  NAT_CHECK(device >= 0 && device < kMaxDevices, "[cublas] device index ", device, " out of range");
}
}  // namespace

cublasHandle_t cublas_handle(int device) {
  check_device(device);
  cublasHandle_t& h = tls_cublas[device];
  if (!h) NAT_CUBLAS_CHECK(cublasCreate(&h));
  NAT_CUBLAS_CHECK(cublasSetStream(h, current_stream(device)));
  return h;
}

cublasLtHandle_t cublaslt_handle(int device) {
  check_device(device);
  cublasLtHandle_t& h = tls_cublaslt[device];
  if (!h) NAT_CUBLAS_CHECK(cublasLtCreate(&h));
  return h;
}

}  // namespace nat::cuda
