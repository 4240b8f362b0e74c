// Transform geometry and statistics on synthetic images: RandomResizedCrop's scale and ratio
// distribution, the eval resize + center crop geometry, PIL-style antialiased resampling, flips,
// normalisation, random erasing's area and fill, colour jitter.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "support/expect_error.h"
#include "tests/data/fixtures.h"

#if NAT_WITH_OPENCV
#include "data/decode.h"
#include "data/pipeline.h"
#include "data/resize.h"
#include "data/transforms.h"
#endif

namespace nat::data {
namespace {

#if NAT_WITH_OPENCV

using nat::testing::gradient_rgb;

TEST(RandomResizedCrop, ScaleAndRatioFollowTheirDistributions) {
  const int W = 400, H = 400, n = 4000;  // square, so accepted aspect ratios stay symmetric in log
  SampleRng rng(1);
  double log_ratio_sum = 0, scale_sum = 0;
  int small = 0, fallback = 0;
  for (int i = 0; i < n; ++i) {
    CropBox c = random_resized_crop_box(W, H, {0.08, 1.0}, {3.0 / 4.0, 4.0 / 3.0}, rng);
    ASSERT_GE(c.x, 0);
    ASSERT_GE(c.y, 0);
    ASSERT_LE(c.x + c.w, W);
    ASSERT_LE(c.y + c.h, H);
    double s = static_cast<double>(c.w) * c.h / (W * H), r = static_cast<double>(c.w) / c.h;
    if (c.w == W && c.h == H) {
      ++fallback;
      continue;
    }
    EXPECT_GE(s, 0.08 * 0.97);
    EXPECT_LE(s, 1.0);
    EXPECT_GE(r, 0.75 * 0.97);
    EXPECT_LE(r, 4.0 / 3.0 * 1.03);
    scale_sum += s;
    log_ratio_sum += std::log(r);
    small += s < 0.3;
  }
  const int kept = n - fallback;
  // Large crops are rejected more often (they do not fit), so accepted scales lean small:
  // the mean accepted scale is well below U(0.08, 1)'s 0.54, and log-aspect stays centred.
  EXPECT_LT(scale_sum / kept, 0.54);
  EXPECT_GT(scale_sum / kept, 0.3);
  EXPECT_NEAR(log_ratio_sum / kept, 0.0, 0.02);
  EXPECT_GT(small, kept / 5);
  EXPECT_LT(fallback, n / 50);
}

TEST(RandomResizedCrop, FallbackIsTheCentralCropWithinTheRatioRange) {
  SampleRng rng(2);
  // A 1000x10 strip: no random box can fit, so the fallback clamps the ratio to 4/3.
  CropBox c = random_resized_crop_box(1000, 10, {0.08, 1.0}, {3.0 / 4.0, 4.0 / 3.0}, rng);
  EXPECT_EQ(c.h, 10);
  EXPECT_EQ(c.w, 13);
  EXPECT_EQ(c.x, (1000 - 13) / 2);
  CropBox d = random_resized_crop_box(64, 64, {1.0, 1.0}, {1.0, 1.0}, rng);  // scale 1, ratio 1: whole image
  EXPECT_EQ(d.w, 64);
  EXPECT_EQ(d.x, 0);
}

TEST(EvalTransform, ResizeShorterSideThenCenterCrop) {
  // 500x375 at 224 / 0.875: the shorter side becomes 256, the longer int(256 * 500 / 375) = 341;
  // center crop 224: left round(117 / 2) = 58 (half to even), top 16.
  Box b = eval_box(500, 375, 224, 0.875);
  const double sx = 500.0 / 341, sy = 375.0 / 256;
  EXPECT_NEAR(b.x, 58 * sx, 1e-9);
  EXPECT_NEAR(b.y, 16 * sy, 1e-9);
  EXPECT_NEAR(b.w, 224 * sx, 1e-9);
  EXPECT_NEAR(b.h, 224 * sy, 1e-9);
  Box p = eval_box(375, 500, 224, 0.875);  // portrait: the same with axes swapped
  EXPECT_NEAR(p.y, 58 * sx, 1e-9);
  Box s = eval_box(224, 224, 224, 1.0);
  EXPECT_DOUBLE_EQ(s.x, 0);
  EXPECT_DOUBLE_EQ(s.w, 224);
}

TEST(Resize, IdentityAndConstantImagesAreExact) {
  cv::Mat img = gradient_rgb(37, 29);
  for (Interp it : {Interp::bilinear, Interp::bicubic}) {
    cv::Mat out;
    resize_box(img, out, 37, 29, {0, 0, 37, 29}, it);
    EXPECT_EQ(cv::norm(out, img, cv::NORM_INF), 0.0) << interp_name(it);
    cv::Mat flat(50, 70, CV_8UC3, cv::Scalar(17, 130, 250));
    resize_box(flat, out, 23, 31, {3.5, 2.25, 60, 40}, it);
    EXPECT_EQ(cv::norm(out, cv::Mat(31, 23, CV_8UC3, cv::Scalar(17, 130, 250)), cv::NORM_INF), 0.0);
  }
}

TEST(Resize, DownscalingAntialiasesLikePil) {
  // A 1-px checkerboard shrunk 4x must become flat grey (box-like averaging); a non-antialiased
  // bilinear resize would alias it to black or white.
  cv::Mat cb(64, 64, CV_8UC3);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) cb.at<cv::Vec3b>(y, x) = ((x + y) % 2) ? cv::Vec3b(255, 255, 255) : cv::Vec3b(0, 0, 0);
  for (Interp it : {Interp::bilinear, Interp::bicubic}) {
    cv::Mat out;
    resize_box(cb, out, 16, 16, {0, 0, 64, 64}, it);
    double lo, hi;
    cv::minMaxLoc(out.reshape(1), &lo, &hi);
    EXPECT_GT(lo, 100) << interp_name(it);
    EXPECT_LT(hi, 155) << interp_name(it);
  }
}

TEST(Resize, MatchesAWholeResizeThenCrop) {
  // resize_box of a sub-box equals resizing the whole image and cropping: same taps per output pixel.
  cv::Mat img = gradient_rgb(90, 60);
  cv::Mat whole, part;
  resize_box(img, whole, 45, 30, {0, 0, 90, 60}, Interp::bicubic);
  resize_box(img, part, 20, 10, {20, 24, 40, 20}, Interp::bicubic);
  EXPECT_EQ(cv::norm(part, whole(cv::Rect(10, 12, 20, 10)), cv::NORM_INF), 0.0);
}

TEST(Resize, SourceRegionHoldsEveryPixelTheResizeReads) {
  // Resizing from just source_region(), with the box shifted by its origin, gives the same image:
  // what lets the pipeline decode only that region of a JPEG.
  cv::Mat img(120, 160, CV_8UC3);
  cv::RNG(1).fill(img, cv::RNG::UNIFORM, 0, 255);
  for (Interp it : {Interp::bilinear, Interp::bicubic})
    for (Box b : {Box{0, 0, 160, 120}, Box{13, 7, 61, 45}, Box{100, 80, 60, 40}, Box{2.5, 3.25, 20, 10}}) {
      cv::Mat want, got;
      resize_box(img, want, 24, 24, b, it);
      cv::Rect r = source_region(160, 120, b, 24, 24, it);
      ASSERT_EQ(r & cv::Rect(0, 0, 160, 120), r);
      resize_box(img(r), got, 24, 24, {b.x - r.x, b.y - r.y, b.w, b.h}, it);
      EXPECT_LE(cv::norm(got, want, cv::NORM_INF), 1.0) << interp_name(it) << " box " << b.x << "," << b.y;
    }
}

TEST(Resize, FlipMirrorsTheOutput) {
  cv::Mat img = gradient_rgb(40, 30);
  cv::Mat a, b;
  resize_box(img, a, 20, 15, {0, 0, 40, 30}, Interp::bilinear, false);
  resize_box(img, b, 20, 15, {0, 0, 40, 30}, Interp::bilinear, true);
  cv::flip(b, b, 1);
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0);
}

