// Mixup / CutMix (see mixup.h). np.random.randint's upper bound is exclusive; SampleRng::randint's is
// inclusive, hence the "- 1"s.
#include "data/mixup.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace nat::data {

Mixup::Mixup(const DataConfig& c, int64_t num_classes)
    : mixup_alpha_(c.mixup),
      cutmix_alpha_(c.cutmix_minmax ? 1.0 : c.cutmix),  // timm forces alpha 1 when minmax is set
      prob_(c.mixup_prob),
      switch_prob_(c.mixup_switch_prob),
      smoothing_(c.smoothing),
      minmax_(c.cutmix_minmax),
      mode_(c.mixup_mode),
      num_classes_(num_classes) {
  NAT_CHECK(num_classes >= 1, "[mixup] num_classes must be >= 1, got ", num_classes);
  NAT_CHECK(c.mixup_active(), "[mixup] neither mixup nor cutmix is on (mixup = cutmix = 0)");
}

std::pair<double, bool> Mixup::draw(SampleRng& rng) const {
  if (!(rng.uniform() < prob_)) return {1.0, false};
  if (mixup_alpha_ > 0 && cutmix_alpha_ > 0) {
    bool cut = rng.uniform() < switch_prob_;
    return {cut ? rng.beta(cutmix_alpha_, cutmix_alpha_) : rng.beta(mixup_alpha_, mixup_alpha_), cut};
  }
  if (mixup_alpha_ > 0) return {rng.beta(mixup_alpha_, mixup_alpha_), false};
  return {rng.beta(cutmix_alpha_, cutmix_alpha_), true};
}

std::array<int, 4> Mixup::cutmix_box(int64_t H, int64_t W, double& lam, SampleRng& rng) const {
  int64_t y0, y1, x0, x1;
  if (minmax_) {
    auto lo_h = static_cast<int64_t>(H * (*minmax_)[0]), hi_h = static_cast<int64_t>(H * (*minmax_)[1]);
    auto lo_w = static_cast<int64_t>(W * (*minmax_)[0]), hi_w = static_cast<int64_t>(W * (*minmax_)[1]);
    int64_t ch = rng.randint(lo_h, std::max(lo_h, hi_h - 1)), cw = rng.randint(lo_w, std::max(lo_w, hi_w - 1));
    y0 = rng.randint(0, std::max<int64_t>(0, H - ch - 1));
    x0 = rng.randint(0, std::max<int64_t>(0, W - cw - 1));
    y1 = y0 + ch;
    x1 = x0 + cw;
  } else {
    double r = std::sqrt(1.0 - lam);
    auto ch = static_cast<int64_t>(H * r), cw = static_cast<int64_t>(W * r);
    int64_t cy = rng.randint(0, H - 1), cx = rng.randint(0, W - 1);
    y0 = std::clamp<int64_t>(cy - ch / 2, 0, H);
    y1 = std::clamp<int64_t>(cy + ch / 2, 0, H);
    x0 = std::clamp<int64_t>(cx - cw / 2, 0, W);
    x1 = std::clamp<int64_t>(cx + cw / 2, 0, W);
  }
  lam = 1.0 - static_cast<double>((y1 - y0) * (x1 - x0)) / static_cast<double>(H * W);
  return {static_cast<int>(y0), static_cast<int>(y1), static_cast<int>(x0), static_cast<int>(x1)};
}

void Mixup::smooth_targets(const int64_t* labels, int64_t B, float* targets) const {
  const double off = smoothing_ / static_cast<double>(num_classes_), on = 1.0 - smoothing_ + off;
  for (int64_t i = 0; i < B; ++i) {
    NAT_CHECK(labels[i] >= 0 && labels[i] < num_classes_, "[mixup] label ", labels[i], " out of range [0, ",
              num_classes_, ")");
    float* t = targets + i * num_classes_;
    std::fill(t, t + num_classes_, static_cast<float>(off));
    t[labels[i]] = static_cast<float>(on);
  }
}

