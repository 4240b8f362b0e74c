// NAT_CUDA=OFF: the dropout kernel list's CUDA entries throw a clear error.
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "ops/dropout_kernels.h"

namespace nat::kernels::cuda {
NAT_DROPOUT_KERNELS(NAT_STUB_KERNEL)
}  // namespace nat::kernels::cuda
