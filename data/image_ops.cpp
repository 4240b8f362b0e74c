// PIL-equivalent point, enhance and affine operations (see data/image_ops.h for the conventions).
#include "data/image_ops.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace nat::data {

namespace {

using Lut = std::array<std::array<uint8_t, 256>, 3>;

void check_rgb(const cv::Mat& img, const char* op) {
  NAT_CHECK(img.type() == CV_8UC3 && img.isContinuous(), "[", op, "] expected a continuous 8-bit RGB image");
}

void apply_lut(cv::Mat& img, const Lut& lut) {
  uint8_t* p = img.data;
  const size_t n = img.total();
  for (size_t i = 0; i < n; ++i, p += 3) {
    p[0] = lut[0][p[0]];
    p[1] = lut[1][p[1]];
    p[2] = lut[2][p[2]];
  }
}

void apply_lut1(cv::Mat& img, const std::array<uint8_t, 256>& l) {
  uint8_t* p = img.data;
  const size_t n = img.total() * 3;
  for (size_t i = 0; i < n; ++i) p[i] = l[p[i]];
}

std::array<std::array<int64_t, 256>, 3> histograms(const cv::Mat& img) {
  std::array<std::array<int64_t, 256>, 3> h{};
  const uint8_t* p = img.data;
  for (size_t i = 0, n = img.total(); i < n; ++i, p += 3) {
    ++h[0][p[0]];
    ++h[1][p[1]];
    ++h[2][p[2]];
  }
  return h;
}

// Image.blend(degenerate, img, f) = degenerate + f (img - degenerate), truncated and clipped to 8 bits.
inline uint8_t blend(float degenerate, float v, float f) {
  float t = degenerate + f * (v - degenerate);
  return t <= 0.0f ? 0 : (t >= 255.0f ? 255 : static_cast<uint8_t>(t));
}

}  // namespace

void auto_contrast(cv::Mat& img) {
  check_rgb(img, "auto_contrast");
  auto h = histograms(img);
  Lut lut;
  for (int c = 0; c < 3; ++c) {
    int lo = 0, hi = 255;
    while (lo < 256 && !h[c][lo]) ++lo;
    while (hi >= 0 && !h[c][hi]) --hi;
    for (int i = 0; i < 256; ++i) {
      if (hi <= lo) {
        lut[c][i] = static_cast<uint8_t>(i);
        continue;
      }
      double scale = 255.0 / (hi - lo), offset = -lo * scale;
      int v = static_cast<int>(i * scale + offset);
      lut[c][i] = static_cast<uint8_t>(std::clamp(v, 0, 255));
    }
  }
  apply_lut(img, lut);
}

void equalize(cv::Mat& img) {
  check_rgb(img, "equalize");
  auto h = histograms(img);
  Lut lut;
  for (int c = 0; c < 3; ++c) {
    int64_t total = 0, last = 0, nonzero = 0;
    for (int i = 0; i < 256; ++i)
      if (h[c][i]) {
        total += h[c][i];
        last = h[c][i];
        ++nonzero;
      }
    int64_t step = nonzero <= 1 ? 0 : (total - last) / 255;
    int64_t n = step / 2;
    for (int i = 0; i < 256; ++i) {
      lut[c][i] = step ? static_cast<uint8_t>(std::min<int64_t>(n / step, 255)) : static_cast<uint8_t>(i);
      n += h[c][i];
    }
  }
  apply_lut(img, lut);
}

void invert(cv::Mat& img) {
  check_rgb(img, "invert");
  std::array<uint8_t, 256> l;
  for (int i = 0; i < 256; ++i) l[i] = static_cast<uint8_t>(255 - i);
  apply_lut1(img, l);
}

void posterize(cv::Mat& img, int bits) {
  check_rgb(img, "posterize");
  if (bits >= 8) return;
  bits = std::max(bits, 0);
  auto mask = static_cast<uint8_t>(~((1 << (8 - bits)) - 1));
  std::array<uint8_t, 256> l;
  for (int i = 0; i < 256; ++i) l[i] = static_cast<uint8_t>(i & mask);
  apply_lut1(img, l);
}

void solarize(cv::Mat& img, int threshold) {
  check_rgb(img, "solarize");
  std::array<uint8_t, 256> l;
  for (int i = 0; i < 256; ++i) l[i] = static_cast<uint8_t>(i < threshold ? i : 255 - i);
  apply_lut1(img, l);
}

void solarize_add(cv::Mat& img, int add, int threshold) {
  check_rgb(img, "solarize_add");
  std::array<uint8_t, 256> l;
  for (int i = 0; i < 256; ++i) l[i] = static_cast<uint8_t>(i < threshold ? std::min(255, i + add) : i);
  apply_lut1(img, l);
}

void enhance_color(cv::Mat& img, double factor) {
  check_rgb(img, "enhance_color");
  auto f = static_cast<float>(factor);
  uint8_t* p = img.data;
  for (size_t i = 0, n = img.total(); i < n; ++i, p += 3) {
    float g = luma(p);
    p[0] = blend(g, p[0], f);
    p[1] = blend(g, p[1], f);
    p[2] = blend(g, p[2], f);
  }
}

