// The dtype that per-row statistics (layer-norm mean/rstd, log-sum-exp, per-sample losses) are saved
// in: f64 for f64 tensors, f32 otherwise. It is the compute type of the kernels on both backends
// (bf16/f16 storage computes in f32), so saved statistics lose nothing to storage rounding.
#pragma once

#include "core/dtype.h"

namespace nat {

inline DType acc_dtype(DType t) { return t == DType::f64 ? DType::f64 : DType::f32; }

}  // namespace nat
