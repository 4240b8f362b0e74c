// CUDA layer-norm kernels against the CPU reference on random inputs: forward (y, mean, rstd) and
// backward (dx, dweight, dbias, and each alone), outputs poisoned first (label `cuda`).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/rng.h"
#include "ops/norm_kernels.h"
#include "ops/ops.h"
#include "support/expect_error.h"
#include "support/test_util.h"

using namespace nat;
using nat::testing::max_abs_diff;
using nat::testing::poisoned;

namespace {

Tensor rand_t(const Shape& s, DType dtype, uint64_t seed, double lo = -2, double hi = 2) {
  Generator g(seed);
  Tensor t = Tensor::empty(s, DType::f64);
  return uniform_(t, lo, hi, &g).to(dtype);
}

// max |a - b| relative to max(1, max |b|): the parameter gradients sum over many rows.
double rel_diff(const Tensor& a, const Tensor& b) {
  double m = 1;
  for (double v : b.to_double_vector()) m = std::max(m, std::fabs(v));
  return max_abs_diff(a, b) / m;
}

}  // namespace

TEST(OpsNormCuda, KernelsMatchCpu) {
  NAT_SKIP_WITHOUT_CUDA();
  namespace cpu = nat::kernels::cpu;
  namespace gpu = nat::kernels::cuda;
  const Device cuda = Device::cuda();
  const std::pair<int64_t, int64_t> shapes[] = {{1500, 96}, {7, 700}, {3, 5}, {600, 1}};
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f64 ? 1e-12 : 1e-5;
    const DType acc = acc_dtype(dt);
    for (auto [rows, cols] : shapes) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + std::to_string(rows) + "x" + std::to_string(cols));
      Tensor x = rand_t({rows, cols}, dt, 1, -3, 5), w = rand_t({cols}, dt, 2), b = rand_t({cols}, dt, 3);
      Tensor dy = rand_t({rows, cols}, dt, 4);
      Tensor xg = x.cuda(), wg = w.cuda(), bg = b.cuda(), dyg = dy.cuda();
      for (int affine = 0; affine < 2; ++affine) {
        SCOPED_TRACE(affine ? "affine" : "no affine");
        const void* wp = affine ? w.data_ptr() : nullptr;
        const void* wgp = affine ? wg.data_ptr() : nullptr;
        Tensor y = Tensor::empty({rows, cols}, dt), mean = Tensor::empty({rows}, acc),
               rstd = Tensor::empty({rows}, acc);
        Tensor yg = poisoned({rows, cols}, dt, cuda), meang = poisoned({rows}, acc, cuda),
               rstdg = poisoned({rows}, acc, cuda);
        cpu::layer_norm_forward(dt, rows, cols, 1e-5, x.data_ptr(), wp, affine ? b.data_ptr() : nullptr, y.data_ptr(),
                                mean.data_ptr(), rstd.data_ptr(), 0);
        gpu::layer_norm_forward(dt, rows, cols, 1e-5, xg.data_ptr(), wgp, affine ? bg.data_ptr() : nullptr,
                                yg.data_ptr(), meang.data_ptr(), rstdg.data_ptr(), 0);
        EXPECT_LT(max_abs_diff(y, yg), tol);
        EXPECT_LT(max_abs_diff(mean, meang), tol);
        EXPECT_LT(rel_diff(rstdg, rstd), tol);
        // Backward from the CPU's saved statistics on both devices.
        Tensor mg = mean.cuda(), rg = rstd.cuda();
        Tensor dx = Tensor::empty({rows, cols}, dt), dw = Tensor::empty({cols}, dt), db = Tensor::empty({cols}, dt);
        cpu::layer_norm_backward(dt, rows, cols, dy.data_ptr(), x.data_ptr(), mean.data_ptr(), rstd.data_ptr(), wp,
                                 dx.data_ptr(), dw.data_ptr(), db.data_ptr(), 0);
        for (int which = 0; which < 4; ++which) {  // all three outputs, then each alone
          SCOPED_TRACE(which);
          Tensor dxg = poisoned({rows, cols}, dt, cuda), dwg = poisoned({cols}, dt, cuda),
                 dbg = poisoned({cols}, dt, cuda);
          gpu::layer_norm_backward(dt, rows, cols, dyg.data_ptr(), xg.data_ptr(), mg.data_ptr(), rg.data_ptr(), wgp,
                                   which == 0 || which == 1 ? dxg.data_ptr() : nullptr,
                                   which == 0 || which == 2 ? dwg.data_ptr() : nullptr,
                                   which == 0 || which == 3 ? dbg.data_ptr() : nullptr, 0);
          if (which == 0 || which == 1) {
            EXPECT_LT(rel_diff(dxg, dx), tol * 10);
          }
          if (which == 0 || which == 2) {
            EXPECT_LT(rel_diff(dwg, dw), tol * 10);
          }
          if (which == 0 || which == 3) {
            EXPECT_LT(rel_diff(dbg, db), tol * 10);
          }
        }
      }
    }
  }
}

TEST(OpsNormCuda, OpsBf16AndDeterminism) {
  NAT_SKIP_WITHOUT_CUDA();
  Tensor x = rand_t({64, 48}, DType::f32, 5), w0 = rand_t({48}, DType::f32, 6), b0 = rand_t({48}, DType::f32, 7);
  Tensor gy = rand_t({64, 48}, DType::f32, 8);
  std::vector<double> gw_runs[2];
  for (int run = 0; run < 2; ++run) {
    Tensor w = set_requires_grad(w0.cuda()), b = set_requires_grad(b0.cuda());
    backward(ops::sum(ops::layer_norm(x.cuda(), w, b) * gy.cuda()));
    gw_runs[run] = grad(w).to_double_vector();
  }
  EXPECT_EQ(gw_runs[0], gw_runs[1]);  // the column reduction has a fixed order: bit-identical runs
  Tensor w = set_requires_grad(w0.clone());
  backward(ops::sum(ops::layer_norm(x, w, b0) * gy));
  EXPECT_LT(max_abs_diff(grad(w), Tensor::from_vector(gw_runs[0], {48})), 1e-4);
  // bf16 storage, f32 compute: against the f32 CPU result on the same rounded inputs.
  Tensor xb = x.to(DType::bf16).cuda(), wb = w0.to(DType::bf16).cuda(), bb = b0.to(DType::bf16).cuda();
  EXPECT_LT(max_abs_diff(ops::layer_norm(xb, wb, bb),
                         ops::layer_norm(xb.to(DType::f32).cpu(), wb.to(DType::f32).cpu(), bb.to(DType::f32).cpu())),
            5e-2);
  NAT_EXPECT_ERROR(ops::layer_norm(x.cuda(), w0, Tensor()), "[layer_norm]", "different devices");
}
