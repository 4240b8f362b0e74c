// Decoding the odd files ImageNet holds (found in the ImageNet training set), all generated here: a PNG named .JPEG,
// CMYK and YCCK JPEGs (written with libjpeg, since OpenCV cannot encode them), grayscale JPEG and PNG,
// RGBA and 16-bit PNGs; and the files that must fail: truncated or corrupt JPEGs, text, empty files,
// headers over the pixel limit (decompression bombs). tests/data/test_decode_fuzz.cpp mutates them all.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "data/image_folder.h"
#include "data/image_info.h"
#include "support/expect_error.h"
#include "tests/data/fixtures.h"

#if NAT_WITH_OPENCV
#include "data/decode.h"
#include "data/pipeline.h"
#endif

namespace nat::data {
namespace {

#if NAT_WITH_OPENCV

using nat::testing::encode;
using nat::testing::gradient_rgb;

double mean_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  EXPECT_EQ(a.size(), b.size());
  EXPECT_EQ(a.type(), b.type());
  cv::Mat d;
  cv::absdiff(a, b, d);
  cv::Scalar s = cv::mean(d);
  return (s[0] + s[1] + s[2]) / 3.0;
}

cv::Mat decode(const std::vector<uint8_t>& bytes, int reduce = 1) {
  return decode_rgb(bytes.data(), bytes.size(), reduce);
}

TEST(Decode, RgbJpegAndPngRoundTrip) {
  cv::Mat img = gradient_rgb(64, 48, 200);
  cv::Mat png = decode(encode(img, ".png"));
  EXPECT_EQ(mean_abs_diff(png, img), 0.0);  // lossless, and RGB order kept
  cv::Mat jpg = decode(encode(img, ".jpg"));
  EXPECT_LT(mean_abs_diff(jpg, img), 2.5);
  EXPECT_NEAR(jpg.at<cv::Vec3b>(10, 63)[0], 255, 8);  // red ramp ends at the right edge
  EXPECT_NEAR(jpg.at<cv::Vec3b>(10, 63)[2], 200, 8);  // blue channel is the tag, not swapped with red
}

TEST(Decode, PngNamedJpegIsSniffedByMagicBytes) {
  nat::testing::TempDir d;
  cv::Mat img = gradient_rgb(40, 30);
  nat::testing::write_bytes(d / "n02105855_2933.JPEG", encode(img, ".png"));
  std::vector<uint8_t> bytes = read_file_bytes(d / "n02105855_2933.JPEG");
  EXPECT_EQ(probe_image(bytes.data(), bytes.size()).format, ImageFormat::png);
  EXPECT_EQ(mean_abs_diff(decode(bytes), img), 0.0);
}

TEST(Decode, GrayscaleBecomesThreeEqualChannels) {
  cv::Mat gray(30, 40, CV_8UC1);
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 40; ++x) gray.at<uint8_t>(y, x) = static_cast<uint8_t>(x * 6);
  for (const char* ext : {".png", ".jpg"}) {
    std::vector<uint8_t> bytes = encode(gray, ext);
    ImageInfo info = probe_image(bytes.data(), bytes.size());
    EXPECT_EQ(info.channels, 1) << ext;
    cv::Mat rgb = decode(bytes);
    ASSERT_EQ(rgb.type(), CV_8UC3);
    for (int x : {0, 20, 39}) {
      cv::Vec3b p = rgb.at<cv::Vec3b>(15, x);
      EXPECT_EQ(p[0], p[1]);
      EXPECT_EQ(p[1], p[2]);
      EXPECT_NEAR(p[0], x * 6, 4) << ext;
    }
  }
}

TEST(Decode, RgbaPngDropsAlpha) {
  cv::Mat rgb = gradient_rgb(32, 24);
  cv::Mat rgba;
  cv::cvtColor(rgb, rgba, cv::COLOR_RGB2RGBA);
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 32; ++x) rgba.at<cv::Vec4b>(y, x)[3] = static_cast<uint8_t>(x * 8);  // varying alpha
  std::vector<uint8_t> bytes = encode(rgba, ".png");
  EXPECT_EQ(probe_image(bytes.data(), bytes.size()).channels, 4);
  EXPECT_EQ(mean_abs_diff(decode(bytes), rgb), 0.0);  // like PIL's convert('RGB'): no compositing
}

