// The current CUDA stream, per thread and device (the legacy default stream until set).
// Kernel launchers take the stream last; ops pass current_stream(device).
#pragma once

#include <cuda_runtime.h>

namespace nat::cuda {

cudaStream_t current_stream(int device);
void set_current_stream(int device, cudaStream_t stream);

// Restores the previous device on scope exit.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

// Grid size for a grid-stride loop over n elements.
inline unsigned grid_for(int64_t n, int block = 256) {
  int64_t g = (n + block - 1) / block;
  return static_cast<unsigned>(g < 1 ? 1 : (g > 65535 * 16 ? 65535 * 16 : g));
}

}  // namespace nat::cuda
