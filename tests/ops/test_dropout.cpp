// dropout and drop_path: identity cases, mask statistics, determinism from the generator state,
// the dropout mask against core's bernoulli_ and the drop_path mask against timm's
// floor(keep_prob + U) at the same (seed, offset), backward = the same mask, and float64 gradcheck.
#include <gtest/gtest.h>

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

}  // namespace

TEST(OpsDropout, IdentityWhenEvaluatingOrPZero) {
  Tensor x = rnd({4, 5}, 1);
  Generator g(7);
  EXPECT_TRUE(ops::dropout(x, 0.5, /*training=*/false, &g).shares_storage(x));
  EXPECT_TRUE(ops::dropout(x, 0.0, true, &g).shares_storage(x));
  EXPECT_TRUE(ops::drop_path(x, 0.5, false, &g).shares_storage(x));
  EXPECT_TRUE(ops::drop_path(x, 0.0, true, &g).shares_storage(x));
  EXPECT_EQ(g.offset(), 0u);  // no draws were taken
}

TEST(OpsDropout, MaskStatisticsAndScale) {
  const int64_t n = 200000;
  const double p = 0.3;
  Generator g(42);
  auto y = ops::dropout(Tensor::ones({n}, DType::f64), p, true, &g).to_vector<double>();
  int64_t kept = 0;
  for (double v : y) {
    ASSERT_TRUE(v == 0.0 || v == 1.0 / (1 - p)) << v;
    kept += v != 0.0;
  }
  // Binomial(n, 0.7): the standard deviation of the kept fraction is about 0.001.
  EXPECT_NEAR(static_cast<double>(kept) / n, 1 - p, 0.006);
  EXPECT_EQ(g.offset(), 2u * n);  // two Philox words per element
  // p = 1 drops everything.
  Tensor z = ops::dropout(Tensor::ones({100}), 1.0, true, &g);
  EXPECT_EQ(ops::sum(ops::abs(z)).item(), 0.0);
}

TEST(OpsDropout, DeterministicAndEqualToBernoulli) {
  Tensor x = rnd({8, 50}, 2);
  Generator a(99), b(99);
  Tensor ya = ops::dropout(x, 0.4, true, &a), yb = ops::dropout(x, 0.4, true, &b);
  EXPECT_EQ(ya.to_vector<double>(), yb.to_vector<double>());
  // The next call continues the stream: a different mask.
  EXPECT_NE(ops::dropout(x, 0.4, true, &a).to_vector<double>(), ya.to_vector<double>());
  // The mask is bernoulli_(keep) drawn from the same (seed, offset); y = x * mask / keep.
  Generator c(99);
  Tensor mask = Tensor::empty({8, 50}, DType::f64);
  bernoulli_(mask, 0.6, &c);
  EXPECT_LT(max_abs_diff(ya, x * mask * (1 / 0.6)), 1e-15);
  // A non-contiguous input takes its mask in logical (row-major) order.
  Generator d(99);
  Tensor xt = x.transpose(0, 1).contiguous().transpose(0, 1);
  ASSERT_FALSE(xt.is_contiguous());
  EXPECT_EQ(max_abs_diff(ops::dropout(xt, 0.4, true, &d), ya), 0.0);
}

TEST(OpsDropout, BackwardUsesTheSameMask) {
  Tensor x = leaf(rnd({6, 7}, 3)), w = rnd({6, 7}, 4);
  Generator g(5);
  Tensor y = ops::dropout(x, 0.5, true, &g);
  backward(ops::sum(y * w));
  // d/dx = w * mask / keep, and y = x * mask / keep, so grad * x == y * w elementwise.
  EXPECT_LT(max_abs_diff(grad(x) * detach(x), detach(y) * w), 1e-15);
  auto f = [](const std::vector<Tensor>& in) {
    Generator gen(11);  // the same mask on every evaluation
    return ops::dropout(in[0], 0.3, true, &gen);
  };
  expect_gradcheck(f, {leaf(rnd({4, 5}, 6))});
  expect_gradcheck(f, {leaf(rnd({5, 4}, 7).transpose(0, 1))});
}

TEST(OpsDropPath, ZeroesWholeSamplesAndScalesTheRest) {
  const int64_t batch = 64;
  const double p = 0.25, keep = 0.75;
  Tensor x = rnd({batch, 3, 4}, 8);
  Generator g(21);
  Tensor y = ops::drop_path(x, p, true, &g);
  EXPECT_EQ(g.offset(), 2u * batch);  // one draw per sample
  // timm's mask from the same draws: floor(keep + U) with U = rand(batch) at the same (seed, offset).
  Generator r(21);
  auto u = rand({batch}, DType::f64, Device::cpu(), &r).to_vector<double>();
  int kept = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const double m = std::floor(keep + u[b]);
    kept += m != 0;
    Tensor yb = y.select(0, b), xb = x.select(0, b);
    EXPECT_LT(max_abs_diff(yb, xb * (m / keep)), 1e-15) << "sample " << b;
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, batch);
}

TEST(OpsDropPath, StatisticsBackwardAndGradcheck) {
  Generator g(3);
  const int64_t batch = 20000;
  auto y = ops::drop_path(Tensor::ones({batch, 1}, DType::f64), 0.2, true, &g).to_vector<double>();
  int64_t kept = 0;
  for (double v : y) kept += v != 0.0;
  EXPECT_NEAR(static_cast<double>(kept) / batch, 0.8, 0.015);

  Tensor x = leaf(rnd({16, 2, 3}, 9)), w = rnd({16, 2, 3}, 10);
  Generator h(4);
  Tensor out = ops::drop_path(x, 0.5, true, &h);
  backward(ops::sum(out * w));
  EXPECT_LT(max_abs_diff(grad(x) * detach(x), detach(out) * w), 1e-15);

  auto f = [](const std::vector<Tensor>& in) {
    Generator gen(12);
    return ops::drop_path(in[0], 0.4, true, &gen);
  };
  expect_gradcheck(f, {leaf(rnd({6, 3}, 11))});
  expect_gradcheck(f, {leaf(rnd({3, 6}, 13).transpose(0, 1))});
}

TEST(OpsDropout, Errors) {
  Tensor x = Tensor::zeros({2, 3});
  NAT_EXPECT_ERROR(ops::dropout(x, 1.5, true), "[dropout]", "p must be in [0, 1]");
  NAT_EXPECT_ERROR(ops::drop_path(x, -0.1, true), "[drop_path]", "p must be in [0, 1]");
  NAT_EXPECT_ERROR(ops::dropout(Tensor::zeros({2}, DType::i64), 0.5, true), "[dropout]", "i64");
  NAT_EXPECT_ERROR(ops::drop_path(Tensor::scalar(1.0), 0.5, true), "[drop_path]", "batch dim");
}
