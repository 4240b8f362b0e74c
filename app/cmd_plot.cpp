// `nat plot RUN_DIR`: draws the run's summary.csv as curves.png — loss (train, eval), accuracy (top-1,
// top-5, and the EMA's when present) and learning rate against the epoch, three panels with axes, tick
// labels and legends. Drawn with OpenCV (absent in the minimal GPU-check build: then this command says so).
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "app/commands.h"
#include "core/error.h"
#include "train/run_dir.h"

#if NAT_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace nat::app {

namespace {

const char* kHelp =
    "usage: nat plot RUN_DIR [--out FILE]\n\n"
    "Reads RUN_DIR/summary.csv (written by nat train) and writes RUN_DIR/curves.png (or FILE): loss, accuracy\n"
    "and learning rate per epoch.\n";

#if NAT_WITH_OPENCV

struct Series {
  std::string label;
  std::vector<double> x, y;
  cv::Scalar color;
};

// About five round tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi) {
  double range = hi - lo;
  if (!(range > 0)) range = std::abs(hi) > 0 ? std::abs(hi) : 1;
  double raw = range / 5, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * range; v += step)
    t.push_back(std::abs(v) < 1e-12 * step ? 0 : v);
  return t;
}

std::string tick_label(double v, bool scientific) {
  char b[32];
  if (scientific && v != 0)
    std::snprintf(b, sizeof b, "%.1e", v);
  else
    std::snprintf(b, sizeof b, "%g", v);
  return b;
}

void text(cv::Mat& img, const std::string& s, cv::Point p, double scale = 0.45, int thick = 1,
          cv::Scalar color = cv::Scalar(30, 30, 30)) {
  cv::putText(img, s, p, cv::FONT_HERSHEY_SIMPLEX, scale, color, thick, cv::LINE_AA);
}

cv::Size text_size(const std::string& s, double scale = 0.45) {
  int base = 0;
  return cv::getTextSize(s, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base);
}

// One panel in `roi` of `img`: frame, grid, ticks, the series and a legend.
void panel(cv::Mat& img, cv::Rect roi, const std::string& title, const std::string& ylabel,
           const std::vector<Series>& series, bool scientific) {
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.y[i])) {
        xlo = std::min(xlo, s.x[i]), xhi = std::max(xhi, s.x[i]);
        ylo = std::min(ylo, s.y[i]), yhi = std::max(yhi, s.y[i]);
      }
  if (!std::isfinite(xlo)) xlo = 0, xhi = 1, ylo = 0, yhi = 1;
  if (xhi == xlo) xlo -= 0.5, xhi += 0.5;
  double pad = (yhi - ylo) * 0.06;
  if (pad == 0) pad = std::abs(yhi) > 0 ? std::abs(yhi) * 0.1 : 1;
  ylo -= pad, yhi += pad;
  if (ylo < 0 && ylo + pad >= 0) ylo = 0;
  const int left = roi.x + 94, right = roi.x + roi.width - 16, top = roi.y + 40, bottom = roi.y + roi.height - 52;
  auto X = [&](double v) { return left + static_cast<int>((v - xlo) / (xhi - xlo) * (right - left)); };
  auto Y = [&](double v) { return bottom - static_cast<int>((v - ylo) / (yhi - ylo) * (bottom - top)); };
  text(img, title, {roi.x + (roi.width - text_size(title, 0.6).width) / 2, roi.y + 24}, 0.6, 2);
  for (double t : ticks(ylo, yhi)) {
    int y = Y(t);
    cv::line(img, {left, y}, {right, y}, cv::Scalar(228, 228, 228), 1);
    std::string l = tick_label(t, scientific);
    text(img, l, {left - 8 - text_size(l).width, y + 5});
  }
  std::vector<double> xt = ticks(xlo, xhi);
  for (double t : xt) {
    if (std::abs(t - std::round(t)) > 1e-9) continue;  // epochs are integers
    int x = X(t);
    cv::line(img, {x, bottom}, {x, bottom + 5}, cv::Scalar(60, 60, 60), 1);
    std::string l = tick_label(t, false);
    text(img, l, {x - text_size(l).width / 2, bottom + 20});
  }
  cv::rectangle(img, {left, top}, {right, bottom}, cv::Scalar(60, 60, 60), 1);
  text(img, "epoch", {(left + right) / 2 - text_size("epoch").width / 2, bottom + 42});
  // y label, written vertically
  cv::Size ls = text_size(ylabel);
  cv::Mat lab(ls.height + 8, ls.width + 4, img.type(), cv::Scalar(255, 255, 255));
  text(lab, ylabel, {2, ls.height + 2});
  cv::Mat rot;
  cv::rotate(lab, rot, cv::ROTATE_90_COUNTERCLOCKWISE);
  int ly = (top + bottom) / 2 - rot.rows / 2;
  if (ly >= 0 && ly + rot.rows <= img.rows) rot.copyTo(img(cv::Rect(roi.x + 4, ly, rot.cols, rot.rows)));
  // series
  for (const auto& s : series) {
    cv::Point prev(-1, -1);
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) {
        prev = {-1, -1};
        continue;
      }
      cv::Point p(X(s.x[i]), Y(s.y[i]));
      if (prev.x >= 0) cv::line(img, prev, p, s.color, 2, cv::LINE_AA);
      if (s.x.size() <= 40) cv::circle(img, p, 3, s.color, cv::FILLED, cv::LINE_AA);
      prev = p;
    }
  }
  // legend in the right-hand corner (top or bottom) that the curves leave freer
  int w = 0;
  for (const auto& s : series) w = std::max(w, text_size(s.label).width);
  const int lh = 20 * static_cast<int>(series.size()) + 4, lx = right - w - 40;
  int in_top = 0, in_bottom = 0;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.y[i]) && X(s.x[i]) >= lx - 10) {
        int y = Y(s.y[i]);
        in_top += y <= top + lh + 12;
        in_bottom += y >= bottom - lh - 12;
      }
  const int ly0 = in_top <= in_bottom ? top + 8 : bottom - lh - 6;
  cv::rectangle(img, {lx - 6, ly0 - 2}, {right - 6, ly0 + lh - 2}, cv::Scalar(255, 255, 255), cv::FILLED);
  cv::rectangle(img, {lx - 6, ly0 - 2}, {right - 6, ly0 + lh - 2}, cv::Scalar(180, 180, 180), 1);
  for (size_t i = 0; i < series.size(); ++i) {
    int y = ly0 + 12 + 20 * static_cast<int>(i);
    cv::line(img, {lx, y - 4}, {lx + 22, y - 4}, series[i].color, 2, cv::LINE_AA);
    text(img, series[i].label, {lx + 28, y});
  }
}

