// The CPU backend's compute types for the nn op kernels (softmax, norm, loss, dropout): f32 and f64.
// with_cpu_float(dtype, op, f) runs f(T{}) for those and throws a nat::Error naming the op otherwise.
#pragma once

#include "core/dtype.h"
#include "core/error.h"

namespace nat::kernels::cpu {

template <typename F>
void with_cpu_float(DType t, const char* op, F&& f) {
  if (t == DType::f32)
    f(float{});
  else if (t == DType::f64)
    f(double{});
  else
    NAT_THROW("[", op, "] the CPU backend computes in f32 or f64, got ", dtype_name(t));
}

}  // namespace nat::kernels::cpu
