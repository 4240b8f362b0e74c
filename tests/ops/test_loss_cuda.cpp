// CUDA loss kernels against the CPU reference on random inputs (hard targets with and without
// smoothing, soft targets), forward and backward, outputs poisoned first (label `cuda`).
#include <gtest/gtest.h>

#include <cmath>

#include "core/rng.h"
#include "ops/loss_kernels.h"
#include "ops/ops.h"
#include "support/expect_error.h"
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

Tensor targets(int64_t n, int64_t c, uint64_t seed) {
  Tensor u = rand_t({n}, DType::f64, seed, 0, 1);
  std::vector<int64_t> t;
  for (double v : u.to_vector<double>()) t.push_back(static_cast<int64_t>(v * c));
  return Tensor::from_vector(t, {n});
}

}  // namespace

TEST(OpsLossCuda, KernelsMatchCpu) {
  NAT_SKIP_WITHOUT_CUDA();
  namespace cpu = nat::kernels::cpu;
  namespace gpu = nat::kernels::cuda;
  const Device cuda = Device::cuda();
  const std::pair<int64_t, int64_t> shapes[] = {{33, 1000}, {4, 7}, {2, 1}};
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f64 ? 1e-12 : 2e-5;
    const DType acc = acc_dtype(dt);
    for (auto [n, c] : shapes) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + std::to_string(n) + "x" + std::to_string(c));
      Tensor x = rand_t({n, c}, dt, 1), t = targets(n, c, 2), q = ops::softmax(rand_t({n, c}, DType::f64, 3)).to(dt);
      Tensor xg = x.cuda(), tg = t.cuda(), qg = q.cuda();
      const int64_t* tp = static_cast<const int64_t*>(t.data_ptr());
      const int64_t* tgp = static_cast<const int64_t*>(tg.data_ptr());
      Tensor dloss = Tensor::full({}, 0.7, acc), dlossg = dloss.cuda();
      for (double eps : {0.0, 0.1}) {
        SCOPED_TRACE(eps);
        Tensor loss = Tensor::empty({n}, acc), lse = Tensor::empty({n}, acc);
        Tensor lossg = poisoned({n}, acc, cuda), lseg = poisoned({n}, acc, cuda);
        cpu::cross_entropy_forward(dt, n, c, eps, x.data_ptr(), tp, loss.data_ptr(), lse.data_ptr(), 0);
        gpu::cross_entropy_forward(dt, n, c, eps, xg.data_ptr(), tgp, lossg.data_ptr(), lseg.data_ptr(), 0);
        EXPECT_LT(max_abs_diff(loss, lossg), tol);
        EXPECT_LT(max_abs_diff(lse, lseg), tol);
        Tensor lse_in = lse.cuda();
        Tensor dx = Tensor::empty({n, c}, dt), dxg = poisoned({n, c}, dt, cuda);
        cpu::cross_entropy_backward(dt, n, c, eps, 1.0 / n, x.data_ptr(), tp, lse.data_ptr(), dloss.data_ptr(),
                                    dx.data_ptr(), 0);
        gpu::cross_entropy_backward(dt, n, c, eps, 1.0 / n, xg.data_ptr(), tgp, lse_in.data_ptr(), dlossg.data_ptr(),
                                    dxg.data_ptr(), 0);
        EXPECT_LT(max_abs_diff(dx, dxg), tol);
      }
      // Soft targets.
      Tensor loss = Tensor::empty({n}, acc), lse = Tensor::empty({n}, acc);
      Tensor lossg = poisoned({n}, acc, cuda), lseg = poisoned({n}, acc, cuda);
      cpu::soft_cross_entropy_forward(dt, n, c, x.data_ptr(), q.data_ptr(), loss.data_ptr(), lse.data_ptr(), 0);
      gpu::soft_cross_entropy_forward(dt, n, c, xg.data_ptr(), qg.data_ptr(), lossg.data_ptr(), lseg.data_ptr(), 0);
      EXPECT_LT(max_abs_diff(loss, lossg), tol * 10);
      EXPECT_LT(max_abs_diff(lse, lseg), tol);
      Tensor lse_in = lse.cuda();
      Tensor dx = Tensor::empty({n, c}, dt), dq = Tensor::empty({n, c}, dt);
      cpu::soft_cross_entropy_backward(dt, n, c, 1.0 / n, x.data_ptr(), q.data_ptr(), lse.data_ptr(), dloss.data_ptr(),
                                       dx.data_ptr(), dq.data_ptr(), 0);
      for (int which = 0; which < 3; ++which) {  // both outputs, then each alone
        SCOPED_TRACE(which);
        Tensor dxg = poisoned({n, c}, dt, cuda), dqg = poisoned({n, c}, dt, cuda);
        gpu::soft_cross_entropy_backward(dt, n, c, 1.0 / n, xg.data_ptr(), qg.data_ptr(), lse_in.data_ptr(),
                                         dlossg.data_ptr(), which != 2 ? dxg.data_ptr() : nullptr,
                                         which != 1 ? dqg.data_ptr() : nullptr, 0);
        if (which != 2) {
          EXPECT_LT(max_abs_diff(dx, dxg), tol);
        }
        if (which != 1) {
          EXPECT_LT(max_abs_diff(dq, dqg), tol);
        }
      }
    }
  }
}

TEST(OpsLossCuda, OpsMatchCpuAndBadTargetsGiveNaN) {
  NAT_SKIP_WITHOUT_CUDA();
  Tensor x = rand_t({16, 10}, DType::f32, 4), t = targets(16, 10, 5);
  Tensor a = set_requires_grad(x.clone()), ag = set_requires_grad(x.cuda());
  Tensor l = ops::cross_entropy(a, t, 0.1);
  backward(l);
  Tensor lg = ops::cross_entropy(ag, t.cuda(), 0.1);
  backward(lg);
  EXPECT_NEAR(l.item(), lg.item(), 1e-5);
  EXPECT_TRUE(lg.is_cuda());
  EXPECT_LT(max_abs_diff(grad(a), grad(ag)), 1e-6);
  // bf16 logits: the loss comes back in bf16, computed in f32.
  Tensor xb = x.to(DType::bf16).cuda();
  Tensor lb = ops::cross_entropy(xb, t.cuda());
  EXPECT_EQ(lb.dtype(), DType::bf16);
  EXPECT_NEAR(lb.item(), ops::cross_entropy(xb.to(DType::f32).cpu(), t).item(), 3e-2);
  // An out-of-range target is not checked on the host (no sync): its row, and so the mean, is NaN.
  Tensor bad = Tensor::from_vector<int64_t>({0, 10}, {2}, Device::cuda());
  EXPECT_TRUE(std::isnan(ops::cross_entropy(x.slice(0, 0, 2).cuda(), bad).item()));
  NAT_EXPECT_ERROR(ops::cross_entropy(x.cuda(), t), "[cross_entropy]", "different devices");
}
