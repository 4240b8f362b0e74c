// RandAugment rand-m9-mstd0.5-inc1: the op set, magnitude sampling and bounds, each level-to-argument
// range, and the PIL semantics of the ops on small synthetic images.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "tests/data/fixtures.h"

#if NAT_WITH_OPENCV
#include "data/image_ops.h"
#include "data/rand_augment.h"
#endif

namespace nat::data {
namespace {

#if NAT_WITH_OPENCV

using nat::testing::gradient_rgb;

const Rgb kFill = {124, 116, 104};  // round(255 * ImageNet mean)

RandAugment nat_recipe() { return RandAugment(parse_rand_augment("rand-m9-mstd0.5-inc1"), kFill, std::nullopt); }

TEST(RandAugment, IncreasingOpSetIsTimms) {
  std::vector<std::string> names;
  RandAugment ra = nat_recipe();
  for (AugOp op : ra.ops()) names.emplace_back(op_name(op));
  std::vector<std::string> want = {"AutoContrast",
                                   "Equalize",
                                   "Invert",
                                   "Rotate",
                                   "PosterizeIncreasing",
                                   "SolarizeIncreasing",
                                   "SolarizeAdd",
                                   "ColorIncreasing",
                                   "ContrastIncreasing",
                                   "BrightnessIncreasing",
                                   "SharpnessIncreasing",
                                   "ShearX",
                                   "ShearY",
                                   "TranslateXRel",
                                   "TranslateYRel"};
  EXPECT_EQ(names, want);
  EXPECT_EQ(rand_augment_ops(false).size(), 15u);
}

TEST(RandAugment, MagnitudeIsNormalAroundNineClippedToTen) {
  RandAugment ra = nat_recipe();
  SampleRng rng(3);
  double s = 0, s2 = 0;
  const int n = 20000;
  int at_max = 0;
  for (int i = 0; i < n; ++i) {
    double m = ra.sample_magnitude(rng);
    ASSERT_GE(m, 0.0);
    ASSERT_LE(m, 10.0);
    at_max += m == 10.0;
    s += m;
    s2 += m * m;
  }
  double mean = s / n, sd = std::sqrt(s2 / n - mean * mean);
  EXPECT_NEAR(mean, 9.0 - 0.0042, 0.02);  // N(9, 0.5) clipped at 10 loses a little mean
  EXPECT_NEAR(sd, 0.49, 0.02);
  EXPECT_NEAR(static_cast<double>(at_max) / n, 0.0228, 0.005);  // P(N(9, 0.5) > 10)
}

TEST(RandAugment, LevelArgumentsStayInTimmsRanges) {
  SampleRng rng(4);
  std::map<AugOp, std::pair<double, double>> seen;
  std::set<AugOp> negative;
  for (int i = 0; i < 600; ++i) {
    double m = i < 400 ? 10.0 * i / 399.0 : 10.0;  // then both signs at the top magnitude
    for (AugOp op : rand_augment_ops(true)) {
      double a = level_to_arg(op, m, rng);
      auto [it, fresh] = seen.try_emplace(op, a, a);
      it->second.first = std::min(it->second.first, a);
      it->second.second = std::max(it->second.second, a);
      if (a < 0) negative.insert(op);
    }
  }
  auto range = [&](AugOp op) { return seen.at(op); };
  EXPECT_NEAR(range(AugOp::Rotate).first, -30, 1e-9);
  EXPECT_NEAR(range(AugOp::Rotate).second, 30, 1e-9);
  EXPECT_NEAR(range(AugOp::ShearX).second, 0.3, 1e-9);
  EXPECT_NEAR(range(AugOp::ShearY).first, -0.3, 1e-9);
  EXPECT_NEAR(range(AugOp::TranslateXRel).second, 0.45, 1e-9);
  EXPECT_EQ(range(AugOp::PosterizeIncreasing), std::make_pair(0.0, 4.0));
  EXPECT_EQ(range(AugOp::SolarizeIncreasing), std::make_pair(0.0, 256.0));
  EXPECT_EQ(range(AugOp::SolarizeAdd), std::make_pair(0.0, 110.0));
  EXPECT_NEAR(range(AugOp::ContrastIncreasing).first, 0.1, 1e-9);
  EXPECT_NEAR(range(AugOp::ContrastIncreasing).second, 1.9, 1e-9);
  EXPECT_EQ(negative,
            (std::set<AugOp>{AugOp::Rotate, AugOp::ShearX, AugOp::ShearY, AugOp::TranslateXRel, AugOp::TranslateYRel}));
  // At magnitude 9 exactly (the recipe's mean): posterize keeps 4 - int(3.6) = 1 bit, solarize at 256 - 230.
  EXPECT_EQ(level_to_arg(AugOp::PosterizeIncreasing, 9, rng), 1);
  EXPECT_EQ(level_to_arg(AugOp::SolarizeIncreasing, 9, rng), 26);
  EXPECT_EQ(level_to_arg(AugOp::SolarizeAdd, 9, rng), 99);
  EXPECT_NEAR(std::fabs(level_to_arg(AugOp::Rotate, 9, rng)), 27.0, 1e-9);
  double f = level_to_arg(AugOp::BrightnessIncreasing, 9, rng);
  EXPECT_TRUE(std::fabs(f - 1.81) < 1e-9 || std::fabs(f - 0.19) < 1e-9) << f;
  // The non-increasing variants: severity falls with magnitude.
  EXPECT_EQ(level_to_arg(AugOp::Posterize, 9, rng), 3);
  EXPECT_EQ(level_to_arg(AugOp::Solarize, 9, rng), 230);
  EXPECT_NEAR(level_to_arg(AugOp::Color, 9, rng), 1.72, 1e-9);
}

TEST(RandAugment, AppliesAboutTwoHalvesOfOpsPerImage) {
  // n = 2 draws with p = 0.5 each: unchanged with probability ~1/4 (plus ops that are no-ops here).
  RandAugment ra = nat_recipe();
  cv::Mat img(32, 32, CV_8UC3);
  cv::RNG(7).fill(img, cv::RNG::UNIFORM, 30, 220);  // noise: every op changes it at magnitude ~9
  int unchanged = 0;
  for (int i = 0; i < 400; ++i) {
    cv::Mat m = img.clone();
    SampleRng rng(static_cast<uint64_t>(i));
    ra(m, rng);
    ASSERT_EQ(m.size(), img.size());
    ASSERT_EQ(m.type(), CV_8UC3);
    unchanged += cv::norm(m, img, cv::NORM_INF) == 0;
  }
  EXPECT_GT(unchanged, 70);
  EXPECT_LT(unchanged, 135);
}

TEST(ImageOps, PointOpsFollowPil) {
  cv::Mat img(1, 4, CV_8UC3);
  const uint8_t v[4] = {0, 100, 128, 255};
  for (int i = 0; i < 4; ++i) img.at<cv::Vec3b>(0, i) = cv::Vec3b(v[i], v[i], v[i]);
  auto px = [](const cv::Mat& m, int i) { return static_cast<int>(m.at<cv::Vec3b>(0, i)[0]); };
  cv::Mat a = img.clone();
  invert(a);
  EXPECT_EQ(px(a, 1), 155);
  a = img.clone();
  posterize(a, 1);  // keep the top bit
  EXPECT_EQ(px(a, 1), 0);
  EXPECT_EQ(px(a, 2), 128);
  EXPECT_EQ(px(a, 3), 128);
  a = img.clone();
  posterize(a, 0);
  EXPECT_EQ(px(a, 3), 0);
  a = img.clone();
  solarize(a, 128);  // v >= 128 -> 255 - v
  EXPECT_EQ(px(a, 1), 100);
  EXPECT_EQ(px(a, 2), 127);
  EXPECT_EQ(px(a, 3), 0);
  a = img.clone();
  solarize(a, 256);  // magnitude 0 of SolarizeIncreasing: identity
  EXPECT_EQ(cv::norm(a, img, cv::NORM_INF), 0.0);
  a = img.clone();
  solarize_add(a, 99);
  EXPECT_EQ(px(a, 0), 99);
  EXPECT_EQ(px(a, 1), 199);
  EXPECT_EQ(px(a, 2), 128);  // >= threshold 128: unchanged
  a = img.clone();
  enhance_brightness(a, 0.5);
  EXPECT_EQ(px(a, 3), 127);  // 255 * 0.5 truncated
  a = img.clone();
  enhance_brightness(a, 1.9);
  EXPECT_NEAR(px(a, 1), 190, 1);  // PIL blends in float: 1.9f * 100 truncates to 189
  EXPECT_EQ(px(a, 2), 243);
  EXPECT_EQ(px(a, 3), 255);  // clipped
}

TEST(ImageOps, AutocontrastAndEqualizeStretchTheHistogram) {
  cv::Mat img(8, 8, CV_8UC3);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) img.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(100 + x), 50, 200);
  cv::Mat a = img.clone();
  auto_contrast(a);
  EXPECT_EQ(a.at<cv::Vec3b>(0, 0)[0], 0);
  EXPECT_EQ(a.at<cv::Vec3b>(0, 7)[0], 255);
  EXPECT_EQ(a.at<cv::Vec3b>(0, 3)[0], 109);  // int(3 * 255 / 7)
  EXPECT_EQ(a.at<cv::Vec3b>(0, 0)[1], 50);   // one level only: unchanged
  cv::Mat e = img.clone();
  equalize(e);
  // 8 equally filled levels: step = (64 - 8) / 255 = 0 -> PIL leaves the channel unchanged.
  EXPECT_EQ(cv::norm(e, img, cv::NORM_INF), 0.0);
  cv::Mat big(64, 64, CV_8UC3, cv::Scalar(10, 10, 10));
  big(cv::Rect(0, 0, 64, 32)).setTo(cv::Scalar(20, 20, 20));
  equalize(big);  // two levels of 2048 pixels: step = 2048 // 255 = 8; lut[10] = 4 // 8 = 0,
                  // lut[20] = 2052 // 8 = 256, clipped to 255 as PIL's point() does
  EXPECT_EQ(big.at<cv::Vec3b>(40, 0)[0], 0);
  EXPECT_EQ(big.at<cv::Vec3b>(0, 0)[0], 255);
}

