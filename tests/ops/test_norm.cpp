// layer_norm: closed-form values, the fused kernel against a composition of mean/sub/mul/rsqrt
// (forward and every gradient, to ~1e-12 in f64), float64 gradcheck with and without the affine
// parameters and on non-contiguous input, thread-count-independent parameter gradients, errors.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "autograd/gradcheck.h"
#include "core/rng.h"
#include "ops/ops.h"
#include "support/expect_error.h"
#include "support/test_util.h"

using namespace nat;
using nat::testing::max_abs_diff;
using nat::testing::expect_gradcheck;
using nat::testing::leaf;

namespace {

Tensor rnd(const Shape& s, uint64_t seed, double lo = -2, double hi = 2) {
  return nat::testing::random_f64(s, seed, lo, hi);
}

// The oracle: layer norm from primitive ops.
Tensor composed_layer_norm(const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
  Tensor d = x - ops::mean(x, {-1}, /*keepdim=*/true);
  Tensor var = ops::mean(d * d, {-1}, /*keepdim=*/true);
  Tensor y = d * ops::rsqrt(var + eps);
  if (w.defined()) y = y * w;
  if (b.defined()) y = y + b;
  return y;
}

}  // namespace

TEST(OpsNorm, ClosedFormValues) {
  // Row [1, 2, 3, 4]: mean 2.5, biased variance 1.25.
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 7, 7, 7, 7}, {2, 4});
  Tensor w = Tensor::from_vector<double>({1, 2, 1, 2}, {4});
  Tensor b = Tensor::from_vector<double>({0, 0, 1, 1}, {4});
  const double eps = 1e-5, r = 1 / std::sqrt(1.25 + eps);
  auto y = ops::layer_norm(x, w, b, eps).to_vector<double>();
  const double want[8] = {-1.5 * r, -0.5 * r * 2, 0.5 * r + 1, 1.5 * r * 2 + 1, 0, 0, 1, 1};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(y[i], want[i], 1e-15) << i;
  // No weight and bias: a standardised row.
  auto z = ops::layer_norm(x, Tensor(), Tensor(), 0.0).to_vector<double>();
  EXPECT_NEAR(z[0], -1.5 / std::sqrt(1.25), 1e-15);
  EXPECT_NEAR(z[3], 1.5 / std::sqrt(1.25), 1e-15);
}

TEST(OpsNorm, FusedMatchesComposed) {
  Tensor x0 = rnd({3, 5, 24}, 1, -3, 5), w0 = rnd({24}, 2), b0 = rnd({24}, 3), gy = rnd({3, 5, 24}, 4);
  for (int variant = 0; variant < 3; ++variant) {  // affine, weight only, neither
    SCOPED_TRACE(variant);
    Tensor x = leaf(x0.clone()), xr = leaf(x0.clone());
    Tensor w = variant < 2 ? leaf(w0.clone()) : Tensor(), wr = variant < 2 ? leaf(w0.clone()) : Tensor();
    Tensor b = variant == 0 ? leaf(b0.clone()) : Tensor(), br = variant == 0 ? leaf(b0.clone()) : Tensor();
    // (backward frees the thread's tape, so each graph is built and run in turn)
    Tensor y = ops::layer_norm(x, w, b, 1e-5);
    backward(ops::sum(y * gy));
    Tensor yr = composed_layer_norm(xr, wr, br, 1e-5);
    backward(ops::sum(yr * gy));
    EXPECT_LT(max_abs_diff(y, yr), 1e-12);
    EXPECT_LT(max_abs_diff(grad(x), grad(xr)), 1e-12);
    if (w.defined()) {
      EXPECT_LT(max_abs_diff(grad(w), grad(wr)), 1e-12);
    }
    if (b.defined()) {
      EXPECT_LT(max_abs_diff(grad(b), grad(br)), 1e-12);
    }
  }
  // f32 agrees with f64 to f32 precision.
  EXPECT_LT(max_abs_diff(ops::layer_norm(x0.to(DType::f32), w0.to(DType::f32), b0.to(DType::f32)),
                         ops::layer_norm(x0, w0, b0)),
            1e-5);
}

