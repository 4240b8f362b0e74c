// Elementwise ops: closed-form values, float64 gradcheck (contiguous, non-contiguous, broadcast),
// composed identities, and CUDA against the CPU reference.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/gradcheck.h"
#include "core/rng.h"
#include "ops/ops.h"
#include "support/test_util.h"

using namespace nat;
using nat::testing::max_abs_diff;
using nat::testing::expect_gradcheck;
using nat::testing::leaf;

namespace {

Tensor rnd(const Shape& s, uint64_t seed, double lo = -1, double hi = 1) {
  return nat::testing::random_f64(s, seed, lo, hi);
}

}  // namespace

TEST(OpsElementwise, ClosedFormValues) {
  Tensor a = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::from_vector<float>({10, 20}, {2});
  EXPECT_EQ((a + b).to_vector<float>(), (std::vector<float>{11, 22, 13, 24}));
  EXPECT_EQ((a - b).to_vector<float>(), (std::vector<float>{-9, -18, -7, -16}));
  EXPECT_EQ((a * b).to_vector<float>(), (std::vector<float>{10, 40, 30, 80}));
  EXPECT_EQ((b / a).to_vector<float>(), (std::vector<float>{10, 10, 10.0f / 3, 5}));
  EXPECT_EQ(ops::clamp(a, 1.5, 3.5).to_vector<float>(), (std::vector<float>{1.5, 2, 3, 3.5}));
  EXPECT_EQ(ops::pow(a, 2).to_vector<float>(), (std::vector<float>{1, 4, 9, 16}));
  auto g = ops::gelu(Tensor::from_vector<double>({-1, 0, 1, 2}, {4})).to_vector<double>();
  // x * Phi(x) with Phi from std::erf, independently.
  for (int i = 0; i < 4; ++i) {
    double x = -1 + i;
    EXPECT_NEAR(g[i], 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))), 1e-15);
  }
  EXPECT_NEAR(ops::gelu(Tensor::scalar(1.0, DType::f64)).item(), 0.8413447460685429, 1e-15);
}

TEST(OpsElementwise, BroadcastErrorsNameTheOp) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  try {
    ops::add(a, b);
    FAIL() << "expected nat::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[4]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::add(Tensor::zeros({2}), Tensor::zeros({2}, DType::f64)), Error);
  EXPECT_THROW(ops::exp(Tensor::zeros({2}, DType::i64)), Error);
}

TEST(OpsElementwise, UnaryGradcheck) {
  using F = Tensor (*)(const Tensor&);
  std::vector<std::pair<const char*, F>> fs = {
      {"neg", ops::neg}, {"exp", ops::exp}, {"tanh", ops::tanh}, {"erf", ops::erf},
      {"abs", ops::abs}, {"gelu", ops::gelu}, {"relu", ops::relu}};
  for (auto [name, f] : fs) {
    SCOPED_TRACE(name);
    Tensor x = leaf(rnd({3, 4}, 7));
    expect_gradcheck([f](const std::vector<Tensor>& in) { return f(in[0]); }, {x});
  }
  Tensor pos = leaf(rnd({3, 4}, 8, 0.5, 2.0));
  expect_gradcheck([](const std::vector<Tensor>& in) { return ops::log(in[0]); }, {pos});
  expect_gradcheck([](const std::vector<Tensor>& in) { return ops::sqrt(in[0]); }, {pos});
  expect_gradcheck([](const std::vector<Tensor>& in) { return ops::rsqrt(in[0]); }, {pos});
  expect_gradcheck([](const std::vector<Tensor>& in) { return ops::pow(in[0], 2.5); }, {pos});
  expect_gradcheck([](const std::vector<Tensor>& in) { return ops::clamp(in[0], -0.3, 0.4); }, {leaf(rnd({5}, 9))});
  expect_gradcheck([](const std::vector<Tensor>& in) { return ops::affine(in[0], -2.0, 0.5); }, {leaf(rnd({5}, 9))});
}

TEST(OpsElementwise, BinaryGradcheckWithBroadcastAndNonContiguous) {
  Tensor a = leaf(rnd({3, 4}, 1));
  Tensor b = leaf(rnd({4}, 2, 0.5, 1.5));
  Tensor at = leaf(rnd({4, 3}, 3).transpose(0, 1));  // a non-contiguous [3, 4] leaf
  ASSERT_FALSE(at.is_contiguous());
  for (int op = 0; op < 4; ++op) {
    SCOPED_TRACE(op);
    auto f = [op](const std::vector<Tensor>& in) {
      switch (op) {
        case 0: return in[0] + in[1];
        case 1: return in[0] - in[1];
        case 2: return in[0] * in[1];
        default: return in[0] / in[1];
      }
    };
    expect_gradcheck(f, {a, b});
    expect_gradcheck(f, {b, a});
  }
  // Non-contiguous inputs (gradcheck perturbs the elements through the view's strides).
  expect_gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[1]; }, {at, leaf(rnd({3, 1}, 4))});
  expect_gradcheck([](const std::vector<Tensor>& in) { return ops::gelu(in[0]) / in[1]; },
                   {at, leaf(rnd({1, 4}, 5, 0.5, 1.5))});
}

TEST(OpsElementwise, WhereRoutesGradients) {
  Tensor c = Tensor::from_vector<uint8_t>({1, 0, 1}, {3});
  Tensor a = leaf(rnd({2, 3}, 5)), b = leaf(rnd({3}, 6));
  expect_gradcheck([c](const std::vector<Tensor>& in) { return ops::where(c, in[0], in[1]); }, {a, b});
  Tensor y = ops::where(c, Tensor::full({3}, 1.0), Tensor::full({3}, 2.0));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 2, 1}));
}

TEST(OpsElementwise, GeluF32MatchesExactFormula) {
  // f32 GELU (vectorised libm erfc on the CPU) against the exact form in double, relative to the value
  // itself: erfc avoids the cancellation of 1 + erf for negative x.
  std::vector<float> xs;
  for (int i = -4000; i <= 4000; ++i) xs.push_back(i * 0.0025f);
  Tensor x = Tensor::from_vector(xs, {static_cast<int64_t>(xs.size())});
  auto y = ops::gelu(x).to_vector<float>();
  Tensor xd = set_requires_grad(x.to(DType::f64));
  Tensor xf = set_requires_grad(x.clone());
  backward(ops::sum(ops::gelu(xf)));
  auto g = grad(xf).to_vector<float>();
  for (size_t i = 0; i < xs.size(); ++i) {
    double v = xs[i], cdf = 0.5 * std::erfc(-v / std::sqrt(2.0));
    double exact = v * cdf, dexact = cdf + v * std::exp(-0.5 * v * v) / std::sqrt(2 * M_PI);
    ASSERT_NEAR(y[i], exact, 1e-5 * std::fabs(exact) + 1e-30) << "x=" << v;  // relative, even in the far tail
    ASSERT_NEAR(g[i], dexact, 5e-7 * std::max(1.0, std::fabs(v))) << "x=" << v;  // cdf + x pdf cancels near -0.75
  }
}
