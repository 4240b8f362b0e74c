// CUDA dropout / drop_path kernels against the CPU reference: for the same (seed, offset) the masks
// are identical, so outputs must match exactly; outputs poisoned first (label `cuda`).
#include <gtest/gtest.h>

#include "core/rng.h"
#include "ops/dropout_kernels.h"
#include "ops/ops.h"
#include "support/test_util.h"

using namespace nat;
using nat::testing::max_abs_diff;
using nat::testing::poisoned;

namespace {

Tensor rand_t(const Shape& s, DType dtype, uint64_t seed) {
  Generator g(seed);
  Tensor t = Tensor::empty(s, DType::f64);
  return uniform_(t, -2, 2, &g).to(dtype);
}

}  // namespace

TEST(OpsDropoutCuda, KernelsMatchCpuExactly) {
  NAT_SKIP_WITHOUT_CUDA();
  namespace cpu = nat::kernels::cpu;
  namespace gpu = nat::kernels::cuda;
  const Device cuda = Device::cuda();
  const int64_t batch = 40, inner = 517, n = batch * inner;
  for (DType dt : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor x = rand_t({batch, inner}, dt, 1), xg = x.cuda();
    for (double keep : {0.7, 0.0}) {
      SCOPED_TRACE(keep);
      Tensor y = Tensor::empty({batch, inner}, dt), yg = poisoned({batch, inner}, dt, cuda);
      cpu::dropout_forward(dt, n, keep, 1234, 10, x.data_ptr(), y.data_ptr(), 0);
      gpu::dropout_forward(dt, n, keep, 1234, 10, xg.data_ptr(), yg.data_ptr(), 0);
      EXPECT_EQ(max_abs_diff(y, yg), 0.0);
      yg = poisoned({batch, inner}, dt, cuda);
      cpu::dropout_backward(dt, n, keep, 1234, 10, x.data_ptr(), y.data_ptr(), 0);
      gpu::dropout_backward(dt, n, keep, 1234, 10, xg.data_ptr(), yg.data_ptr(), 0);
      EXPECT_EQ(max_abs_diff(y, yg), 0.0);
      yg = poisoned({batch, inner}, dt, cuda);
      cpu::drop_path_forward(dt, batch, inner, keep, 77, 6, x.data_ptr(), y.data_ptr(), 0);
      gpu::drop_path_forward(dt, batch, inner, keep, 77, 6, xg.data_ptr(), yg.data_ptr(), 0);
      EXPECT_EQ(max_abs_diff(y, yg), 0.0);
      yg = poisoned({batch, inner}, dt, cuda);
      cpu::drop_path_backward(dt, batch, inner, keep, 77, 6, x.data_ptr(), y.data_ptr(), 0);
      gpu::drop_path_backward(dt, batch, inner, keep, 77, 6, xg.data_ptr(), yg.data_ptr(), 0);
      EXPECT_EQ(max_abs_diff(y, yg), 0.0);
    }
  }
}

TEST(OpsDropoutCuda, SameGeneratorStateSameMaskOnBothDevices) {
  NAT_SKIP_WITHOUT_CUDA();
  Tensor x = rand_t({32, 3, 9}, DType::f32, 2);
  Generator a(5), b(5);
  Tensor y = ops::dropout(x, 0.3, true, &a), yg = ops::dropout(x.cuda(), 0.3, true, &b);
  EXPECT_EQ(max_abs_diff(y, yg), 0.0);
  EXPECT_EQ(a.offset(), b.offset());
  Tensor p = ops::drop_path(x, 0.5, true, &a), pg = ops::drop_path(x.cuda(), 0.5, true, &b);
  EXPECT_EQ(max_abs_diff(p, pg), 0.0);
  // Backward on CUDA uses the regenerated mask, equal to the CPU's.
  Generator c(9), d(9);
  Tensor xc = set_requires_grad(x.clone()), xg = set_requires_grad(x.cuda());
  backward(ops::sum(ops::drop_path(ops::dropout(xc, 0.2, true, &c), 0.3, true, &c)));
  backward(ops::sum(ops::drop_path(ops::dropout(xg, 0.2, true, &d), 0.3, true, &d)));
  EXPECT_EQ(max_abs_diff(grad(xc), grad(xg)), 0.0);
  // bf16: the same mask, values rounded once.
  Generator e(9), f(9);
  Tensor xb = x.to(DType::bf16);
  EXPECT_LT(max_abs_diff(ops::dropout(xb.cuda(), 0.2, true, &e), ops::dropout(xb.to(DType::f32), 0.2, true, &f)), 2e-2);
}
