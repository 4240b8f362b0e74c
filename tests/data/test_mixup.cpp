// Mixup / CutMix: soft targets sum to 1 with the smoothing folded in, the pixels are the stated convex
// combination, the cutmix box area matches the corrected lambda, and the batch/pair/elem modes.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <set>

#include "data/mixup.h"
#include "support/expect_error.h"

namespace nat::data {
namespace {

constexpr int64_t B = 8, C = 3, H = 16, W = 20, K = 5;

struct Data {
  std::vector<float> x;
  std::vector<int64_t> y;
  std::vector<float> t;
  Data() : x(static_cast<size_t>(B * C * H * W)), y(static_cast<size_t>(B)), t(static_cast<size_t>(B * K), -1.0f) {
    // Image i is the constant i (so every mixed pixel says which images it came from).
    for (int64_t i = 0; i < B; ++i) {
      std::fill(x.begin() + i * C * H * W, x.begin() + (i + 1) * C * H * W, static_cast<float>(i));
      y[static_cast<size_t>(i)] = i % K;
    }
  }
  float px(int64_t i, int64_t c, int64_t yy, int64_t xx) const {
    return x[static_cast<size_t>(((i * C + c) * H + yy) * W + xx)];
  }
};

DataConfig config(double mixup, double cutmix, const std::string& mode = "batch") {
  DataConfig c;
  c.mixup = mixup;
  c.cutmix = cutmix;
  c.mixup_mode = mode;
  return c;
}

void expect_rows_sum_to_one(const Data& d) {
  for (int64_t i = 0; i < B; ++i) {
    double s = 0;
    for (int64_t k = 0; k < K; ++k) {
      float v = d.t[static_cast<size_t>(i * K + k)];
      EXPECT_GE(v, 0.1f / K - 1e-6f);
      s += v;
    }
    EXPECT_NEAR(s, 1.0, 1e-5) << "row " << i;
  }
}

TEST(Mixup, TargetsSumToOneAndCarryTheSmoothing) {
  for (const char* mode : {"batch", "pair", "elem"}) {
    for (int seed = 0; seed < 20; ++seed) {
      Data d;
      Mixup m(config(0.8, 1.0, mode), K);
      SampleRng rng(static_cast<uint64_t>(seed));
      MixResult r = m.apply(d.x.data(), B, C, H, W, d.y.data(), d.t.data(), rng);
      expect_rows_sum_to_one(d);
      for (int64_t i = 0; i < B; ++i) {
        // Target of i: lam on its label, 1 - lam on its mirror's, each scaled by 0.9, plus 0.02 everywhere.
        double lam = r.lam[static_cast<size_t>(i)];
        std::vector<double> want(K, 0.1 / K);
        want[static_cast<size_t>(d.y[static_cast<size_t>(i)])] += 0.9 * lam;
        want[static_cast<size_t>(d.y[static_cast<size_t>(B - 1 - i)])] += 0.9 * (1 - lam);
        for (int64_t k = 0; k < K; ++k)
          EXPECT_NEAR(d.t[static_cast<size_t>(i * K + k)], want[static_cast<size_t>(k)], 1e-5);
      }
    }
  }
}

TEST(Mixup, MixupPixelsAreTheConvexCombinationWithTheMirror) {
  Data d;
  Mixup m(config(0.8, 0.0), K);
  SampleRng rng(11);
  MixResult r = m.apply(d.x.data(), B, C, H, W, d.y.data(), d.t.data(), rng);
  const double lam = r.lam[0];
  EXPECT_GT(lam, 0.0);
  EXPECT_LT(lam, 1.0);
  for (int64_t i = 0; i < B; ++i) {
    EXPECT_EQ(r.lam[static_cast<size_t>(i)], r.lam[0]);  // batch mode: one lambda
    EXPECT_FALSE(r.cutmix[static_cast<size_t>(i)]);
    double want = lam * i + (1 - lam) * (B - 1 - i);
    EXPECT_NEAR(d.px(i, 2, 7, 9), want, 1e-5);
  }
}

TEST(Mixup, CutmixAreaMatchesLambda) {
  for (int seed = 0; seed < 50; ++seed) {
    Data d;
    Mixup m(config(0.0, 1.0), K);
    SampleRng rng(static_cast<uint64_t>(seed));
    MixResult r = m.apply(d.x.data(), B, C, H, W, d.y.data(), d.t.data(), rng);
    for (int64_t i = 0; i < B; ++i) {
      int64_t pasted = 0;
      for (int64_t c = 0; c < C; ++c)
        for (int64_t yy = 0; yy < H; ++yy)
          for (int64_t xx = 0; xx < W; ++xx) {
            float v = d.px(i, c, yy, xx);
            ASSERT_TRUE(v == static_cast<float>(i) || v == static_cast<float>(B - 1 - i));
            pasted += v != static_cast<float>(i);
          }
      double area = static_cast<double>(pasted) / (C * H * W);
      EXPECT_NEAR(1.0 - area, r.lam[static_cast<size_t>(i)], 1e-6) << "seed " << seed << " sample " << i;
      auto [y0, y1, x0, x1] = r.box[static_cast<size_t>(i)];
      EXPECT_NEAR(static_cast<double>((y1 - y0) * (x1 - x0)) / (H * W), area, 1e-9);
    }
  }
}

TEST(Mixup, SwitchProbabilityAndLambdaDistribution) {
  Mixup m(config(0.8, 1.0), K);
  SampleRng rng(5);
  int cut = 0;
  double lam_mix = 0, lam_cut = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    auto [lam, c] = m.draw(rng);
    ASSERT_GE(lam, 0.0);
    ASSERT_LE(lam, 1.0);
    (c ? lam_cut : lam_mix) += lam;
    cut += c;
  }
  EXPECT_NEAR(static_cast<double>(cut) / n, 0.5, 0.015);
  EXPECT_NEAR(lam_mix / (n - cut), 0.5, 0.01);  // Beta(a, a) is symmetric
  EXPECT_NEAR(lam_cut / cut, 0.5, 0.01);

