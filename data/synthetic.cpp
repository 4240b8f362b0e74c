// Synthetic photographs (see synthetic.h): a bicubically upsampled 6x5 colour grid, a dozen blurred
// ellipses and polygons in muted colours, colour blotches, and luminance grain summed over three scales
// (1/8, 1/2, full resolution).
#include "data/synthetic.h"

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "core/error.h"
#include "data/sample_rng.h"

namespace fs = std::filesystem;

namespace nat::data {

namespace {

// Gaussian noise of std `sigma` at (cw x ch), upsampled to (w x h); `mono` repeats one channel in all
// three (luminance grain, as in photographs), else each channel is independent (colour blotches).
cv::Mat noise_field(int w, int h, int cw, int ch, double sigma, bool mono, SampleRng& rng) {
  cv::Mat small(ch, cw, mono ? CV_32FC1 : CV_32FC3);
  rng.fill_normal(small.ptr<float>(), static_cast<int64_t>(small.total()) * small.channels());
  small *= sigma;
  cv::Mat big = small;
  if (cw != w || ch != h) cv::resize(small, big, cv::Size(w, h), 0, 0, cv::INTER_CUBIC);
  if (!mono) return big;
  cv::Mat rgb;
  cv::merge(std::vector<cv::Mat>{big, big, big}, rgb);
  return rgb;
}

}  // namespace

std::vector<uint8_t> synthetic_jpeg(uint64_t seed, int64_t index, int W, int H, int quality) {
  SampleRng rng(derive_seed(seed, static_cast<uint64_t>(index), 0x5359u));
  // Smooth background: random colours on a coarse grid, upsampled.
  cv::Mat img = noise_field(W, H, 6, 5, 1.0, false, rng);
  cv::Scalar base(rng.uniform(60, 190), rng.uniform(60, 190), rng.uniform(60, 190));
  img = img * 35.0 + base;
  // Shapes: ellipses and polygons of random colours, then a blur so edges are photographic, not synthetic.
  int shapes = static_cast<int>(rng.randint(6, 14));
  for (int s = 0; s < shapes; ++s) {
    double v = rng.uniform(20, 235);  // muted colours: a grey level plus a moderate tint
    cv::Scalar col(v + rng.uniform(-40, 40), v + rng.uniform(-40, 40), v + rng.uniform(-40, 40));
    cv::Point c(static_cast<int>(rng.uniform(0, W)), static_cast<int>(rng.uniform(0, H)));
    if (rng.bernoulli(0.6)) {
      cv::Size ax(static_cast<int>(rng.uniform(8, W / 3.0)), static_cast<int>(rng.uniform(8, H / 3.0)));
      cv::ellipse(img, c, ax, rng.uniform(0, 180), 0, 360, col, cv::FILLED, cv::LINE_8);
    } else {
      std::vector<cv::Point> pts;
      int k = static_cast<int>(rng.randint(3, 6));
      pts.reserve(static_cast<size_t>(k));
      for (int i = 0; i < k; ++i)
        pts.emplace_back(c.x + static_cast<int>(rng.uniform(-W / 4.0, W / 4.0)),
                         c.y + static_cast<int>(rng.uniform(-H / 4.0, H / 4.0)));
      cv::fillPoly(img, std::vector<std::vector<cv::Point>>{pts}, col, cv::LINE_8);
    }
  }
  cv::GaussianBlur(img, img, cv::Size(0, 0), rng.uniform(1.0, 3.0));
  // Grain and texture at three scales.
  img += noise_field(W, H, W / 8, H / 8, 6.0, false, rng);
  img += noise_field(W, H, W / 8, H / 8, 16.0, true, rng);
  img += noise_field(W, H, W / 2, H / 2, 14.0, true, rng);
  img += noise_field(W, H, W, H, 18.0, true, rng);
  cv::Mat u8;
  img.convertTo(u8, CV_8UC3);
  std::vector<uint8_t> out;
  NAT_CHECK(cv::imencode(".jpg", u8, out, {cv::IMWRITE_JPEG_QUALITY, quality}), "[synthetic] JPEG encoding failed");
  return out;
}

int64_t write_synthetic_image_folder(const std::string& dir, int64_t count, int64_t classes, int W, int H,
                                     uint64_t seed, int quality) {
  NAT_CHECK(count >= 1 && classes >= 1, "[synthetic] need count >= 1 and classes >= 1");
  int64_t total = 0;
  std::error_code ec;
  for (int64_t i = 0; i < count; ++i) {
    fs::path d = fs::path(dir) / str("c", i % classes);
    fs::create_directories(d, ec);
    NAT_CHECK(!ec, "[synthetic] cannot create ", d.string(), ": ", ec.message());
    std::vector<uint8_t> bytes = synthetic_jpeg(seed, i, W, H, quality);
    fs::path p = d / str("img_", i, ".JPEG");
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    NAT_CHECK(f.good(), "[synthetic] cannot write ", p.string());
    total += static_cast<int64_t>(bytes.size());
  }
  return total;
}

}  // namespace nat::data
