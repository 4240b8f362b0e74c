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

#if NAT_WITH_OPENCV && NAT_TEST_WITH_LIBJPEG
#include <jpeglib.h>

#include <cstdio>  // jpeglib.h needs FILE and size_t declared first
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

#if NAT_WITH_OPENCV && NAT_TEST_WITH_LIBJPEG
// A 4-component JPEG from libjpeg, values stored inverted as Adobe Photoshop writes CMYK (so RGB = C*K/255).
inline std::vector<uint8_t> cmyk_jpeg(const cv::Mat& rgb, bool ycck) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &out, &size);
  c.image_width = static_cast<JDIMENSION>(rgb.cols);
  c.image_height = static_cast<JDIMENSION>(rgb.rows);
  c.input_components = 4;
  c.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&c);
  jpeg_set_colorspace(&c, ycck ? JCS_YCCK : JCS_CMYK);
  jpeg_set_quality(&c, 95, TRUE);
  jpeg_start_compress(&c, TRUE);
  std::vector<uint8_t> row(static_cast<size_t>(rgb.cols) * 4);
  while (c.next_scanline < c.image_height) {
    const cv::Vec3b* p = rgb.ptr<cv::Vec3b>(static_cast<int>(c.next_scanline));
    for (int x = 0; x < rgb.cols; ++x) {
      row[4 * x] = p[x][0];
      row[4 * x + 1] = p[x][1];
      row[4 * x + 2] = p[x][2];
      row[4 * x + 3] = 255;  // K = 255 (inverted): no black
    }
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::vector<uint8_t> bytes(out, out + size);
  free(out);
  return bytes;
}
#endif

// ---- hostile files, made by editing the headers of valid ones ----

// The CRC-32 of PNG chunks (ISO 3309, reflected polynomial 0xEDB88320), bitwise.
inline uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

// A JPEG whose first SOF header claims width x height: its scan data is the original's, so it decodes
// (with a premature-end warning) only if a decoder trusts the header and allocates for it.
inline std::vector<uint8_t> with_jpeg_size(std::vector<uint8_t> jpg, int width, int height) {
  for (size_t i = 2; i + 9 < jpg.size(); ++i) {
    if (jpg[i] == 0xFF && (jpg[i + 1] == 0xC0 || jpg[i + 1] == 0xC1 || jpg[i + 1] == 0xC2)) {
      jpg[i + 5] = static_cast<uint8_t>(height >> 8);
      jpg[i + 6] = static_cast<uint8_t>(height);
      jpg[i + 7] = static_cast<uint8_t>(width >> 8);
      jpg[i + 8] = static_cast<uint8_t>(width);
      return jpg;
    }
  }
  ADD_FAILURE() << "no SOF marker in the JPEG";
  return jpg;
}

// A PNG whose IHDR claims width x height, with a valid chunk CRC (libpng checks it): a "PNG bomb" header.
inline std::vector<uint8_t> with_png_size(std::vector<uint8_t> png, uint32_t width, uint32_t height) {
  EXPECT_GE(png.size(), 33u);
  for (int k = 0; k < 4; ++k) {
    png[16 + k] = static_cast<uint8_t>(width >> (24 - 8 * k));
    png[20 + k] = static_cast<uint8_t>(height >> (24 - 8 * k));
  }
  const uint32_t c = crc32(png.data() + 12, 17);  // chunk type and data
  for (int k = 0; k < 4; ++k) png[29 + k] = static_cast<uint8_t>(c >> (24 - 8 * k));
  return png;
}

// The JPEG cut in the middle of its scan data, then closed with an end-of-image marker: every marker
// check passes, but the image its header promises is not all there.
inline std::vector<uint8_t> with_scan_cut_short(const std::vector<uint8_t>& jpg) {
  size_t sos = 0;
  for (size_t i = 2; i + 1 < jpg.size() && !sos; ++i)
    if (jpg[i] == 0xFF && jpg[i + 1] == 0xDA) sos = i;
  EXPECT_GT(sos, 0u) << "no SOS marker in the JPEG";
  const size_t cut = sos + (jpg.size() - sos) / 3;
  std::vector<uint8_t> out(jpg.begin(), jpg.begin() + static_cast<std::ptrdiff_t>(cut));
  if (out.back() == 0xFF) out.pop_back();  // never leave half a marker
  out.push_back(0xFF);
  out.push_back(0xD9);
  return out;
}

}  // namespace nat::testing
