// CUDA softmax / log_softmax kernels against the CPU reference on random inputs, forward and
// backward, outputs poisoned first (label `cuda`; skips without a GPU).
#include <gtest/gtest.h>

#include "core/rng.h"
#include "ops/ops.h"
#include "ops/softmax_kernels.h"
#include "support/test_util.h"

using namespace nat;
using nat::testing::max_abs_diff;
using nat::testing::poisoned;

namespace {

Tensor rand_t(const Shape& s, DType dtype, uint64_t seed, double lo = -4, double hi = 4) {
  Generator g(seed);
  Tensor t = Tensor::empty(s, DType::f64);
  return uniform_(t, lo, hi, &g).to(dtype);
}

}  // namespace

TEST(OpsSoftmaxCuda, KernelsMatchCpu) {
  NAT_SKIP_WITHOUT_CUDA();
  namespace cpu = nat::kernels::cpu;
  namespace gpu = nat::kernels::cuda;
  const std::pair<int64_t, int64_t> shapes[] = {{37, 1000}, {5, 3}, {3, 2049}, {1, 1}};
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f64 ? 1e-13 : 5e-6;
    for (auto [rows, cols] : shapes) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + std::to_string(rows) + "x" + std::to_string(cols));
      Tensor x = rand_t({rows, cols}, dt, 1), dy = rand_t({rows, cols}, dt, 2, -1, 1);
      Tensor xg = x.cuda(), dyg = dy.cuda();
      for (int log_space = 0; log_space < 2; ++log_space) {
        SCOPED_TRACE(log_space ? "log_softmax" : "softmax");
        Tensor y = Tensor::empty({rows, cols}, dt), yg = poisoned({rows, cols}, dt, Device::cuda());
        (log_space ? cpu::log_softmax_forward : cpu::softmax_forward)(dt, rows, cols, x.data_ptr(), y.data_ptr(), 0);
        (log_space ? gpu::log_softmax_forward : gpu::softmax_forward)(dt, rows, cols, xg.data_ptr(), yg.data_ptr(), 0);
        EXPECT_LT(max_abs_diff(y, yg), tol);
        // Backward from the same y on both devices.
        Tensor y_in = y.cuda();
        Tensor dx = Tensor::empty({rows, cols}, dt), dxg = poisoned({rows, cols}, dt, Device::cuda());
        (log_space ? cpu::log_softmax_backward : cpu::softmax_backward)(dt, rows, cols, y.data_ptr(), dy.data_ptr(),
                                                                        dx.data_ptr(), 0);
        (log_space ? gpu::log_softmax_backward : gpu::softmax_backward)(dt, rows, cols, y_in.data_ptr(), dyg.data_ptr(),
                                                                        dxg.data_ptr(), 0);
        EXPECT_LT(max_abs_diff(dx, dxg), tol * 100);
      }
    }
  }
}

TEST(OpsSoftmaxCuda, OpsAndBf16MatchCpu) {
  NAT_SKIP_WITHOUT_CUDA();
  Tensor x = rand_t({6, 4, 33}, DType::f32, 3), w = rand_t({6, 4, 33}, DType::f32, 4);
  Tensor a = set_requires_grad(x.clone()), ag = set_requires_grad(x.cuda());
  backward(ops::sum(ops::log_softmax(a) * w));
  backward(ops::sum(ops::log_softmax(ag) * w.cuda()));
  EXPECT_LT(max_abs_diff(grad(a), grad(ag)), 1e-5);
  // Non-contiguous input on CUDA.
  EXPECT_LT(max_abs_diff(ops::softmax(x.transpose(0, 2)), ops::softmax(x.cuda().transpose(0, 2))), 1e-6);
  // bf16 storage computes in f32: compare with the f32 CPU result on the same (rounded) inputs.
  Tensor xb = x.to(DType::bf16).cuda();
  EXPECT_LT(max_abs_diff(ops::softmax(xb), ops::softmax(xb.to(DType::f32).cpu())), 1e-2);
  EXPECT_LT(max_abs_diff(ops::log_softmax(xb), ops::log_softmax(xb.to(DType::f32).cpu())), 7e-2);
}