TEST(Normalize, MatchesToTensorThenNormalize) {
  Normalizer n({0.485, 0.456, 0.406}, {0.229, 0.224, 0.225});
  cv::Mat img(1, 2, CV_8UC3);
  img.at<cv::Vec3b>(0, 0) = cv::Vec3b(0, 128, 255);
  img.at<cv::Vec3b>(0, 1) = cv::Vec3b(255, 0, 10);
  float out[6];
  n.to_chw(img, out);
  EXPECT_FLOAT_EQ(out[0], (0.0f - 0.485f) / 0.229f);  // R of pixel 0
  EXPECT_FLOAT_EQ(out[1], (1.0f - 0.485f) / 0.229f);  // R of pixel 1 (CHW)
  EXPECT_FLOAT_EQ(out[2], (128.0f / 255.0f - 0.456f) / 0.224f);
  EXPECT_FLOAT_EQ(out[5], (10.0f / 255.0f - 0.406f) / 0.225f);
  EXPECT_EQ(n.denormalize(1, out[2]), 128);
}

TEST(RandomErasing, AreaAspectAndFillFollowTimm) {
  const int C = 3, H = 64, W = 64;
  EraseSpec spec;
  spec.prob = 1.0;
  std::vector<float> img(static_cast<size_t>(C * H * W));
  int erased = 0;
  double area_sum = 0, fill_sum = 0, fill_sq = 0;
  int64_t fill_n = 0;
  for (int i = 0; i < 500; ++i) {
    std::fill(img.begin(), img.end(), 100.0f);
    SampleRng rng(static_cast<uint64_t>(i));
    random_erase(img.data(), C, H, W, spec, rng);
    int64_t changed = 0;
    for (size_t k = 0; k < img.size(); ++k)
      if (img[k] != 100.0f) {
        ++changed;
        fill_sum += img[k];
        fill_sq += img[k] * img[k];
        ++fill_n;
      }
    if (changed) ++erased;
    area_sum += static_cast<double>(changed) / C / (H * W);
  }
  EXPECT_GT(erased, 490);
  EXPECT_NEAR(area_sum / 500, (0.02 + 1.0 / 3.0) / 2, 0.03);  // area ~ U(0.02, 1/3)
  EXPECT_NEAR(fill_sum / fill_n, 0.0, 0.02);                  // pixel mode: N(0, 1) per element
  EXPECT_NEAR(fill_sq / fill_n, 1.0, 0.03);

  spec.prob = 0.25;
  int hits = 0;
  for (int i = 0; i < 2000; ++i) {
    std::fill(img.begin(), img.end(), 100.0f);
    SampleRng rng(static_cast<uint64_t>(i) + 7777);
    random_erase(img.data(), C, H, W, spec, rng);
    hits += std::any_of(img.begin(), img.end(), [](float v) { return v != 100.0f; });
  }
  EXPECT_NEAR(hits, 500, 70);

  spec.prob = 1.0;
  spec.mode = "const";
  std::fill(img.begin(), img.end(), 100.0f);
  SampleRng rng(5);
  random_erase(img.data(), C, H, W, spec, rng);
  EXPECT_GT(std::count(img.begin(), img.end(), 0.0f), 0);
}