#endif

}  // namespace

int cmd_plot(const std::vector<std::string>& args) {
  std::string dir, out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::printf("%s", kHelp);
      return 0;
    }
    if (args[i] == "--out" && i + 1 < args.size())
      out = args[++i];
    else if (args[i].rfind("--", 0) == 0)
      NAT_THROW("unknown option ", args[i], " (see nat plot --help)");
    else if (dir.empty())
      dir = args[i];
    else
      NAT_THROW("unexpected argument '", args[i], "' (see nat plot --help)");
  }
  NAT_CHECK(!dir.empty(), "usage: nat plot RUN_DIR (see nat plot --help)");
  if (out.empty()) out = dir + "/curves.png";
#if NAT_WITH_OPENCV
  auto [header, rows] = train::read_summary(dir + "/summary.csv");
  auto column = [&, &header = header, &rows = rows](const std::string& name) {
    std::vector<double> v;
    for (size_t c = 0; c < header.size(); ++c)
      if (header[c] == name)
        for (const auto& r : rows) v.push_back(r[c]);
    return v;
  };
  std::vector<double> epoch = column("epoch");
  NAT_CHECK(!epoch.empty(), "[plot] ", dir, "/summary.csv has no rows");
  auto series = [&](const std::string& col, const std::string& label, cv::Scalar color) {
    return Series{label, epoch, column(col), color};
  };
  // BGR colours
  const cv::Scalar blue(180, 100, 30), orange(30, 130, 240), green(60, 160, 60), red(50, 50, 210), purple(160, 80, 140),
      grey(120, 120, 120);
  std::vector<Series> loss = {series("train_loss", "train", blue)};
  if (!column("eval_loss").empty()) loss.push_back(series("eval_loss", "eval", orange));
  if (!column("ema_eval_loss").empty()) loss.push_back(series("ema_eval_loss", "eval (EMA)", grey));
  std::vector<Series> acc;
  if (!column("eval_top1").empty()) acc.push_back(series("eval_top1", "top-1", green));
  if (!column("eval_top5").empty()) acc.push_back(series("eval_top5", "top-5", red));
  if (!column("ema_eval_top1").empty()) acc.push_back(series("ema_eval_top1", "top-1 (EMA)", purple));
  std::vector<Series> lr = {series("lr", "lr (end of epoch)", blue)};
  const int W = 540, H = 420;
  cv::Mat img(H + 40, 3 * W, CV_8UC3, cv::Scalar(255, 255, 255));
  text(img, "nat.cpp run: " + dir, {16, 26}, 0.6, 1, cv::Scalar(90, 90, 90));
  panel(img, {0, 40, W, H}, "Loss", "cross-entropy", loss, false);
  panel(img, {W, 40, W, H}, "Accuracy (val)", "accuracy (%)", acc, false);
  panel(img, {2 * W, 40, W, H}, "Learning rate", "lr", lr, true);
  NAT_CHECK(cv::imwrite(out, img), "[plot] cannot write ", out);
  std::printf("nat plot: wrote %s (%zu epochs)\n", out.c_str(), epoch.size());
  return 0;
#else
  NAT_THROW("nat plot needs OpenCV, which this build was configured without (Debian: libopencv-dev)");
#endif
}

}  // namespace nat::app