TEST(OpsNorm, Gradcheck) {
  auto f = [](const std::vector<Tensor>& in) { return ops::layer_norm(in[0], in[1], in[2]); };
  expect_gradcheck(f, {leaf(rnd({4, 6}, 5)), leaf(rnd({6}, 6)), leaf(rnd({6}, 7))});
  // Non-contiguous x (a transposed leaf) and 3-D input.
  Tensor xt = leaf(rnd({6, 4}, 8).transpose(0, 1));
  ASSERT_FALSE(xt.is_contiguous());
  expect_gradcheck(f, {xt, leaf(rnd({6}, 9)), leaf(rnd({6}, 10))});
  expect_gradcheck(f, {leaf(rnd({2, 3, 5}, 11)), leaf(rnd({5}, 12)), leaf(rnd({5}, 13))});
  // Without the affine parameters, and with weight only; parameters that do not require grad.
  expect_gradcheck([](const std::vector<Tensor>& in) { return ops::layer_norm(in[0], Tensor(), Tensor()); },
                   {leaf(rnd({3, 7}, 14))});
  expect_gradcheck([](const std::vector<Tensor>& in) { return ops::layer_norm(in[0], in[1], Tensor()); },
                   {leaf(rnd({3, 7}, 15)), leaf(rnd({7}, 16))});
  Tensor frozen_w = rnd({7}, 17);
  expect_gradcheck([frozen_w](const std::vector<Tensor>& in) { return ops::layer_norm(in[1], frozen_w, in[0]); },
                   {leaf(rnd({7}, 18)), rnd({3, 7}, 19)});
}

TEST(OpsNorm, ParameterGradientsIndependentOfThreadCount) {
  // Enough rows to take the parallel path; dweight/dbias must be bit-identical for 1 and 2 threads.
  Tensor x0 = rnd({1000, 32}, 20), w0 = rnd({32}, 21), b0 = rnd({32}, 22), gy = rnd({1000, 32}, 23);
  std::vector<double> gw[2], gb[2];
  const int saved = omp_get_max_threads();
  for (int t = 0; t < 2; ++t) {
    omp_set_num_threads(t + 1);
    Tensor x = x0.to(DType::f32), w = leaf(w0.to(DType::f32)), b = leaf(b0.to(DType::f32));
    backward(ops::sum(ops::layer_norm(x, w, b) * gy.to(DType::f32)));
    gw[t] = grad(w).to_double_vector();
    gb[t] = grad(b).to_double_vector();
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(gw[0], gw[1]);
  EXPECT_EQ(gb[0], gb[1]);
}

TEST(OpsNorm, ErrorsNameTheOpAndShapes) {
  Tensor x = Tensor::zeros({2, 4});
  NAT_EXPECT_ERROR(ops::layer_norm(x, Tensor::ones({3}), Tensor()), "[layer_norm]", "[4]", "f32[3]");
  NAT_EXPECT_ERROR(ops::layer_norm(x, Tensor(), Tensor::zeros({4, 1})), "[layer_norm]", "f32[4, 1]");
  NAT_EXPECT_ERROR(ops::layer_norm(x, Tensor::ones({4}, DType::f64), Tensor()), "[layer_norm]", "f64[4]");
  NAT_EXPECT_ERROR(ops::layer_norm(Tensor::zeros({2, 4}, DType::i64), Tensor(), Tensor()), "[layer_norm]", "i64");
  NAT_EXPECT_ERROR(ops::layer_norm(Tensor::zeros({2, 0}), Tensor(), Tensor()), "[layer_norm]", "[2, 0]");
  NAT_EXPECT_ERROR(ops::layer_norm(x, Tensor(), Tensor(), -1.0), "[layer_norm]", "eps");
}
