// NAT_CUDA=OFF: the loss kernel list's CUDA entries throw a clear error.
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "ops/loss_kernels.h"

namespace nat::kernels::cuda {
NAT_LOSS_KERNELS(NAT_STUB_KERNEL)
}  // namespace nat::kernels::cuda
