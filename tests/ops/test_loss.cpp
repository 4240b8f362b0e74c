// cross_entropy (hard labels, label smoothing) and soft_target_cross_entropy: closed-form values,
// the fused kernels against -mean(sum(q * log_softmax)) composed from primitive ops (loss and
// gradient), float64 gradcheck incl. non-contiguous logits, target validation, shape errors.
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

Tensor rnd(const Shape& s, uint64_t seed, double lo = -3, double hi = 3) {
  return nat::testing::random_f64(s, seed, lo, hi);
}

Tensor composed_log_softmax(const Tensor& x) {
  Tensor shifted = x - ops::max(x, -1, /*keepdim=*/true);
  return shifted - ops::log(ops::sum(ops::exp(shifted), {-1}, /*keepdim=*/true));
}

// -mean_i sum_c q_ic * log_softmax(x)_ic from primitive ops.
Tensor composed_ce(const Tensor& x, const Tensor& q) { return -ops::mean(ops::sum(q * composed_log_softmax(x), {-1})); }

// The smoothed one-hot q = (1 - eps) * onehot(t) + eps / C, built on the host.
Tensor smoothed_onehot(const std::vector<int64_t>& t, int64_t c, double eps) {
  std::vector<double> q(t.size() * c, eps / static_cast<double>(c));
  for (size_t i = 0; i < t.size(); ++i) q[i * c + t[i]] += 1 - eps;
  return Tensor::from_vector(q, {static_cast<int64_t>(t.size()), c});
}

}  // namespace

TEST(OpsLoss, CrossEntropyClosedForm) {
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 0, 0, 0}, {2, 3});
  Tensor t = Tensor::from_vector<int64_t>({0, 2}, {2});
  const double lse0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)), lse1 = std::log(3.0);
  EXPECT_NEAR(ops::cross_entropy(x, t).item(), ((lse0 - 1) + lse1) / 2, 1e-15);
  // Smoothing 0.1: 0.9 * nll + 0.1 * mean_c(-log p_c); a uniform row is unaffected.
  const double smooth0 = 0.9 * (lse0 - 1) + 0.1 * (lse0 - 2);
  EXPECT_NEAR(ops::cross_entropy(x, t, 0.1).item(), (smooth0 + lse1) / 2, 1e-15);
  // Gradient of the mean: (softmax - q) / N.
  Tensor xl = leaf(x.clone());
  backward(ops::cross_entropy(xl, t));
  auto g = grad(xl).to_vector<double>();
  EXPECT_NEAR(g[0], (std::exp(1 - lse0) - 1) / 2, 1e-15);
  EXPECT_NEAR(g[2], std::exp(3 - lse0) / 2, 1e-15);
  EXPECT_NEAR(g[5], (1.0 / 3 - 1) / 2, 1e-15);
  EXPECT_EQ(ops::cross_entropy(x.to(DType::f32), t).dtype(), DType::f32);
  EXPECT_NEAR(ops::cross_entropy(x.to(DType::f32), t).item(), ((lse0 - 1) + lse1) / 2, 1e-6);
}

TEST(OpsLoss, CrossEntropyMatchesComposed) {
  const int64_t n = 9, c = 13;
  Tensor x0 = rnd({n, c}, 1);
  std::vector<int64_t> tv = {0, 12, 5, 5, 3, 7, 11, 1, 2};
  Tensor t = Tensor::from_vector(tv, {n});
  for (double eps : {0.0, 0.1}) {
    SCOPED_TRACE(eps);
    Tensor q = smoothed_onehot(tv, c, eps);
    Tensor a = leaf(x0.clone()), b = leaf(x0.clone());
    // (backward frees the thread's tape, so each graph is built and run in turn)
    Tensor la = ops::cross_entropy(a, t, eps);
    backward(la);
    Tensor lb = composed_ce(b, q);
    backward(lb);
    EXPECT_EQ(la.shape(), Shape{});
    EXPECT_NEAR(la.item(), lb.item(), 1e-14);
    EXPECT_LT(max_abs_diff(grad(a), grad(b)), 1e-15);
  }
}

