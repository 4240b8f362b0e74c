// Helpers shared by the test suite: CUDA skipping, poisoned outputs, comparisons.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/backend.h"
#include "core/tensor.h"

namespace nat::testing {

// Why CUDA tests cannot run here, or "" when they can.
std::string cuda_skip_reason();

// Max |a - b| over all elements (any dtypes/devices; compared in f64 on the host).
double max_abs_diff(const Tensor& a, const Tensor& b);

// A tensor filled with NaN (floating) or a sentinel (integers), so a kernel that leaves outputs
// unwritten fails its test instead of passing on zeros.
Tensor poisoned(const Shape& shape, DType dtype, Device device);

}  // namespace nat::testing

#define NAT_SKIP_WITHOUT_CUDA()                                           \
  do {                                                                    \
    std::string nat_reason_ = ::nat::testing::cuda_skip_reason();         \
    if (!nat_reason_.empty()) GTEST_SKIP() << nat_reason_;                \
  } while (0)
