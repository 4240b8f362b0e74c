// Helpers shared by the test suite: CUDA skipping, poisoned outputs, comparisons.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
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

// A float64 CPU tensor, uniform in [lo, hi), from its own Philox stream (reproducible per seed).
Tensor random_f64(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1);

// Marks t as a leaf that requires grad and returns it.
Tensor leaf(const Tensor& t);

// The `nat` executable of the build this test belongs to (<build>/app/nat, found from
// <build>/tests/<this test>); "" when /proc/self/exe cannot be read.
std::string nat_executable();

// gradcheck (float64 central differences) with the report printed on failure.
void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& inputs);

}  // namespace nat::testing

#define NAT_SKIP_WITHOUT_CUDA()                                   \
  do {                                                            \
    std::string nat_reason_ = ::nat::testing::cuda_skip_reason(); \
    if (!nat_reason_.empty()) GTEST_SKIP() << nat_reason_;        \
  } while (0)
