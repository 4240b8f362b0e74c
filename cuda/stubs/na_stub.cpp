// NAT_CUDA=OFF: the Neighborhood Attention kernel list's CUDA entries throw a clear error.
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "ops/na_kernels.h"

namespace nat::kernels::cuda {
NAT_NA_KERNELS(NAT_STUB_KERNEL)
NAT_NA_FUSED_KERNELS(NAT_STUB_KERNEL)
}  // namespace nat::kernels::cuda