TEST(Decode, SixteenBitPngBecomesEightBit) {
  cv::Mat rgb = gradient_rgb(32, 24);
  cv::Mat wide;
  rgb.convertTo(wide, CV_16UC3, 257.0);  // v -> v * 257: the 8-bit value is the high byte
  std::vector<uint8_t> bytes = encode(wide, ".png");
  ImageInfo info = probe_image(bytes.data(), bytes.size());
  EXPECT_EQ(info.bit_depth, 16);
  EXPECT_EQ(info.width, 32);
  EXPECT_EQ(info.height, 24);
  EXPECT_EQ(mean_abs_diff(decode(bytes), rgb), 0.0);
}

#if NAT_TEST_WITH_LIBJPEG
using nat::testing::cmyk_jpeg;

TEST(Decode, CmykAndYcckJpegsBecomeRgb) {
  cv::Mat rgb = gradient_rgb(48, 40, 90);
  for (bool ycck : {false, true}) {
    std::vector<uint8_t> bytes = cmyk_jpeg(rgb, ycck);
    ImageInfo info = probe_image(bytes.data(), bytes.size());
    EXPECT_EQ(info.format, ImageFormat::jpeg);
    EXPECT_EQ(info.channels, 4);
    cv::Mat out = decode(bytes);
    ASSERT_EQ(out.type(), CV_8UC3);
    EXPECT_LT(mean_abs_diff(out, rgb), 4.0) << (ycck ? "YCCK" : "CMYK");
    EXPECT_EQ(decode(bytes, 2).cols, 24);  // reduced decoding works on them too
  }
}
#else
TEST(Decode, CmykAndYcckJpegsBecomeRgb) { GTEST_SKIP() << "libjpeg headers not found: cannot write a CMYK JPEG"; }
#endif

TEST(Decode, ReducedJpegDecoding) {
  cv::Mat img = gradient_rgb(400, 300);
  std::vector<uint8_t> bytes = encode(img, ".jpg");
  EXPECT_EQ(decode(bytes, 1).size(), cv::Size(400, 300));
  EXPECT_EQ(decode(bytes, 2).size(), cv::Size(200, 150));
  EXPECT_EQ(decode(bytes, 4).size(), cv::Size(100, 75));
  EXPECT_EQ(decode(bytes, 8).size(), cv::Size(50, 38));  // libjpeg rounds up
  cv::Mat half;
  cv::resize(img, half, cv::Size(200, 150), 0, 0, cv::INTER_AREA);
  EXPECT_LT(mean_abs_diff(decode(bytes, 2), half), 3.0);
  EXPECT_EQ(jpeg_reduction(400, 300, 224, 224), 1);
  EXPECT_EQ(jpeg_reduction(1000, 460, 224, 224), 2);
  EXPECT_EQ(jpeg_reduction(1800, 1800, 224, 224), 8);
  EXPECT_EQ(jpeg_reduction(1800, 900, 224, 224), 4);
}

TEST(Decode, RegionDecodingMatchesTheFullDecode) {
  cv::Mat img = gradient_rgb(301, 203);
  cv::RNG(3).fill(img(cv::Rect(40, 30, 200, 150)), cv::RNG::UNIFORM, 0, 255);  // detail for the DCT
  std::vector<uint8_t> bytes = encode(img, ".jpg", 90);
  for (int reduce : {1, 2}) {
    cv::Mat full = decode(bytes, reduce);
    for (cv::Rect want : {cv::Rect(0, 0, 50, 40), cv::Rect(37, 21, 101, 77),
                          cv::Rect(full.cols - 33, full.rows - 17, 33, 17), cv::Rect(5, 60, full.cols - 5, 3)}) {
      want &= cv::Rect(0, 0, full.cols, full.rows);
      DecodedRegion r = decode_rgb_region(bytes.data(), bytes.size(), reduce, want);
      EXPECT_EQ(r.width, full.cols);
      EXPECT_EQ(r.height, full.rows);
      EXPECT_EQ(r.reduce, reduce);
      cv::Rect got(r.x0, r.y0, r.rgb.cols, r.rgb.rows);
      ASSERT_EQ(got & want, want) << "region " << got << " does not cover " << want;
      ASSERT_EQ(got & cv::Rect(0, 0, full.cols, full.rows), got);
      EXPECT_EQ(cv::norm(r.rgb, full(got), cv::NORM_INF), 0.0) << "reduce " << reduce << " want " << want;
    }
  }
}