TEST(ImageOps, ContrastAndColorBlendTowardsGrey) {
  cv::Mat img = gradient_rgb(16, 16);
  cv::Mat g = img.clone();
  enhance_color(g, 0.0);  // greyscale: PIL's L conversion in all channels
  for (int x : {0, 7, 15}) {
    cv::Vec3b p = g.at<cv::Vec3b>(5, x), q = img.at<cv::Vec3b>(5, x);
    EXPECT_EQ(p[0], p[1]);
    EXPECT_EQ(p[1], p[2]);
    EXPECT_EQ(p[0], luma(&q[0]));
  }
  cv::Mat c = img.clone();
  enhance_contrast(c, 0.0);  // a flat image at the mean luma
  double lo, hi;
  cv::minMaxLoc(c.reshape(1), &lo, &hi);
  EXPECT_EQ(lo, hi);
  cv::Mat same = img.clone();
  enhance_sharpness(same, 1.0);
  enhance_contrast(same, 1.0);
  enhance_color(same, 1.0);
  EXPECT_EQ(cv::norm(same, img, cv::NORM_INF), 0.0);
}

TEST(ImageOps, GeometryMovesContentAndFillsWithTheMean) {
  cv::Mat img(20, 20, CV_8UC3, cv::Scalar(0, 0, 0));
  img.at<cv::Vec3b>(10, 5) = cv::Vec3b(255, 255, 255);
  cv::Mat t = img.clone();
  translate_x(t, 3, Interp::bilinear, kFill);  // PIL: output x takes input x + 3, content moves left
  EXPECT_EQ(t.at<cv::Vec3b>(10, 2), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(t.at<cv::Vec3b>(10, 19), cv::Vec3b(124, 116, 104));  // uncovered: fill
  EXPECT_EQ(t.at<cv::Vec3b>(10, 16), cv::Vec3b(0, 0, 0));
  cv::Mat s = img.clone();
  shear_x(s, 0.3, Interp::bilinear, kFill);  // x_in = x + 0.3 y: the top row is unchanged
  EXPECT_EQ(s.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(s.at<cv::Vec3b>(19, 19), cv::Vec3b(124, 116, 104));
  cv::Mat r = img.clone();
  rotate(r, 90, Interp::bilinear, kFill);  // counter-clockwise about the centre (10, 10)
  EXPECT_EQ(r.at<cv::Vec3b>(14, 10), cv::Vec3b(255, 255, 255));
  cv::Mat z = img.clone();
  rotate(z, 0, Interp::bicubic, kFill);
  EXPECT_EQ(cv::norm(z, img, cv::NORM_INF), 0.0);
}

#else
TEST(RandAugment, NeedsOpenCV) { GTEST_SKIP() << "built without OpenCV"; }
#endif

}  // namespace
}  // namespace nat::data
