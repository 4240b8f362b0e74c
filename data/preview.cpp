// Preview grid: denormalised tiles with a caption strip below each (see preview.h).
#include "data/preview.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace nat::data {

namespace {

std::string short_name(const std::vector<std::string>& names, int64_t k) {
  std::string s = k >= 0 && k < static_cast<int64_t>(names.size()) ? names[static_cast<size_t>(k)] : std::to_string(k);
  return s.size() > 14 ? s.substr(0, 13) + "~" : s;
}

}  // namespace

void write_preview(const Batch& batch, const SamplePipeline& pipe, const std::vector<std::string>& names,
                   const std::string& path, int columns) {
  const int64_t B = batch.size();
  NAT_CHECK(B > 0, "[preview] empty batch");
  const int S = static_cast<int>(pipe.size());
  const int tile = std::max(S, 112);  // small images (digits) are enlarged so the captions fit
  const int caption = 34, pad = 4;
  const int cols = columns > 0 ? columns : static_cast<int>(std::ceil(std::sqrt(static_cast<double>(B))));
  const int rows = static_cast<int>((B + cols - 1) / cols);
  cv::Mat grid(rows * (tile + caption + pad) + pad, cols * (tile + pad) + pad, CV_8UC3, cv::Scalar(255, 255, 255));
  const Tensor images = batch.images.contiguous();
  const float* img = images.data<float>();
  std::vector<float> targets;
  int64_t K = 0;
  if (batch.targets.defined()) {
    targets = batch.targets.to_vector<float>();
    K = batch.targets.size(1);
  }
  std::vector<int64_t> labels = batch.labels.to_vector<int64_t>();
  const double font = 0.38;
  for (int64_t i = 0; i < B; ++i) {
    cv::Mat rgb(S, S, CV_8UC3);
    const float* p = img + i * 3 * S * S;
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x)
        for (int c = 0; c < 3; ++c)
          rgb.at<cv::Vec3b>(y, x)[c] = pipe.denormalize(c, p[(static_cast<size_t>(c) * S + y) * S + x]);
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    if (tile != S) cv::resize(bgr, bgr, cv::Size(tile, tile), 0, 0, cv::INTER_NEAREST);
    int gx = pad + static_cast<int>(i % cols) * (tile + pad),
        gy = pad + static_cast<int>(i / cols) * (tile + caption + pad);
    bgr.copyTo(grid(cv::Rect(gx, gy, tile, tile)));

    std::string line1, line2;
    if (K > 0) {
      const float* t = &targets[static_cast<size_t>(i * K)];
      std::vector<int64_t> order(static_cast<size_t>(K));
      std::iota(order.begin(), order.end(), int64_t{0});
      std::partial_sort(order.begin(), order.begin() + std::min<int64_t>(2, K), order.end(),
                        [&](int64_t a, int64_t b) { return t[a] > t[b]; });
      char buf[96];
      std::snprintf(buf, sizeof buf, "%s %.2f", short_name(names, order[0]).c_str(), t[order[0]]);
      line1 = buf;
      if (K > 1 && t[order[1]] > t[K > 2 ? order[2] : order[1]] + 1e-6f) {
        std::snprintf(buf, sizeof buf, "+ %s %.2f", short_name(names, order[1]).c_str(), t[order[1]]);
        line1 += " ";
        line1 += buf;
      }
      if (!batch.mix.lam.empty()) {
        double lam = batch.mix.lam[static_cast<size_t>(i)];
        std::snprintf(buf, sizeof buf, "%s lam %.2f",
                      lam == 1.0                                 ? "unmixed"
                      : batch.mix.cutmix[static_cast<size_t>(i)] ? "cutmix"
                                                                 : "mixup",
                      lam);
        line2 = buf;
      }
    } else {
      line1 = short_name(names, labels[static_cast<size_t>(i)]);
    }
    cv::putText(grid, line1, {gx, gy + tile + 13}, cv::FONT_HERSHEY_SIMPLEX, font, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    if (!line2.empty())
      cv::putText(grid, line2, {gx, gy + tile + 28}, cv::FONT_HERSHEY_SIMPLEX, font, cv::Scalar(90, 90, 90), 1,
                  cv::LINE_AA);
  }
  NAT_CHECK(cv::imwrite(path, grid), "[preview] cannot write ", path,
            " (is the folder there, does the name end in .png?)");
}

}  // namespace nat::data
