// Shared helpers of the data tests: a temporary folder, file writing, and synthetic images built in
// the tests themselves (gradients with a marker, encoded with OpenCV).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#if NAT_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace nat::testing {

// A fresh folder under $TMPDIR (or under `base`), removed with everything in it at scope exit.
class TempDir {
 public:
  explicit TempDir(const std::string& base = "") {
    std::filesystem::path root = base.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(base);
    std::string tmpl = (root / "nat-data-test-XXXXXX").string();
    char* p = mkdtemp(tmpl.data());
    if (!p) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return (std::filesystem::path(path_) / rel).string(); }

 private:
  std::string path_;
};

// A memory-backed folder when there is one: thousands of small files are written there several times faster.
inline std::string fast_temp_base() {
  std::error_code ec;
  return std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : "";
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << "cannot write " << path;
}

#if NAT_WITH_OPENCV
// An RGB (not BGR) image: a horizontal red ramp, a vertical green ramp, blue = `tag`.
inline cv::Mat gradient_rgb(int w, int h, int tag = 64) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(x * 255 / std::max(1, w - 1)),
                                        static_cast<uint8_t>(y * 255 / std::max(1, h - 1)), static_cast<uint8_t>(tag));
  return m;
}

// Encodes an RGB (or 1-/4-channel, or 16-bit) image; ext ".png" or ".jpg". OpenCV writes BGR, so
// 3-channel inputs are swapped first.
inline std::vector<uint8_t> encode(const cv::Mat& img, const std::string& ext, int jpeg_quality = 95) {
  cv::Mat out;  // a new Mat: converting into a header of `img` would swap the caller's image in place
  if (img.channels() == 3)
    cv::cvtColor(img, out, cv::COLOR_RGB2BGR);
  else if (img.channels() == 4)
    cv::cvtColor(img, out, cv::COLOR_RGBA2BGRA);
  else
    out = img;
  std::vector<uint8_t> bytes;
  std::vector<int> params;
  if (ext == ".jpg") params = {cv::IMWRITE_JPEG_QUALITY, jpeg_quality};
  EXPECT_TRUE(cv::imencode(ext, out, bytes, params));
  return bytes;
}
#endif

}  // namespace nat::testing