  DataConfig half = config(0.8, 1.0);
  half.mixup_prob = 0.3;
  Mixup p(half, K);
  int mixed = 0;
  for (int i = 0; i < n; ++i) mixed += p.draw(rng).first != 1.0;
  EXPECT_NEAR(static_cast<double>(mixed) / n, 0.3, 0.015);
}

TEST(Mixup, ElemModeMixesEachSampleWithItsOwnLambda) {
  Data d;
  Mixup m(config(0.8, 0.0, "elem"), K);
  SampleRng rng(3);
  MixResult r = m.apply(d.x.data(), B, C, H, W, d.y.data(), d.t.data(), rng);
  std::set<float> lams(r.lam.begin(), r.lam.end());
  EXPECT_GT(lams.size(), 4u);
  for (int64_t i = 0; i < B; ++i) {
    double lam = r.lam[static_cast<size_t>(i)];
    EXPECT_NEAR(d.px(i, 0, 0, 0), lam * i + (1 - lam) * (B - 1 - i), 1e-5);  // from the *original* mirror
  }
}

TEST(Mixup, PairModeSharesLambdaWithinAPair) {
  Data d;
  Mixup m(config(0.8, 1.0, "pair"), K);
  SampleRng rng(8);
  MixResult r = m.apply(d.x.data(), B, C, H, W, d.y.data(), d.t.data(), rng);
  for (int64_t i = 0; i < B / 2; ++i) EXPECT_EQ(r.lam[static_cast<size_t>(i)], r.lam[static_cast<size_t>(B - 1 - i)]);
}

TEST(Mixup, DisabledGivesSmoothedOneHot) {
  Data d;
  std::vector<float> before = d.x;
  Mixup m(config(0.8, 1.0), K);
  SampleRng rng(1);
  m.apply(d.x.data(), B, C, H, W, d.y.data(), d.t.data(), rng, /*enabled=*/false);
  EXPECT_EQ(d.x, before);
  EXPECT_NEAR(d.t[static_cast<size_t>(d.y[0])], 0.9 + 0.1 / K, 1e-6);
  EXPECT_NEAR(d.t[static_cast<size_t>((d.y[0] + 1) % K)], 0.1 / K, 1e-6);
}

TEST(Mixup, CutmixMinmaxBoxesStayWithinTheRatios) {
  DataConfig c = config(0.0, 0.0);
  c.cutmix_minmax = std::array<double, 2>{0.25, 0.75};
  Mixup m(c, K);
  SampleRng rng(2);
  for (int i = 0; i < 200; ++i) {
    double lam = 0.5;
    auto [y0, y1, x0, x1] = m.cutmix_box(H, W, lam, rng);
    EXPECT_GE(y1 - y0, static_cast<int>(H * 0.25));
    EXPECT_LT(y1 - y0, static_cast<int>(H * 0.75));
    EXPECT_GE(x0, 0);
    EXPECT_LE(x1, W);
    EXPECT_NEAR(lam, 1.0 - static_cast<double>((y1 - y0) * (x1 - x0)) / (H * W), 1e-12);
  }
}

TEST(Mixup, RejectsOddBatchesAndBadLabels) {
  Data d;
  Mixup m(config(0.8, 1.0), K);
  SampleRng rng(0);
  NAT_EXPECT_ERROR(m.apply(d.x.data(), 7, C, H, W, d.y.data(), d.t.data(), rng), "even", "7");
  d.y[3] = K;
  NAT_EXPECT_ERROR(m.apply(d.x.data(), B, C, H, W, d.y.data(), d.t.data(), rng), "label 5 out of range");
}

}  // namespace
}  // namespace nat::data
