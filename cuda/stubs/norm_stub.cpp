// NAT_CUDA=OFF: the norm kernel list's CUDA entries throw a clear error.
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "ops/norm_kernels.h"

namespace nat::kernels::cuda {
NAT_NORM_KERNELS(NAT_STUB_KERNEL)
}  // namespace nat::kernels::cuda