TEST(ColorJitter, ChangesColoursAndKeepsShape) {
  cv::Mat img = gradient_rgb(32, 32);
  int changed = 0;
  for (int i = 0; i < 20; ++i) {
    cv::Mat m = img.clone();
    SampleRng rng(static_cast<uint64_t>(i));
    color_jitter(m, 0.4, rng);
    ASSERT_EQ(m.size(), img.size());
    changed += cv::norm(m, img, cv::NORM_INF) > 0;
  }
  EXPECT_GE(changed, 19);
  cv::Mat same = img.clone();
  SampleRng rng(0);
  color_jitter(same, 0.0, rng);
  EXPECT_EQ(cv::norm(same, img, cv::NORM_INF), 0.0);
}

TEST(SamplePipeline, SameStreamSameSampleAndEvalIsDeterministic) {
  DataConfig cfg;
  cfg.img_size = 48;
  std::vector<uint8_t> jpg = nat::testing::encode(gradient_rgb(120, 90), ".jpg");
  SamplePipeline train(cfg, true), eval(cfg, false);
  std::vector<float> a(static_cast<size_t>(train.floats_per_sample())), b(a.size()), c(a.size());
  SampleRng r1(9), r2(9), r3(10);
  train.run(jpg.data(), jpg.size(), r1, a.data());
  train.run(jpg.data(), jpg.size(), r2, b.data());
  train.run(jpg.data(), jpg.size(), r3, c.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  SampleRng e1(1), e2(2);
  eval.run(jpg.data(), jpg.size(), e1, a.data());
  eval.run(jpg.data(), jpg.size(), e2, b.data());
  EXPECT_EQ(a, b);  // eval draws nothing
  EXPECT_NE(train.describe().find("RandAugment(n=2, m=9, mstd=0.5"), std::string::npos);
  EXPECT_NE(eval.describe().find("Resize(54"), std::string::npos);  // floor(48 / 0.875)
}

TEST(SamplePipeline, EvalOfALargeJpegUsesReducedDecodingFaithfully) {
  // 1200x900 -> shorter side 256 (a 3.5x shrink): decoded at 1/2; compare with the full-size decode.
  DataConfig cfg;
  std::vector<uint8_t> jpg = nat::testing::encode(gradient_rgb(1200, 900), ".jpg");
  SamplePipeline eval(cfg, false);
  std::vector<float> out(static_cast<size_t>(eval.floats_per_sample()));
  SampleRng rng(0);
  eval.run(jpg.data(), jpg.size(), rng, out.data());
  cv::Mat full = decode_rgb(jpg.data(), jpg.size(), 1), ref;
  Box b = eval_box(1200, 900, 224, 0.875);
  resize_box(full, ref, 224, 224, b, Interp::bicubic);
  std::vector<float> want(out.size());
  Normalizer({0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}).to_chw(ref, want.data());
  double diff = 0;
  for (size_t i = 0; i < out.size(); ++i) diff += std::fabs(out[i] - want[i]);
  EXPECT_LT(diff / static_cast<double>(out.size()), 0.03);  // < ~2 grey levels on average
}

#else
TEST(Transforms, NeedOpenCV) { GTEST_SKIP() << "built without OpenCV"; }
#endif

}  // namespace
}  // namespace nat::data
