// NAT_CUDA=OFF: the optimizer kernel list's CUDA entries throw a clear error.
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "train/optim_kernels.h"

namespace nat::kernels::cuda {
NAT_OPTIM_KERNELS(NAT_STUB_KERNEL)
}  // namespace nat::kernels::cuda