TEST(Decode, BadFilesThrowDecodeErrorWithAReason) {
  std::vector<uint8_t> jpg = encode(gradient_rgb(64, 64), ".jpg");
  std::vector<uint8_t> truncated(jpg.begin(), jpg.begin() + static_cast<std::ptrdiff_t>(jpg.size() * 2 / 3));
  NAT_EXPECT_ERROR(decode(truncated), "truncated");
  std::vector<uint8_t> header_only(jpg.begin(), jpg.begin() + 20);
  NAT_EXPECT_ERROR(decode(header_only), "JPEG");
  std::vector<uint8_t> garbage = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 2, 3};
  garbage.resize(400, 0x5A);
  garbage.push_back(0xFF);
  garbage.push_back(0xD9);
  NAT_EXPECT_ERROR(decode(garbage), "JPEG");
  std::vector<uint8_t> png = encode(gradient_rgb(64, 64), ".png");
  std::vector<uint8_t> cut_png(png.begin(), png.begin() + static_cast<std::ptrdiff_t>(png.size() / 2));
  NAT_EXPECT_ERROR(decode(cut_png), "PNG");
  std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o'};
  NAT_EXPECT_ERROR(decode(text), "unknown format", "68 65 6c 6c");
  NAT_EXPECT_ERROR(decode({}), "empty");
  EXPECT_THROW(decode(text), DecodeError);  // the loader relies on the type, not just the message
  EXPECT_THROW(decode(truncated), DecodeError);
}

// Issue 17, bug 5: a 900-byte JPEG claiming 65500 x 65500 pixels made the region decoder allocate 13 GB,
// and a PNG "bomb" of 16000 x 16000 decoded at 1.7 GB. The header is now checked first.
TEST(Decode, HeaderBombsAreRefusedBeforeDecoding) {
  std::vector<uint8_t> jpg = nat::testing::with_jpeg_size(encode(gradient_rgb(16, 16), ".jpg"), 65500, 65500);
  EXPECT_LT(jpg.size(), 1200u);
  for (int reduce : {1, 8})
    NAT_EXPECT_ERROR(decode(jpg, reduce), "65500 x 65500 = 4290250000 pixels", "max_image_pixels = 89478485");
  std::vector<uint8_t> png = nat::testing::with_png_size(encode(gradient_rgb(16, 16), ".png"), 16000, 16000);
  NAT_EXPECT_ERROR(decode(png), "PNG image of 16000 x 16000", "exceeds max_image_pixels");
  EXPECT_THROW(decode(png), DecodeError);  // skipped and counted by the loader, like any bad file
  // The limit is a parameter: 0 is no limit; a tight one refuses an ordinary image.
  std::vector<uint8_t> small = encode(gradient_rgb(64, 48), ".png");
  NAT_EXPECT_ERROR(decode_rgb(small.data(), small.size(), 1, 3071), "64 x 48 = 3072 pixels", "= 3071");
  EXPECT_EQ(decode_rgb(small.data(), small.size(), 1, 3072).cols, 64);
  EXPECT_EQ(decode_rgb(small.data(), small.size(), 1, 0).cols, 64);
  DataConfig cfg;
  cfg.img_size = 16;
  cfg.max_image_pixels = 1000;
  SamplePipeline eval(cfg, false);
  std::vector<float> out(static_cast<size_t>(eval.floats_per_sample()));
  SampleRng rng(0);
  NAT_EXPECT_ERROR(eval.run(small.data(), small.size(), rng, out.data()), "3072 pixels", "max_image_pixels = 1000");
}

// Issue 17, bug 5: a JPEG cut short and closed with an end marker "decoded" with grey rows (libjpeg's
// premature-end warning went unseen); now it is refused as truncated, like a file without an end marker.
TEST(Decode, TruncatedScanDataIsRefusedEvenWithAnEndMarker) {
  cv::Mat img = gradient_rgb(96, 80);
  cv::RNG(5).fill(img, cv::RNG::UNIFORM, 0, 255);  // noise: plenty of scan data to cut
  std::vector<uint8_t> cut = nat::testing::with_scan_cut_short(encode(img, ".jpg"));
  NAT_EXPECT_ERROR(decode(cut), "truncated JPEG", "96 x 80", "premature end");
  EXPECT_THROW(decode(cut), DecodeError);
}

