// softmax / log_softmax: closed-form values, stability on large logits, float64 gradcheck
// (contiguous, non-contiguous, 3-D), and the fused kernels against a composition of primitive ops.
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

// softmax over the last dim from primitive ops (the oracle for the fused kernel).
Tensor composed_log_softmax(const Tensor& x) {
  Tensor shifted = x - ops::max(x, -1, /*keepdim=*/true);
  return shifted - ops::log(ops::sum(ops::exp(shifted), {-1}, /*keepdim=*/true));
}

}  // namespace

TEST(OpsSoftmax, ClosedFormValues) {
  // exp(log k) = k, so the row [log 1, log 2, log 3] has softmax [1, 2, 3] / 6.
  Tensor x = Tensor::from_vector<double>({0.0, std::log(2.0), std::log(3.0), 5, 5, 5}, {2, 3});
  auto p = ops::softmax(x).to_vector<double>();
  auto lp = ops::log_softmax(x).to_vector<double>();
  const double want[6] = {1.0 / 6, 2.0 / 6, 3.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 3};
  for (int i = 0; i < 6; ++i) {
    EXPECT_NEAR(p[i], want[i], 1e-15) << i;
    EXPECT_NEAR(lp[i], std::log(want[i]), 1e-15) << i;
  }
}

TEST(OpsSoftmax, StableOnLargeLogitsAndInfinities) {
  // Without the max shift exp(1000) overflows to inf and the result is NaN.
  Tensor x = Tensor::from_vector<float>({1000, 1001, -INFINITY, 0}, {2, 2});
  const double e = std::exp(1.0);
  auto p = ops::softmax(x).to_vector<float>();
  EXPECT_NEAR(p[0], 1 / (1 + e), 1e-7);
  EXPECT_NEAR(p[1], e / (1 + e), 1e-7);
  EXPECT_EQ(p[2], 0.0f);
  EXPECT_EQ(p[3], 1.0f);
  auto lp = ops::log_softmax(x).to_vector<float>();
  EXPECT_NEAR(lp[0], -std::log(1 + e), 1e-6);
  EXPECT_NEAR(lp[1], 1 - std::log(1 + e), 1e-6);
  EXPECT_EQ(lp[2], -INFINITY);
  EXPECT_EQ(lp[3], 0.0f);
}

TEST(OpsSoftmax, FusedMatchesComposed) {
  Tensor x = rnd({5, 3, 17}, 1, -4, 4);
  Tensor ref = composed_log_softmax(x);
  EXPECT_LT(max_abs_diff(ops::log_softmax(x), ref), 1e-14);
  EXPECT_LT(max_abs_diff(ops::softmax(x), ops::exp(ref)), 1e-15);
  // Gradients through the fused and the composed graphs agree too.
  Tensor w = rnd({5, 3, 17}, 2);
  for (int log_space = 0; log_space < 2; ++log_space) {
    SCOPED_TRACE(log_space);
    Tensor a = leaf(x.clone()), b = leaf(x.clone());
    backward(ops::sum((log_space ? ops::log_softmax(a) : ops::softmax(a)) * w));
    Tensor cb = composed_log_softmax(b);
    backward(ops::sum((log_space ? cb : ops::exp(cb)) * w));
    EXPECT_LT(max_abs_diff(grad(a), grad(b)), 1e-14);
  }
  // f32 agrees with f64 to f32 precision.
  EXPECT_LT(max_abs_diff(ops::softmax(x.to(DType::f32)), ops::softmax(x)), 1e-6);
  EXPECT_LT(max_abs_diff(ops::log_softmax(x.to(DType::f32)), ops::log_softmax(x)), 1e-5);
}

TEST(OpsSoftmax, Gradcheck) {
  auto sm = [](const std::vector<Tensor>& in) { return ops::softmax(in[0]); };
  auto lsm = [](const std::vector<Tensor>& in) { return ops::log_softmax(in[0]); };
  Tensor x = leaf(rnd({4, 6}, 3));
  Tensor x3 = leaf(rnd({2, 3, 5}, 4));
  Tensor xt = leaf(rnd({6, 4}, 5).transpose(0, 1));  // a non-contiguous [4, 6] view of a leaf
  ASSERT_FALSE(xt.is_contiguous());
  for (const Tensor& in : {x, x3, xt}) {
    expect_gradcheck(sm, {in});
    expect_gradcheck(lsm, {in});
  }
  // A single column: softmax is constant 1, its gradient is exactly 0.
  Tensor one = leaf(rnd({3, 1}, 6));
  backward(ops::sum(ops::softmax(one)));
  EXPECT_EQ(grad(one).to_vector<double>(), (std::vector<double>{0, 0, 0}));
}

TEST(OpsSoftmax, RecordsOneNode) {
  clear_tape();
  Tensor x = leaf(rnd({2, 3}, 7));
  Tensor y = ops::log_softmax(x);
  EXPECT_EQ(tape_size(), 1u);
  clear_tape();
}

TEST(OpsSoftmax, ErrorsNameTheOp) {
  NAT_EXPECT_ERROR(ops::softmax(Tensor::zeros({2, 3}, DType::i64)), "[softmax]", "i64");
  NAT_EXPECT_ERROR(ops::log_softmax(Tensor::scalar(1.0)), "[log_softmax]", "at least 1 dim");
  EXPECT_EQ(ops::softmax(Tensor::zeros({0, 4})).shape(), (Shape{0, 4}));
}
