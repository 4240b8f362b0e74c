// NAT_CUDA=OFF: the linear-algebra kernel list's CUDA entries throw a clear error.
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "ops/linalg_kernels.h"

namespace nat::kernels::cuda {
NAT_LINALG_KERNELS(NAT_STUB_KERNEL)
}  // namespace nat::kernels::cuda
