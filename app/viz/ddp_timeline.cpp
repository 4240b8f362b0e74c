// The data-parallel timeline: from GradReducer's trace to a table and a PNG (see ddp_timeline.h).
#include "app/viz/ddp_timeline.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "app/viz/draw.h"

#if NAT_WITH_OPENCV
#include <opencv2/imgproc.hpp>
#endif

namespace nat::viz {

double DdpTimeline::hidden_fraction() const {
  double total = 0, hidden = 0;
  for (const auto& b : buckets) {
    if (b.launch_ms < 0 || b.done_ms < b.launch_ms) continue;
    total += b.done_ms - b.launch_ms;
    hidden += std::max(0.0, std::min(b.done_ms, backward_ms) - b.launch_ms);
  }
  return total > 0 ? hidden / total : 0.0;
}

DdpTimeline ddp_timeline(const train::GradReducer& reducer, double backward_ms, double finish_ms) {
  DdpTimeline t;
  t.backward_ms = backward_ms, t.finish_ms = finish_ms;
  for (const auto& b : reducer.buckets())
    t.buckets.push_back({static_cast<int64_t>(b.params.size()), static_cast<double>(b.bytes) / (1 << 20)});
  for (const auto& e : reducer.events()) {
    BucketSpan& b = t.buckets[static_cast<size_t>(e.bucket)];
    if (e.kind == train::ReducerEvent::ready) {
      t.ready.emplace_back(e.ms, e.bucket);
      if (b.first_ready_ms < 0) b.first_ready_ms = e.ms;
    } else if (e.kind == train::ReducerEvent::launch) {
      b.launch_ms = e.ms;
    } else {
      b.done_ms = e.ms;
    }
  }
  return t;
}

std::string format_ddp_timeline(const DdpTimeline& t) {
  std::string s;
  char line[160];
  std::snprintf(line, sizeof line, "%-7s %8s %9s %13s %11s %11s %10s\n", "bucket", "tensors", "MiB", "first ready",
                "launched", "finished", "hidden");
  s += line;
  for (size_t i = 0; i < t.buckets.size(); ++i) {
    const BucketSpan& b = t.buckets[i];
    const double hid = b.done_ms <= t.backward_ms ? 100.0
                       : b.done_ms > b.launch_ms
                           ? 100.0 * std::max(0.0, t.backward_ms - b.launch_ms) / (b.done_ms - b.launch_ms)
                           : 0.0;
    std::snprintf(line, sizeof line, "%-7zu %8lld %9.2f %10.1f ms %8.1f ms %8.1f ms %9.0f%%\n", i,
                  static_cast<long long>(b.tensors), b.mib, b.first_ready_ms, b.launch_ms, b.done_ms, hid);
    s += line;
  }
  std::snprintf(line, sizeof line,
                "backward ended at %.1f ms; every gradient averaged at %.1f ms; %.0f%% of the all-reduce time "
                "overlapped backward\n",
                t.backward_ms, t.finish_ms, 100.0 * t.hidden_fraction());
  s += line;
  return s;
}

#if NAT_WITH_OPENCV

namespace {

cv::Scalar bucket_colour(int b, int n) {
  cv::Vec3b c = colormap_colour(n > 1 ? 0.1 + 0.8 * b / (n - 1.0) : 0.5, cv::COLORMAP_VIRIDIS);
  return cv::Scalar(c[0], c[1], c[2]);
}

}  // namespace

cv::Mat render_ddp_timeline(const DdpTimeline& t) {
  const int n = static_cast<int>(t.buckets.size());
  const int left = 190, right = 40, top = 104, row = 30, plot_w = 900;
  const int height = top + (n + 2) * row + 90;
  cv::Mat img(height, left + plot_w + right, CV_8UC3, colour::kBackground);
  double end = std::max(t.finish_ms, t.backward_ms);
  for (const auto& b : t.buckets) end = std::max(end, b.done_ms);
  end = std::max(end, 1e-3) * 1.04;
  auto x = [&](double ms) { return left + static_cast<int>(plot_w * ms / end); };

  put_text(img, "Data-parallel backward: gradient buckets and their all-reduce", {16, 30}, 0.7, 2);
  put_text(img, t.title, {16, 56}, 0.45);
  char sub[200];
  std::snprintf(sub, sizeof sub,
                "backward %.1f ms, gradients averaged at %.1f ms; %.0f%% of the all-reduce time hidden "
                "behind backward",
                t.backward_ms, t.finish_ms, 100.0 * t.hidden_fraction());
  put_text(img, sub, {16, 78}, 0.45);

  // Backward's span, and the ticks: each parameter's gradient becoming final.
  const int y0 = top;
  put_text(img, "backward", {16, y0 + 19}, 0.5);
  cv::rectangle(img, cv::Rect(x(0), y0 + 4, x(t.backward_ms) - x(0), row - 8), colour::kCell, cv::FILLED);
  for (const auto& [ms, b] : t.ready) cv::line(img, {x(ms), y0 + 4}, {x(ms), y0 + row - 4}, bucket_colour(b, n), 2);
  put_text(img, "gradient ready", {16, y0 + row + 19}, 0.45, 1, colour::kMuted);
  for (const auto& [ms, b] : t.ready) cv::circle(img, {x(ms), y0 + row + 14}, 2, bucket_colour(b, n), cv::FILLED);

  // One row per bucket: launch -> done.
  for (int i = 0; i < n; ++i) {
    const BucketSpan& b = t.buckets[static_cast<size_t>(i)];
    const int y = y0 + (i + 2) * row;
    char label[64];
    if (b.mib >= 0.1)
      std::snprintf(label, sizeof label, "bucket %d (%.1f MiB)", i, b.mib);
    else
      std::snprintf(label, sizeof label, "bucket %d (%.0f KiB)", i, b.mib * 1024);
    put_text(img, label, {16, y + 19}, 0.45);
    if (b.launch_ms < 0) continue;
    const int xa = x(b.launch_ms), xb = std::max(x(b.done_ms), xa + 2);
    cv::rectangle(img, cv::Rect(xa, y + 5, xb - xa, row - 10), bucket_colour(i, n), cv::FILLED);
    if (b.first_ready_ms >= 0)  // waiting for its last gradient
      cv::line(img, {x(b.first_ready_ms), y + row / 2}, {xa, y + row / 2}, colour::kGridLine, 1);
  }
  // Backward's end and the time axis.
  const int y_axis = y0 + (n + 2) * row + 10;
  cv::line(img, {x(t.backward_ms), y0}, {x(t.backward_ms), y_axis}, colour::kQuery, 1, cv::LINE_AA);
  const int label_w = text_size("backward ends", 0.4).width;
  const int lxb =
      x(t.backward_ms) + 4 + label_w > left + plot_w ? x(t.backward_ms) - 4 - label_w : x(t.backward_ms) + 4;
  put_text(img, "backward ends", {lxb, y_axis - 4}, 0.4, 1, colour::kQuery);
  cv::line(img, {left, y_axis}, {left + plot_w, y_axis}, colour::kText, 1);
  // About ten ticks at 1, 2 or 5 x 10^k ms.
  const double raw = end / 10, mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / mag < 2 ? mag : raw / mag < 5 ? 2 * mag : 5 * mag;
  for (double ms = 0; ms <= end; ms += step) {
    cv::line(img, {x(ms), y_axis}, {x(ms), y_axis + 5}, colour::kText, 1);
    char tick[32];
    std::snprintf(tick, sizeof tick, step < 1 ? "%.1f" : "%.0f", ms);
    put_text_centred(img, tick, {x(ms), y_axis + 16}, 0.4, colour::kMuted);
  }
  put_text(img, "ms since backward started", {left + plot_w / 2 - 90, y_axis + 40}, 0.45, 1, colour::kMuted);
  int lx = 16;
  lx = legend_item(img, {lx, height - 14}, colour::kCell, "backward running");
  legend_item(img, {lx, height - 14}, bucket_colour(0, n), "a bucket's all-reduce, launch to finish (colour = bucket)");
  return img;
}

#endif

}  // namespace nat::viz