void enhance_contrast(cv::Mat& img, double factor) {
  check_rgb(img, "enhance_contrast");
  int64_t sum = 0;
  const uint8_t* q = img.data;
  for (size_t i = 0, n = img.total(); i < n; ++i, q += 3) sum += luma(q);
  // PIL: int(mean + 0.5) of the L image (non-negative, so truncation is rounding).
  const double m = static_cast<double>(sum) / static_cast<double>(img.total());
  auto mean = static_cast<float>(std::floor(m + 0.5));
  std::array<uint8_t, 256> l;
  for (int i = 0; i < 256; ++i) l[i] = blend(mean, static_cast<float>(i), static_cast<float>(factor));
  apply_lut1(img, l);
}

void enhance_brightness(cv::Mat& img, double factor) {
  check_rgb(img, "enhance_brightness");
  std::array<uint8_t, 256> l;
  for (int i = 0; i < 256; ++i) l[i] = blend(0.0f, static_cast<float>(i), static_cast<float>(factor));
  apply_lut1(img, l);
}

void enhance_sharpness(cv::Mat& img, double factor) {
  check_rgb(img, "enhance_sharpness");
  // ImageFilter.SMOOTH: 3x3 kernel (1 1 1 / 1 5 1 / 1 1 1) / 13 on interior pixels; the border is copied.
  const int H = img.rows, W = img.cols;
  if (H < 3 || W < 3) return;
  cv::Mat src = img.clone();
  auto f = static_cast<float>(factor);
  const size_t stride = static_cast<size_t>(W) * 3;
  for (int y = 1; y < H - 1; ++y) {
    const uint8_t* r0 = src.ptr<uint8_t>(y - 1);
    const uint8_t* r1 = src.ptr<uint8_t>(y);
    const uint8_t* r2 = src.ptr<uint8_t>(y + 1);
    uint8_t* o = img.ptr<uint8_t>(y);
    for (size_t x = 3; x < stride - 3; ++x) {
      int s = r0[x - 3] + r0[x] + r0[x + 3] + r1[x - 3] + 5 * r1[x] + r1[x + 3] + r2[x - 3] + r2[x] + r2[x + 3];
      float smooth = std::floor(static_cast<float>(s) / 13.0f + 0.5f);
      o[x] = blend(smooth, r1[x], f);
    }
  }
}

void affine_pil(cv::Mat& img, const std::array<double, 6>& m, Interp interp, const Rgb& fill) {
  check_rgb(img, "affine");
  const auto [a, b, c, d, e, f] = m;
  // OpenCV addresses pixel centres at integers: x_cv = x_pil - 0.5 on both sides.
  cv::Matx23d cvm(a, b, c + 0.5 * (a + b) - 0.5, d, e, f + 0.5 * (d + e) - 0.5);
  cv::Mat out;
  cv::warpAffine(img, out, cvm, img.size(),
                 (interp == Interp::bilinear ? cv::INTER_LINEAR : cv::INTER_CUBIC) | cv::WARP_INVERSE_MAP,
                 cv::BORDER_REPLICATE);
  const double W = img.cols, H = img.rows;
  for (int y = 0; y < img.rows; ++y) {
    uint8_t* o = out.ptr<uint8_t>(y);
    double yc = y + 0.5;
    for (int x = 0; x < img.cols; ++x) {
      double xc = x + 0.5;
      double u = a * xc + b * yc + c, v = d * xc + e * yc + f;
      if (u < 0 || u >= W || v < 0 || v >= H) {
        o[3 * x] = fill[0];
        o[3 * x + 1] = fill[1];
        o[3 * x + 2] = fill[2];
      }
    }
  }
  img = out;
}

void shear_x(cv::Mat& img, double factor, Interp interp, const Rgb& fill) {
  affine_pil(img, {1, factor, 0, 0, 1, 0}, interp, fill);
}
void shear_y(cv::Mat& img, double factor, Interp interp, const Rgb& fill) {
  affine_pil(img, {1, 0, 0, factor, 1, 0}, interp, fill);
}
void translate_x(cv::Mat& img, double pixels, Interp interp, const Rgb& fill) {
  affine_pil(img, {1, 0, pixels, 0, 1, 0}, interp, fill);
}
void translate_y(cv::Mat& img, double pixels, Interp interp, const Rgb& fill) {
  affine_pil(img, {1, 0, 0, 0, 1, pixels}, interp, fill);
}

void rotate(cv::Mat& img, double degrees, Interp interp, const Rgb& fill) {
  // Image.rotate: input = R (output - centre) + centre, R = [cos t, sin t; -sin t, cos t], t = -radians.
  double t = -degrees * M_PI / 180.0, cs = std::cos(t), sn = std::sin(t);
  double cx = img.cols / 2.0, cy = img.rows / 2.0;
  affine_pil(img, {cs, sn, cx - cs * cx - sn * cy, -sn, cs, cy + sn * cx - cs * cy}, interp, fill);
}

}  // namespace nat::data
