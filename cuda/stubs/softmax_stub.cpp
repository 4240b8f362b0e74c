// NAT_CUDA=OFF: the softmax kernel list's CUDA entries throw a clear error.
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "ops/softmax_kernels.h"

namespace nat::kernels::cuda {
NAT_SOFTMAX_KERNELS(NAT_STUB_KERNEL)
}  // namespace nat::kernels::cuda