MixResult Mixup::apply(float* x, int64_t B, int64_t C, int64_t H, int64_t W, const int64_t* labels, float* targets,
                       SampleRng& rng, bool enabled) const {
  NAT_CHECK(B % 2 == 0, "[mixup] batch size must be even (sample i mixes with sample B-1-i), got ", B);
  MixResult r;
  r.lam.assign(static_cast<size_t>(B), 1.0f);
  r.cutmix.assign(static_cast<size_t>(B), 0);
  r.box.assign(static_cast<size_t>(B), {0, 0, 0, 0});
  auto set = [&](int64_t i, double lam, bool cut, const std::array<int, 4>& box) {
    r.lam[static_cast<size_t>(i)] = static_cast<float>(lam);
    r.cutmix[static_cast<size_t>(i)] = cut;
    r.box[static_cast<size_t>(i)] = box;
  };
  if (enabled) {
    if (mode_ == "batch") {
      auto [lam, cut] = draw(rng);
      std::array<int, 4> box{0, 0, 0, 0};
      if (lam != 1.0 && cut) box = cutmix_box(H, W, lam, rng);
      for (int64_t i = 0; i < B; ++i) set(i, lam, cut && box[1] > box[0], box);
    } else {
      const int64_t draws = mode_ == "pair" ? B / 2 : B;
      for (int64_t i = 0; i < draws; ++i) {
        auto [lam, cut] = draw(rng);
        std::array<int, 4> box{0, 0, 0, 0};
        if (lam != 1.0 && cut) box = cutmix_box(H, W, lam, rng);
        set(i, lam, cut, box);
        if (mode_ == "pair") set(B - 1 - i, lam, cut, box);
      }
    }
  }

  // Mix pairs (i, j = B-1-i), each from the other's original.
  const size_t plane = static_cast<size_t>(H * W), img = static_cast<size_t>(C) * plane;
  std::vector<float> orig_i(img);
  auto mix_into = [&](float* dst, const float* other, int64_t k) {
    double lam = r.lam[static_cast<size_t>(k)];
    if (lam == 1.0) return;
    if (r.cutmix[static_cast<size_t>(k)]) {
      auto [y0, y1, x0, x1] = r.box[static_cast<size_t>(k)];
      for (int64_t c = 0; c < C; ++c)
        for (int y = y0; y < y1; ++y) {
          size_t o = static_cast<size_t>(c) * plane + static_cast<size_t>(y) * W + x0;
          std::memcpy(dst + o, other + o, static_cast<size_t>(x1 - x0) * sizeof(float));
        }
    } else {
      const auto a = static_cast<float>(lam), b = static_cast<float>(1.0 - lam);
      for (size_t e = 0; e < img; ++e) dst[e] = dst[e] * a + other[e] * b;
    }
  };
  for (int64_t i = 0; i < B / 2; ++i) {
    int64_t j = B - 1 - i;
    float* xi = x + static_cast<size_t>(i) * img;
    float* xj = x + static_cast<size_t>(j) * img;
    std::memcpy(orig_i.data(), xi, img * sizeof(float));
    mix_into(xi, xj, i);
    mix_into(xj, orig_i.data(), j);
  }

  // Targets.
  const double off = smoothing_ / static_cast<double>(num_classes_), on = 1.0 - smoothing_ + off;
  for (int64_t i = 0; i < B; ++i) {
    int64_t yi = labels[i], yj = labels[B - 1 - i];
    NAT_CHECK(yi >= 0 && yi < num_classes_, "[mixup] label ", yi, " out of range [0, ", num_classes_, ")");
    double lam = r.lam[static_cast<size_t>(i)];
    float* t = targets + i * num_classes_;
    std::fill(t, t + num_classes_, static_cast<float>(off));
    t[yi] += static_cast<float>(lam * (on - off));
    t[yj] += static_cast<float>((1.0 - lam) * (on - off));
  }
  return r;
}

}  // namespace nat::data
