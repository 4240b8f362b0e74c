// Top-k hits and probabilities (train/metrics.h), above all on non-finite logits (issue 17): a NaN row
// used to rank its label first, so a diverged model scored 100 % and became the best checkpoint.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "train/metrics.h"

namespace nat::train {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

Tensor labels(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_vector(v, {n});
}

TEST(Metrics, TopkHitsOnFiniteLogits) {
  // Row 0: label 2 is the largest. Row 1: label 0 is third of six. Row 2: a tie goes to the lower index.
  Tensor x = Tensor::from_vector(std::vector<float>{0, 1, 5, 2, 3, 4,  //
                                                    3, 5, 4, 0, 1, 2,  //
                                                    1, 1, 0, 0, 0, 0},
                                 {3, 6});
  TopK r = topk_hits(x, labels({2, 0, 1}));
  EXPECT_EQ(r.count, 3);
  EXPECT_EQ(r.top1, 1);  // row 2's label 1 ties with class 0, which ranks first
  EXPECT_EQ(r.top5, 3);
}

TEST(Metrics, NanLogitsAreNeverAHit) {
  // An all-NaN row (a model with NaN weights) is a miss at top-1 and top-5.
  Tensor all_nan = Tensor::full({4, 10}, kNaN);
  TopK r = topk_hits(all_nan, labels({0, 3, 7, 9}));
  EXPECT_EQ(r.top1, 0);
  EXPECT_EQ(r.top5, 0);
  EXPECT_EQ(r.count, 4);
  // The label's own logit NaN, the others finite: a miss.
  Tensor x = Tensor::from_vector(std::vector<float>{kNaN, 1, 2, 3, 4, 5, 6}, {1, 7});
  EXPECT_EQ(topk_hits(x, labels({0})).top5, 0);
  // A NaN elsewhere beats nothing: the label is still first.
  Tensor y = Tensor::from_vector(std::vector<float>{kNaN, kNaN, 2, 1, 0, kNaN}, {1, 6});
  TopK h = topk_hits(y, labels({2}));
  EXPECT_EQ(h.top1, 1);
  EXPECT_EQ(h.top5, 1);
}

TEST(Metrics, InfiniteLabelLogitIsAMiss) {
  Tensor x = Tensor::from_vector(std::vector<float>{kInf, 1, 2, -kInf, 0, 0}, {2, 3});
  EXPECT_EQ(topk_hits(x, labels({0, 0})).top1, 0);  // +inf: overflowed, not confident
  EXPECT_EQ(topk_hits(x, labels({0, 0})).top5, 0);  // row 1: -inf, a miss even among three classes
  // Another class at +inf beats a finite label.
  Tensor y = Tensor::from_vector(std::vector<float>{kInf, 3, 2}, {1, 3});
  EXPECT_EQ(topk_hits(y, labels({1})).top1, 0);
  EXPECT_EQ(topk_hits(y, labels({1})).top5, 1);
}

TEST(Metrics, TopkProbabilitiesRankNanLast) {
  Tensor x = Tensor::from_vector(std::vector<float>{1, kNaN, 3, 2, kNaN}, {1, 5});
  auto p = topk_probabilities(x, 5)[0];
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0].first, 2);
  EXPECT_EQ(p[1].first, 3);
  EXPECT_EQ(p[2].first, 0);
  EXPECT_EQ(p[3].first, 1);  // NaNs last, the lower index first
  EXPECT_EQ(p[4].first, 4);
  for (const auto& [c, prob] : p) EXPECT_TRUE(std::isnan(prob)) << "class " << c;  // as torch's softmax
  // Finite rows: the softmax, largest first.
  Tensor y = Tensor::from_vector(std::vector<float>{0, std::log(3.0f)}, {1, 2});
  auto q = topk_probabilities(y, 5)[0];
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].first, 1);
  EXPECT_NEAR(q[0].second, 0.75, 1e-6);
  EXPECT_NEAR(q[1].second, 0.25, 1e-6);
}

}  // namespace
}  // namespace nat::train
