// Mixup / CutMix on a normalised batch, with label smoothing folded into the soft targets
// (timm's Mixup class). Each sample i mixes with its mirror j = B-1-i (timm's x.flip(0)).
//   mode batch: one draw per batch; pair: one per pair (i, j); elem: one per sample.
//   A draw: with probability mixup_prob mix, else lam = 1. If both alphas are on, CutMix with probability
//   mixup_switch_prob, lam ~ Beta(cutmix, cutmix), else Mixup with lam ~ Beta(mixup, mixup).
//   Mixup: x_i = lam x_i + (1 - lam) x_j.  CutMix: a box of side sqrt(1 - lam) * (H, W), centre uniform,
//   clipped to the image, is pasted from x_j, and lam is corrected to 1 - box area / (H W) (correct_lam).
//   Targets: lam * smooth(onehot(y_i)) + (1 - lam) * smooth(onehot(y_j)), where smooth puts
//   smoothing / K on every class and 1 - smoothing + smoothing / K on the label; each row sums to 1.
#pragma once

#include <cstdint>
#include <vector>

#include "data/config.h"
#include "data/sample_rng.h"

namespace nat::data {

struct MixResult {
  std::vector<float> lam;               // per sample (all equal in batch mode); 1: not mixed
  std::vector<uint8_t> cutmix;          // per sample
  std::vector<std::array<int, 4>> box;  // per sample: y0, y1, x0, x1 of the pasted box (cutmix only)
};

class Mixup {
 public:
  Mixup(const DataConfig& config, int64_t num_classes);

  // images: (B, C, H, W) contiguous floats, mixed in place; labels: B hard labels;
  // targets: (B, num_classes) floats, written. `enabled` false (after mixup_off_epoch) gives lam = 1
  // with smoothed one-hot targets. B must be even.
  MixResult apply(float* images, int64_t B, int64_t C, int64_t H, int64_t W, const int64_t* labels, float* targets,
                  SampleRng& rng, bool enabled = true) const;

  // Smoothed one-hot targets without mixing.
  void smooth_targets(const int64_t* labels, int64_t B, float* targets) const;

  // One (lam, use_cutmix) draw, and the cutmix box for an (H, W) image with its corrected lam.
  std::pair<double, bool> draw(SampleRng& rng) const;
  std::array<int, 4> cutmix_box(int64_t H, int64_t W, double& lam, SampleRng& rng) const;

  int64_t num_classes() const { return num_classes_; }

 private:
  double mixup_alpha_, cutmix_alpha_, prob_, switch_prob_, smoothing_;
  std::optional<std::array<double, 2>> minmax_;
  std::string mode_;
  int64_t num_classes_;
};

}  // namespace nat::data
