// OpenCV drawing helpers for the NA pictures.
#include "app/viz/draw.h"

#if NAT_WITH_OPENCV
#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace nat::viz {

void put_text(cv::Mat& img, const std::string& s, cv::Point p, double scale, int thickness, const cv::Scalar& c) {
  cv::putText(img, s, p, cv::FONT_HERSHEY_SIMPLEX, scale, c, thickness, cv::LINE_AA);
}

cv::Size text_size(const std::string& s, double scale, int thickness) {
  int base = 0;
  return cv::getTextSize(s, cv::FONT_HERSHEY_SIMPLEX, scale, thickness, &base);
}

void put_text_centred(cv::Mat& img, const std::string& s, cv::Point centre, double scale, const cv::Scalar& c) {
  cv::Size t = text_size(s, scale);
  put_text(img, s, {centre.x - t.width / 2, centre.y + t.height / 2}, scale, 1, c);
}

int legend_item(cv::Mat& img, cv::Point p, const cv::Scalar& fill, const std::string& label, bool outline_only) {
  cv::Rect box(p.x, p.y - 12, 14, 14);
  if (outline_only)
    dashed_rectangle(img, box, fill, 2, 3);
  else {
    cv::rectangle(img, box, fill, cv::FILLED);
    cv::rectangle(img, box, colour::kGridLine, 1);
  }
  put_text(img, label, {p.x + 20, p.y}, 0.5);
  return p.x + 20 + text_size(label, 0.5).width + 22;
}

void dashed_rectangle(cv::Mat& img, cv::Rect r, const cv::Scalar& c, int thickness, int dash) {
  auto segment = [&](cv::Point a, cv::Point b) {
    const double len = std::hypot(b.x - a.x, b.y - a.y);
    const int pieces = static_cast<int>(std::ceil(len / (2.0 * dash)));
    for (int n = 0; n < pieces; ++n) {
      const double s = 2.0 * dash * n, e = std::min(s + dash, len);
      cv::Point p0(a.x + static_cast<int>((b.x - a.x) * s / len), a.y + static_cast<int>((b.y - a.y) * s / len));
      cv::Point p1(a.x + static_cast<int>((b.x - a.x) * e / len), a.y + static_cast<int>((b.y - a.y) * e / len));
      cv::line(img, p0, p1, c, thickness, cv::LINE_AA);
    }
  };
  cv::Point tl = r.tl(), br(r.x + r.width, r.y + r.height), tr(br.x, tl.y), bl(tl.x, br.y);
  segment(tl, tr);
  segment(tr, br);
  segment(br, bl);
  segment(bl, tl);
}

cv::Vec3b colormap_colour(double value, int colormap) {
  cv::Mat v(1, 1, CV_8UC1, cv::Scalar(static_cast<int>(std::lround(std::clamp(value, 0.0, 1.0) * 255)))), c;
  cv::applyColorMap(v, c, colormap);
  return c.at<cv::Vec3b>(0, 0);
}

int colour_ramp(cv::Mat& img, cv::Rect r, int colormap, const std::string& lo, const std::string& hi,
                const std::string& title) {
  put_text(img, title, {r.x, r.y + r.height - 1}, 0.5);
  r.x += text_size(title, 0.5).width + 10 + text_size(lo, 0.45).width + 6;
  cv::Mat ramp(1, r.width, CV_8UC1);
  for (int x = 0; x < r.width; ++x) ramp.at<uint8_t>(0, x) = static_cast<uint8_t>(255 * x / std::max(1, r.width - 1));
  cv::Mat coloured;
  cv::applyColorMap(ramp, coloured, colormap);
  cv::resize(coloured, coloured, r.size(), 0, 0, cv::INTER_NEAREST);
  coloured.copyTo(img(r));
  cv::rectangle(img, r, colour::kMuted, 1);
  put_text(img, lo, {r.x - text_size(lo, 0.45).width - 6, r.y + r.height - 1}, 0.45);
  put_text(img, hi, {r.x + r.width + 6, r.y + r.height - 1}, 0.45);
  return r.x + r.width + 12 + text_size(hi, 0.45).width + 22;
}

}  // namespace nat::viz
#endif
