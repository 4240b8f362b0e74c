// NAT_CUDA=OFF: the reduction kernel list's CUDA entries throw a clear error.
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "ops/reduce_kernels.h"

namespace nat::kernels::cuda {
NAT_REDUCE_KERNELS(NAT_STUB_KERNEL)
}  // namespace nat::kernels::cuda
