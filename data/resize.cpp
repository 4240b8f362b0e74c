// Separable antialiased resampling. Per output coordinate, the taps are PIL's: with scale = box/out and
// fs = max(scale, 1), the filter's support grows to support*fs and it is evaluated at (x - center)/fs,
// center = box0 + (o + 0.5) * scale; weights are normalised to sum to 1. Pass 1 filters the needed
// source rows horizontally into a float buffer, pass 2 filters that vertically and rounds to 8 bits.
#include "data/resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace nat::data {

namespace {

double bilinear_filter(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double bicubic_filter(double x) {
  const double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

struct Taps {
  std::vector<int> start, count;  // per output coordinate
  std::vector<float> weights;     // per output coordinate, `stride` slots
  int stride = 0;
};

void compute_taps(int in_size, double in0, double in1, int out_size, Interp interp, Taps& t) {
  double support = interp == Interp::bilinear ? 1.0 : 2.0;
  double scale = (in1 - in0) / out_size;
  double fs = std::max(scale, 1.0);
  double sup = support * fs;
  t.stride = static_cast<int>(std::ceil(sup)) * 2 + 1;
  t.start.assign(static_cast<size_t>(out_size), 0);
  t.count.assign(static_cast<size_t>(out_size), 0);
  t.weights.assign(static_cast<size_t>(out_size) * static_cast<size_t>(t.stride), 0.0f);
  double inv = 1.0 / fs;
  for (int o = 0; o < out_size; ++o) {
    double center = in0 + (o + 0.5) * scale;
    // PIL's bounds: int(x + 0.5) truncates, on purpose (negative values are clamped to 0 anyway).
    int lo = std::max(static_cast<int>(center - sup + 0.5), 0);        // NOLINT(bugprone-incorrect-roundings)
    int hi = std::min(static_cast<int>(center + sup + 0.5), in_size);  // NOLINT(bugprone-incorrect-roundings)
    int n = std::min(std::max(hi - lo, 0), t.stride);
    if (n == 0) {  // box entirely outside the image: take the nearest pixel
      lo = std::clamp(static_cast<int>(center), 0, in_size - 1);
      n = 1;
    }
    float* w = &t.weights[static_cast<size_t>(o) * t.stride];
    double sum = 0;
    for (int k = 0; k < n; ++k) {
      double v = (k + lo - center + 0.5) * inv;
      double f = interp == Interp::bilinear ? bilinear_filter(v) : bicubic_filter(v);
      w[k] = static_cast<float>(f);
      sum += f;
    }
    if (sum != 0)
      for (int k = 0; k < n; ++k) w[k] = static_cast<float>(w[k] / sum);
    else
      w[0] = 1.0f;
    t.start[static_cast<size_t>(o)] = lo;
    t.count[static_cast<size_t>(o)] = n;
  }
}

}  // namespace

const char* interp_name(Interp i) { return i == Interp::bilinear ? "bilinear" : "bicubic"; }

cv::Rect source_region(int in_w, int in_h, Box box, int out_w, int out_h, Interp interp) {
  thread_local Taps tx, ty;
  compute_taps(in_w, box.x, box.x + box.w, out_w, interp, tx);
  compute_taps(in_h, box.y, box.y + box.h, out_h, interp, ty);
  auto span = [](const Taps& t, int n, int& lo, int& hi) {
    lo = t.start[0];
    hi = 0;
    for (int o = 0; o < n; ++o) {
      lo = std::min(lo, t.start[static_cast<size_t>(o)]);
      hi = std::max(hi, t.start[static_cast<size_t>(o)] + t.count[static_cast<size_t>(o)]);
    }
  };
  int x0, x1, y0, y1;
  span(tx, out_w, x0, x1);
  span(ty, out_h, y0, y1);
  return {x0, y0, x1 - x0, y1 - y0};
}

void resize_box(const cv::Mat& src, cv::Mat& dst, int out_w, int out_h, Box box, Interp interp, bool flip_x) {
  NAT_CHECK(src.type() == CV_8UC3 && !src.empty(), "[resize] expected a non-empty 8-bit RGB image");
  NAT_CHECK(out_w > 0 && out_h > 0, "[resize] output size must be positive, got ", out_w, "x", out_h);
  NAT_CHECK(box.w > 0 && box.h > 0, "[resize] empty source box ", box.w, "x", box.h);
  thread_local Taps tx, ty;
  thread_local std::vector<float> tmp, acc, rowf;
  compute_taps(src.cols, box.x, box.x + box.w, out_w, interp, tx);
  compute_taps(src.rows, box.y, box.y + box.h, out_h, interp, ty);

  // Rows of the source that pass 2 reads.
  int row0 = ty.start[0], row1 = 0;
  for (int o = 0; o < out_h; ++o) {
    row0 = std::min(row0, ty.start[static_cast<size_t>(o)]);
    row1 = std::max(row1, ty.start[static_cast<size_t>(o)] + ty.count[static_cast<size_t>(o)]);
  }
  const size_t row_len = static_cast<size_t>(out_w) * 3;
  tmp.resize(static_cast<size_t>(row1 - row0) * row_len);

  // Pass 1: horizontal, from the row converted to float once (not once per tap).
  int col0 = tx.start[0], col1 = 0;
  for (int o = 0; o < out_w; ++o) {
    col0 = std::min(col0, tx.start[static_cast<size_t>(o)]);
    col1 = std::max(col1, tx.start[static_cast<size_t>(o)] + tx.count[static_cast<size_t>(o)]);
  }
  rowf.resize(static_cast<size_t>(col1 - col0) * 3);
  for (int y = row0; y < row1; ++y) {
    const uint8_t* s = src.ptr<uint8_t>(y) + 3 * col0;
    for (size_t i = 0; i < rowf.size(); ++i) rowf[i] = s[i];
    float* t = &tmp[static_cast<size_t>(y - row0) * row_len];
    for (int o = 0; o < out_w; ++o) {
      const float* w = &tx.weights[static_cast<size_t>(o) * tx.stride];
      const float* p = rowf.data() + 3 * (tx.start[static_cast<size_t>(o)] - col0);
      float a0 = 0, a1 = 0, a2 = 0;
      for (int k = 0, n = tx.count[static_cast<size_t>(o)]; k < n; ++k) {
        a0 += w[k] * p[3 * k];
        a1 += w[k] * p[3 * k + 1];
        a2 += w[k] * p[3 * k + 2];
      }
      int ox = flip_x ? out_w - 1 - o : o;
      t[3 * ox] = a0;
      t[3 * ox + 1] = a1;
      t[3 * ox + 2] = a2;
    }
  }

  // Pass 2: vertical, rounded and clamped to 8 bits.
  dst.create(out_h, out_w, CV_8UC3);
  acc.resize(row_len);
  for (int o = 0; o < out_h; ++o) {
    const float* w = &ty.weights[static_cast<size_t>(o) * ty.stride];
    int n = ty.count[static_cast<size_t>(o)];
    const float* r0 = &tmp[static_cast<size_t>(ty.start[static_cast<size_t>(o)] - row0) * row_len];
    float* a = acc.data();
    for (size_t x = 0; x < row_len; ++x) a[x] = w[0] * r0[x];
    for (int k = 1; k < n; ++k) {
      const float* r = r0 + static_cast<size_t>(k) * row_len;
      const float wk = w[k];
      for (size_t x = 0; x < row_len; ++x) a[x] += wk * r[x];
    }
    uint8_t* d = dst.ptr<uint8_t>(o);
    for (size_t x = 0; x < row_len; ++x) {
      float v = a[x] + 0.5f;
      v = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
      d[x] = static_cast<uint8_t>(v);
    }
  }
}

}  // namespace nat::data
