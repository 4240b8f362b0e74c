// How kernel lists are declared once and implemented by every backend.
//
// Each op family writes one X-macro list, e.g. in ops/elementwise_kernels.h:
//     #define NAT_ELEMENTWISE_KERNELS(K)   (continued with a backslash)
//       K(unary_forward, (UnaryOp op, ..., int device))
// and expands it with NAT_DECLARE_KERNELS. That declares nat::kernels::cpu::unary_forward (defined in
// ops/cpu/) and nat::kernels::cuda::unary_forward (defined in cuda/*.cu, or in cuda/stubs/ as a
// function that throws "<name> has no CUDA implementation" when CUDA is off).
// Ops call NAT_DISPATCH(device, name, args...) — never an #ifdef.
#pragma once

#include "core/device.h"
#include "core/error.h"

#define NAT_DECLARE_KERNEL(name, params) void name params;
#define NAT_DECLARE_KERNELS(LIST)                 \
  namespace nat::kernels {                        \
  namespace cpu { LIST(NAT_DECLARE_KERNEL) }      \
  namespace cuda { LIST(NAT_DECLARE_KERNEL) }     \
  }

// Used by cuda/stubs/*.cpp.
#define NAT_STUB_KERNEL(name, params) \
  void name params { NAT_THROW(#name " has no CUDA implementation (this nat.cpp was built with NAT_CUDA=OFF)"); }

#define NAT_DISPATCH(device, name, ...) \
  ((device).is_cpu() ? ::nat::kernels::cpu::name(__VA_ARGS__) : ::nat::kernels::cuda::name(__VA_ARGS__))
