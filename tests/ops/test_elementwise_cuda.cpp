// CUDA elementwise kernels against the CPU reference on random inputs (label `cuda`; skips without a GPU).
#include <gtest/gtest.h>

#include "core/rng.h"
#include "ops/ops.h"
#include "support/test_util.h"

using namespace nat;
using nat::testing::max_abs_diff;

TEST(OpsElementwiseCuda, MatchesCpuOnRandomInputs) {
  NAT_SKIP_WITHOUT_CUDA();
  Generator g(11);
  Tensor x = Tensor::empty({37, 53});
  uniform_(x, 0.2, 2.0, &g);
  Tensor y = Tensor::empty({53});
  uniform_(y, 0.2, 2.0, &g);
  Tensor xc = x.cuda(), yc = y.cuda();
  using F = Tensor (*)(const Tensor&);
  for (F f : {ops::neg, ops::exp, ops::log, ops::sqrt, ops::rsqrt, ops::tanh, ops::erf, ops::abs, ops::gelu})
    EXPECT_LT(max_abs_diff(f(x), f(xc)), 1e-5);
  EXPECT_LT(max_abs_diff(x * y, xc * yc), 1e-6);
  EXPECT_LT(max_abs_diff(x / y, xc / yc), 1e-5);
  EXPECT_LT(max_abs_diff(x.transpose(0, 1) - y.unsqueeze(1), xc.transpose(0, 1) - yc.unsqueeze(1)), 1e-6);
  // backward on CUDA equals backward on CPU
  Tensor a = set_requires_grad(x.clone()), ac = set_requires_grad(xc.clone());
  backward(ops::sum(ops::gelu(a) * y));
  backward(ops::sum(ops::gelu(ac) * yc));
  EXPECT_LT(max_abs_diff(grad(a), grad(ac)), 1e-5);
  // bf16 storage computes in f32
  Tensor xb = xc.to(DType::bf16);
  EXPECT_LT(max_abs_diff(ops::exp(xb).to(DType::f32), ops::exp(xb.to(DType::f32))), 0.05);
}
