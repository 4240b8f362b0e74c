// Finite-difference gradient checking in float64 (PyTorch's gradcheck defaults: eps 1e-6,
// atol 1e-5, rtol 1e-3). The function's output is projected onto a fixed random direction w,
// L = sum(w * f(x)); the analytic dL/dx from backward() is compared with central differences of L
// for every input element. Inputs may be non-contiguous views (their elements are perturbed in place).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace nat {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  uint64_t seed = 1234;
  std::vector<bool> check_input;  // empty: check every input that requires grad
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  std::string report;  // the first mismatches, "input 1 element [2, 0]: analytic 0.5 numeric 0.25"
};

// `inputs` must be f64 CPU tensors; those marked requires_grad are checked.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& opts = {});

}  // namespace nat