TEST(OpsLoss, SoftTargetClosedFormAndComposed) {
  // Row 0: a 0.7/0.3 mixup of classes 0 and 2; row 1: a one-hot of class 1.
  Tensor x = Tensor::from_vector<double>({0.5, -1, 2, 1, 0, 0}, {2, 3});
  Tensor q = Tensor::from_vector<double>({0.7, 0, 0.3, 0, 1, 0}, {2, 3});
  const double lse0 = std::log(std::exp(0.5) + std::exp(-1.0) + std::exp(2.0));
  const double lse1 = std::log(std::exp(1.0) + 2);
  const double hand = (0.7 * (lse0 - 0.5) + 0.3 * (lse0 - 2) + (lse1 - 0)) / 2;
  EXPECT_NEAR(ops::soft_target_cross_entropy(x, q).item(), hand, 1e-15);
  // A one-hot soft target is the hard-label loss.
  Tensor onehot = Tensor::from_vector<double>({0, 0, 1, 1, 0, 0}, {2, 3});
  EXPECT_NEAR(ops::soft_target_cross_entropy(x, onehot).item(),
              ops::cross_entropy(x, Tensor::from_vector<int64_t>({2, 0}, {2})).item(), 1e-15);
  // Random probability targets against the composed oracle, loss and both gradients.
  Tensor x0 = rnd({6, 10}, 2);
  Tensor p0 = ops::softmax(rnd({6, 10}, 3));
  Tensor a = leaf(x0.clone()), b = leaf(x0.clone()), pa = leaf(p0.clone()), pb = leaf(p0.clone());
  Tensor la = ops::soft_target_cross_entropy(a, pa);
  backward(la);
  Tensor lb = composed_ce(b, pb);
  backward(lb);
  EXPECT_NEAR(la.item(), lb.item(), 1e-14);
  EXPECT_LT(max_abs_diff(grad(a), grad(b)), 1e-15);
  EXPECT_LT(max_abs_diff(grad(pa), grad(pb)), 1e-15);
}

TEST(OpsLoss, Gradcheck) {
  Tensor t = Tensor::from_vector<int64_t>({3, 0, 4, 1}, {4});
  Tensor xt = leaf(rnd({5, 4}, 4).transpose(0, 1));  // non-contiguous [4, 5] logits
  ASSERT_FALSE(xt.is_contiguous());
  for (double eps : {0.0, 0.1}) {
    SCOPED_TRACE(eps);
    auto f = [t, eps](const std::vector<Tensor>& in) { return ops::cross_entropy(in[0], t, eps); };
    expect_gradcheck(f, {leaf(rnd({4, 5}, 5))});
    expect_gradcheck(f, {xt});
  }
  auto soft = [](const std::vector<Tensor>& in) { return ops::soft_target_cross_entropy(in[0], in[1]); };
  expect_gradcheck(soft, {leaf(rnd({3, 6}, 6)), leaf(rnd({3, 6}, 7, 0, 1))});
  expect_gradcheck(soft, {xt, leaf(rnd({5, 4}, 8, 0, 1).transpose(0, 1))});
  expect_gradcheck(soft, {leaf(rnd({3, 6}, 9)), rnd({3, 6}, 10, 0, 1)});  // target without grad
}

TEST(OpsLoss, RecordsOneNode) {
  clear_tape();
  Tensor x = leaf(rnd({3, 4}, 11));
  Tensor loss = ops::cross_entropy(x, Tensor::from_vector<int64_t>({0, 1, 2}, {3}), 0.1);
  EXPECT_EQ(tape_size(), 1u);
  clear_tape();
}

TEST(OpsLoss, TargetOutOfRangeNamesIndexAndClasses) {
  Tensor x = Tensor::zeros({3, 4});
  NAT_EXPECT_ERROR(ops::cross_entropy(x, Tensor::from_vector<int64_t>({0, 4, 1}, {3})), "[cross_entropy]",
                   "target[1] = 4", "4 classes");
  NAT_EXPECT_ERROR(ops::cross_entropy(x, Tensor::from_vector<int64_t>({0, 1, -1}, {3})), "target[2] = -1");
}

TEST(OpsLoss, ShapeAndDtypeErrors) {
  Tensor x = Tensor::zeros({3, 4});
  NAT_EXPECT_ERROR(ops::cross_entropy(x, Tensor::zeros({3}, DType::f32)), "[cross_entropy]", "i64", "f32[3]");
  NAT_EXPECT_ERROR(ops::cross_entropy(x, Tensor::zeros({2}, DType::i64)), "[cross_entropy]", "f32[3, 4]", "i64[2]");
  NAT_EXPECT_ERROR(ops::cross_entropy(Tensor::zeros({3, 4, 1}), Tensor::zeros({3}, DType::i64)), "[3, 4, 1]");
  NAT_EXPECT_ERROR(ops::cross_entropy(x, Tensor::zeros({3}, DType::i64), 1.5), "label_smoothing");
  NAT_EXPECT_ERROR(ops::soft_target_cross_entropy(x, Tensor::zeros({3, 5})), "[soft_target_cross_entropy]",
                   "f32[3, 5]");
  NAT_EXPECT_ERROR(ops::soft_target_cross_entropy(x, Tensor::zeros({3, 4}, DType::f64)), "[soft_target_cross_entropy]",
                   "f64[3, 4]");
}
