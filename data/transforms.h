// The building blocks of timm's train and eval transforms (timm@9d6aad4 transforms_factory.py),
// each a function of the image and a SampleRng:
//   RandomResizedCropAndInterpolation: random_resized_crop_box (+ resize_box from data/resize.h)
//   Resize(floor(size / crop_pct)) + CenterCrop(size): eval_box (one resize of just the crop)
//   ColorJitter(b, c, s) in random order (used only when RandAugment is off): color_jitter
//   ToTensor + Normalize: Normalizer;  RandomErasing (after normalisation): random_erase
// Python's round() rounds halves to even; so does std::nearbyint, used wherever timm rounds.
#pragma once

#include <array>
#include <opencv2/core.hpp>
#include <string>

#include "data/resize.h"
#include "data/sample_rng.h"

namespace nat::data {

struct CropBox {
  int x = 0, y = 0, w = 0, h = 0;  // integer pixels of the source image
};

// Up to 10 tries of area ~ U(scale) * W*H and log-aspect ~ U(log ratio); then torchvision's fallback
// (the whole image, or its central crop clamped to the ratio range).
CropBox random_resized_crop_box(int width, int height, const std::array<double, 2>& scale,
                                const std::array<double, 2>& ratio, SampleRng& rng);

// The source region that Resize(floor(size / crop_pct)) (shorter side) then CenterCrop(size) keeps.
Box eval_box(int width, int height, int size, double crop_pct);

// torchvision ColorJitter(strength, strength, strength): brightness, contrast and saturation factors
// ~ U(max(0, 1 - s), 1 + s), applied in a random order.
void color_jitter(cv::Mat& img, double strength, SampleRng& rng);

// ToTensor + Normalize through a per-channel 256-entry table: out[c][y][x] = (v / 255 - mean) / std.
class Normalizer {
 public:
  Normalizer(const std::array<double, 3>& mean, const std::array<double, 3>& std);
  void to_chw(const cv::Mat& rgb, float* out) const;  // out: (3, H, W)
  uint8_t denormalize(int c, float v) const;          // for previews

 private:
  std::array<std::array<float, 256>, 3> lut_{};
  std::array<double, 3> mean_, std_;
};

struct EraseSpec {
  double prob = 0.25;
  std::string mode = "pixel";  // const (zeros), rand (one normal value per channel), pixel (per element)
  int max_count = 1;           // boxes per image ~ U{1..max_count}, area per box divided by the count
  double min_area = 0.02, max_area = 1.0 / 3.0, min_aspect = 0.3;  // max aspect 1 / min_aspect
};

// timm's RandomErasing on one normalised (C, H, W) image.
void random_erase(float* chw, int channels, int height, int width, const EraseSpec& spec, SampleRng& rng);

}  // namespace nat::data
