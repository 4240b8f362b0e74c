// The `nat data` tools' library side: the tree check (bad files listed, odd files counted), the digits
// dataset from opencv-doc's sheet (skipped when the package is absent), the preview grid, and the
// synthetic JPEGs of `nat bench loader`.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "data/check.h"
#include "data/digits.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/preview.h"
#include "data/synthetic.h"
#include "support/expect_error.h"
#include "tests/data/fixtures.h"

namespace nat::data {
namespace {

#if NAT_WITH_OPENCV

namespace fs = std::filesystem;
using nat::testing::encode;
using nat::testing::gradient_rgb;
using nat::testing::TempDir;
using nat::testing::write_bytes;

TEST(DataCheck, ListsUndecodableFilesAndCountsOddOnes) {
  TempDir d;
  cv::Mat rgb = gradient_rgb(40, 30);
  cv::Mat gray;
  cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
  write_bytes(d / "a/good.jpg", encode(rgb, ".jpg"));
  write_bytes(d / "a/png_named.JPEG", encode(rgb, ".png"));
  write_bytes(d / "a/gray.png", encode(gray, ".png"));
  std::vector<uint8_t> jpg = encode(rgb, ".jpg");
  write_bytes(d / "b/cut.jpg", std::vector<uint8_t>(jpg.begin(), jpg.begin() + 100));
  write_bytes(d / "b/text.png", {'n', 'o', 'p', 'e'});
  write_bytes(d / "b/readme.txt", {'h', 'i'});  // not an image name: not checked
  std::vector<std::string> reported;
  CheckOptions o;
  o.workers = 2;
  o.on_bad = [&](const std::string& path, const std::string&) { reported.push_back(path); };
  CheckReport r = check_tree(d.path(), o);
  EXPECT_EQ(r.files, 5);
  ASSERT_EQ(r.bad.size(), 2u);
  EXPECT_EQ(fs::path(r.bad[0].first).filename(), "cut.jpg");
  EXPECT_NE(r.bad[0].second.find("truncated"), std::string::npos);
  EXPECT_EQ(fs::path(r.bad[1].first).filename(), "text.png");
  EXPECT_EQ(reported.size(), 2u);
  EXPECT_EQ(r.format_differs_from_extension, 1);
  EXPECT_EQ(r.grayscale, 1);
  o.all_files = true;
  EXPECT_EQ(check_tree(d.path(), o).bad.size(), 3u);  // readme.txt is not an image either
  NAT_EXPECT_ERROR(check_tree(d / "missing"), "does not exist");
}

// Issue 17, bug 5: `nat data check` died with an uncaught cv::Exception (and allocated 13 GB for a
// 900-byte JPEG). Bombs, truncated scans and OpenCV failures are now listed with their reason.
TEST(DataCheck, BombsAndDecoderFailuresAreListedNotFatal) {
  TempDir d;
  cv::Mat rgb = gradient_rgb(40, 30);
  write_bytes(d / "a/good.jpg", encode(rgb, ".jpg"));
  write_bytes(d / "a/bomb.jpg", nat::testing::with_jpeg_size(encode(rgb, ".jpg"), 65500, 65500));
  write_bytes(d / "a/bomb.png", nat::testing::with_png_size(encode(rgb, ".png"), 16000, 16000));
  cv::Mat noise(60, 80, CV_8UC3);
  cv::RNG(1).fill(noise, cv::RNG::UNIFORM, 0, 255);
  write_bytes(d / "a/cut.jpg", nat::testing::with_scan_cut_short(encode(noise, ".jpg")));
  std::vector<uint8_t> bmp = encode(rgb, ".bmp");
  bmp[10] = 0xFF;  // pixel data offset far past the end: OpenCV's BMP reader throws
  bmp[11] = 0xFF;
  bmp[12] = 0xFF;
  write_bytes(d / "a/bad_offset.png", bmp);  // a BMP named .png, as ImageNet-like trees have
  CheckOptions o;
  o.workers = 2;
  CheckReport r;
  ASSERT_NO_THROW(r = check_tree(d.path(), o));
  EXPECT_EQ(r.files, 5);
  std::map<std::string, std::string> bad;
  for (const auto& [path, reason] : r.bad) bad[fs::path(path).filename().string()] = reason;
  ASSERT_EQ(bad.size(), 4u);
  EXPECT_NE(bad["bomb.jpg"].find("65500 x 65500 = 4290250000 pixels exceeds max_image_pixels"), std::string::npos);
  EXPECT_NE(bad["bomb.png"].find("16000 x 16000"), std::string::npos);
  EXPECT_NE(bad["cut.jpg"].find("truncated"), std::string::npos);
  EXPECT_EQ(bad["bad_offset.png"].find('\n'), std::string::npos);  // one line per reason
  o.max_image_pixels = 1000;                                       // the good 40 x 30 image is over this one
  EXPECT_EQ(check_tree(d.path(), o).bad.size(), 5u);
}

TEST(Digits, BuildsTheStratifiedSplitFromTheOpencvDocSheet) {
  std::string sheet;
  try {
    sheet = find_digits_sheet();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("apt-get install -y opencv-doc"), std::string::npos);
    GTEST_SKIP() << "opencv-doc is not installed: " << e.what();
  }
  TempDir d(nat::testing::fast_temp_base());  // 5,000 files
  DigitsSummary s = build_digits(d.path(), sheet);
  EXPECT_EQ(s.train, 4500);
  EXPECT_EQ(s.val, 500);
  ImageFolder train(d / "train", {.classes = {}, .cache_dir = ""});
  ImageFolder val(d / "val", {.classes = {}, .cache_dir = ""});
  EXPECT_EQ(train.size(), 4500);
  EXPECT_EQ(val.size(), 500);
  EXPECT_EQ(train.classes(), (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  for (int64_t i = 0; i < val.size(); ++i) {  // every val cell index ends in 9
    std::string name = fs::path(val.sample(i).path).stem().string();
    ASSERT_EQ(name.back(), '9') << name;
    ASSERT_EQ(std::to_string(val.sample(i).label), name.substr(0, 1));
  }
  cv::Mat cell = cv::imread(val.sample(0).path, cv::IMREAD_UNCHANGED);
  EXPECT_EQ(cell.size(), cv::Size(20, 20));
  EXPECT_EQ(cell.channels(), 1);
  NAT_EXPECT_ERROR(build_digits(d.path(), sheet), "already exists", "--force");
  NAT_EXPECT_ERROR(find_digits_sheet(d / "nope.png"), "does not exist");
}

TEST(Preview, WritesACaptionedGrid) {
  TempDir d;
  for (int i = 0; i < 8; ++i)
    write_bytes(d / ("train/c" + std::to_string(i % 2) + "/" + std::to_string(i) + ".jpg"),
                encode(gradient_rgb(30 + i, 30, 30 * i), ".jpg"));
  DataConfig cfg;
  cfg.img_size = 32;
  cfg.batch_size = 6;
  cfg.workers = 1;
  auto ds = std::make_shared<const ImageFolder>(d / "train", ImageFolderOptions{.classes = {}, .cache_dir = ""});
  Loader l(ds, cfg, train_loader_options(cfg));
  l.start_epoch(0);
  auto b = l.next();
  ASSERT_TRUE(b);
  write_preview(*b, l.pipeline(), ds->classes(), d / "grid.png", 3);
  cv::Mat grid = cv::imread(d / "grid.png");
  ASSERT_FALSE(grid.empty());
  EXPECT_EQ(grid.cols, 3 * (112 + 4) + 4);  // tiles enlarged to 112 px for the captions
  EXPECT_EQ(grid.rows, 2 * (112 + 34 + 4) + 4);
  NAT_EXPECT_ERROR(write_preview(*b, l.pipeline(), ds->classes(), d / "no/such/dir/grid.png"), "cannot write");
}

TEST(Synthetic, JpegsAreDeterministicAndPhotoSized) {
  std::vector<uint8_t> a = synthetic_jpeg(1, 5, 500, 375), b = synthetic_jpeg(1, 5, 500, 375);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, synthetic_jpeg(1, 6, 500, 375));
  EXPECT_GT(a.size(), 60000u);  // grain makes them compress like photographs, not like flat drawings
  EXPECT_LT(a.size(), 200000u);
}

#else
TEST(DataTools, NeedOpenCV) { GTEST_SKIP() << "built without OpenCV"; }
#endif

}  // namespace
}  // namespace nat::data
