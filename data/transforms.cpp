// Crop geometry, colour jitter, normalisation and random erasing (see transforms.h).
#include "data/transforms.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "data/image_ops.h"

namespace nat::data {

CropBox random_resized_crop_box(int W, int H, const std::array<double, 2>& scale, const std::array<double, 2>& ratio,
                                SampleRng& rng) {
  const double area = static_cast<double>(W) * H;
  const double lr0 = std::log(ratio[0]), lr1 = std::log(ratio[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    double target = rng.uniform(scale[0], scale[1]) * area;
    double aspect = std::exp(rng.uniform(lr0, lr1));
    int w = static_cast<int>(std::nearbyint(std::sqrt(target * aspect)));
    int h = static_cast<int>(std::nearbyint(std::sqrt(target / aspect)));
    if (w > 0 && h > 0 && w <= W && h <= H) {
      int y = static_cast<int>(rng.randint(0, H - h));
      int x = static_cast<int>(rng.randint(0, W - w));
      return {x, y, w, h};
    }
  }
  double in_ratio = static_cast<double>(W) / H;
  int w = W, h = H;
  if (in_ratio < ratio[0]) {
    h = static_cast<int>(std::nearbyint(w / ratio[0]));
  } else if (in_ratio > ratio[1]) {
    w = static_cast<int>(std::nearbyint(h * ratio[1]));
  }
  return {(W - w) / 2, (H - h) / 2, std::max(w, 1), std::max(h, 1)};
}

Box eval_box(int W, int H, int size, double crop_pct) {
  // torchvision Resize(s): the shorter side becomes s, the longer int(s * long / short).
  const int s = static_cast<int>(std::floor(size / crop_pct));
  int nw, nh;
  if (W <= H) {
    nw = s;
    nh = static_cast<int>(static_cast<double>(s) * H / W);
  } else {
    nh = s;
    nw = static_cast<int>(static_cast<double>(s) * W / H);
  }
  // CenterCrop: top = int(round((nh - size) / 2)), left likewise; every resized pixel maps back by W / nw.
  int top = static_cast<int>(std::nearbyint((nh - size) / 2.0));
  int left = static_cast<int>(std::nearbyint((nw - size) / 2.0));
  double sx = static_cast<double>(W) / nw, sy = static_cast<double>(H) / nh;
  return {left * sx, top * sy, size * sx, size * sy};
}

void color_jitter(cv::Mat& img, double s, SampleRng& rng) {
  if (s <= 0) return;
  int order[3] = {0, 1, 2};
  for (int i = 2; i > 0; --i) std::swap(order[i], order[rng.randint(0, i)]);
  double lo = std::max(0.0, 1.0 - s), hi = 1.0 + s;
  double f[3] = {rng.uniform(lo, hi), rng.uniform(lo, hi), rng.uniform(lo, hi)};
  for (int k : order) {
    if (k == 0) enhance_brightness(img, f[0]);
    if (k == 1) enhance_contrast(img, f[1]);
    if (k == 2) enhance_color(img, f[2]);
  }
}

Normalizer::Normalizer(const std::array<double, 3>& mean, const std::array<double, 3>& std) : mean_(mean), std_(std) {
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v)
      lut_[c][v] = static_cast<float>((static_cast<float>(v) / 255.0f - static_cast<float>(mean[c])) /
                                      static_cast<float>(std[c]));
}

void Normalizer::to_chw(const cv::Mat& rgb, float* out) const {
  NAT_CHECK(rgb.type() == CV_8UC3, "[normalize] expected an 8-bit RGB image");
  const size_t plane = rgb.total();
  float* o0 = out;
  float* o1 = out + plane;
  float* o2 = out + 2 * plane;
  for (int y = 0; y < rgb.rows; ++y) {
    const uint8_t* p = rgb.ptr<uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x, p += 3) {
      *o0++ = lut_[0][p[0]];
      *o1++ = lut_[1][p[1]];
      *o2++ = lut_[2][p[2]];
    }
  }
}

uint8_t Normalizer::denormalize(int c, float v) const {
  double u = (v * std_[c] + mean_[c]) * 255.0;
  return static_cast<uint8_t>(std::clamp(std::nearbyint(u), 0.0, 255.0));
}

void random_erase(float* chw, int C, int H, int W, const EraseSpec& spec, SampleRng& rng) {
  if (rng.uniform() > spec.prob) return;
  const double area = static_cast<double>(H) * W;
  const double la0 = std::log(spec.min_aspect), la1 = std::log(1.0 / spec.min_aspect);
  const int count = spec.max_count <= 1 ? 1 : static_cast<int>(rng.randint(1, spec.max_count));
  thread_local std::vector<float> noise;
  for (int n = 0; n < count; ++n) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      double target = rng.uniform(spec.min_area, spec.max_area) * area / count;
      double aspect = std::exp(rng.uniform(la0, la1));
      int h = static_cast<int>(std::nearbyint(std::sqrt(target * aspect)));
      int w = static_cast<int>(std::nearbyint(std::sqrt(target / aspect)));
      if (w < W && h < H) {
        int top = static_cast<int>(rng.randint(0, H - h));
        int left = static_cast<int>(rng.randint(0, W - w));
        // The fill has shape (C, h, w) for "pixel", (C, 1, 1) for "rand", zeros for "const".
        const int64_t per_pixel = spec.mode == "pixel" ? 1 : 0;
        noise.assign(static_cast<size_t>(per_pixel ? C * h * w : C), 0.0f);
        if (spec.mode == "pixel" || spec.mode == "rand")
          rng.fill_normal(noise.data(), static_cast<int64_t>(noise.size()));
        for (int c = 0; c < C; ++c)
          for (int y = 0; y < h; ++y) {
            float* row = chw + (static_cast<size_t>(c) * H + top + y) * W + left;
            for (int x = 0; x < w; ++x)
              row[x] = per_pixel ? noise[(static_cast<size_t>(c) * h + y) * w + x] : noise[static_cast<size_t>(c)];
          }
        break;
      }
    }
  }
}

}  // namespace nat::data