// The size of every format comes from its header, so each one is checked against the limit.
TEST(Decode, EveryFormatsSizeComesFromItsHeader) {
  cv::Mat img = gradient_rgb(37, 21);
  for (const char* ext : {".bmp", ".tiff", ".webp", ".png", ".jpg"}) {
    if (!cv::haveImageWriter(ext)) {
      ADD_FAILURE() << "this OpenCV cannot write " << ext;
      continue;
    }
    std::vector<uint8_t> bytes = encode(img, ext);
    ImageInfo info = probe_image(bytes.data(), bytes.size());
    EXPECT_EQ(info.width, 37) << ext;
    EXPECT_EQ(info.height, 21) << ext;
    EXPECT_EQ(decode(bytes).size(), cv::Size(37, 21)) << ext;
    NAT_EXPECT_ERROR(decode_rgb(bytes.data(), bytes.size(), 1, 776), "37 x 21 = 777 pixels");
  }
  std::vector<uint8_t> lossless;
  cv::imencode(".webp", img, lossless, {cv::IMWRITE_WEBP_QUALITY, 101});  // VP8L
  EXPECT_EQ(probe_image(lossless.data(), lossless.size()).width, 37);
  std::vector<uint8_t> bmp = encode(img, ".bmp");
  bmp.resize(20);  // the info header cut off: no size, so no decoder is trusted with it
  NAT_EXPECT_ERROR(decode(bmp), "corrupt BMP header");
}

TEST(Decode, ProbeReadsJpegHeadersWithoutDecoding) {
  std::vector<uint8_t> jpg = encode(gradient_rgb(123, 45), ".jpg");
  ImageInfo info = probe_image(jpg.data(), jpg.size());
  EXPECT_EQ(info.format, ImageFormat::jpeg);
  EXPECT_EQ(info.width, 123);
  EXPECT_EQ(info.height, 45);
  EXPECT_EQ(info.channels, 3);
  EXPECT_EQ(info.bit_depth, 8);
  EXPECT_EQ(info.describe(), "JPEG 123x45, 3 channels, 8-bit");
  std::vector<uint8_t> short_jpg(jpg.begin(), jpg.begin() + 4);
  EXPECT_FALSE(probe_image(short_jpg.data(), short_jpg.size()).has_size());
}

TEST(Decode, TrainPipelineAcceptsEveryOddFormat) {
  DataConfig cfg;
  cfg.img_size = 32;
  SamplePipeline train(cfg, true), eval(cfg, false);
  cv::Mat rgb = gradient_rgb(50, 40);
  cv::Mat gray, rgba, wide;
  cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
  cv::cvtColor(rgb, rgba, cv::COLOR_RGB2RGBA);
  rgb.convertTo(wide, CV_16UC3, 257.0);
  std::vector<std::vector<uint8_t>> files = {encode(rgb, ".jpg"),  encode(rgb, ".png"),  encode(gray, ".jpg"),
                                             encode(gray, ".png"), encode(rgba, ".png"), encode(wide, ".png")};
#if NAT_TEST_WITH_LIBJPEG
  files.push_back(cmyk_jpeg(rgb, false));
#endif
  std::vector<float> out(static_cast<size_t>(train.floats_per_sample()));
  for (size_t i = 0; i < files.size(); ++i) {
    for (const SamplePipeline* p : {&train, &eval}) {
      SampleRng rng(i);
      std::fill(out.begin(), out.end(), std::nanf(""));
      p->run(files[i].data(), files[i].size(), rng, out.data());
      for (float v : out) ASSERT_TRUE(std::isfinite(v)) << "file " << i;
    }
  }
}

#else
TEST(Decode, NeedsOpenCV) { GTEST_SKIP() << "built without OpenCV: decoding is a stub"; }
#endif

TEST(ImageInfo, SniffsFormatsByMagicBytes) {
  auto sniff = [](std::vector<uint8_t> b) { return sniff_format(b.data(), b.size()); };
  EXPECT_EQ(sniff({0xFF, 0xD8, 0xFF, 0xE0}), ImageFormat::jpeg);
  EXPECT_EQ(sniff({0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}), ImageFormat::png);
  EXPECT_EQ(sniff({'G', 'I', 'F', '8', '9', 'a'}), ImageFormat::gif);
  EXPECT_EQ(sniff({'B', 'M', 0, 0}), ImageFormat::bmp);
  EXPECT_EQ(sniff({'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P'}), ImageFormat::webp);
  EXPECT_EQ(sniff({'I', 'I', '*', 0}), ImageFormat::tiff);
  EXPECT_EQ(sniff({0xFF, 0xD8}), ImageFormat::unknown);
  EXPECT_EQ(sniff({}), ImageFormat::unknown);
}

}  // namespace
}  // namespace nat::data
