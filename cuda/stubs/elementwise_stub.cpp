// NAT_CUDA=OFF: the elementwise kernel list's CUDA entries throw a clear error.
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "ops/elementwise_kernels.h"

namespace nat::kernels::cuda {
NAT_ELEMENTWISE_KERNELS(NAT_STUB_KERNEL)
}  // namespace nat::kernels::cuda
