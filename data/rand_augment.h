// timm's RandAugment (timm/data/auto_augment.py, unchanged in substance from timm@9d6aad4 to today).
// For "rand-m9-mstd0.5-inc1": n = 2 ops per image drawn uniformly *with replacement* from the 15-op
// "increasing" set; each applied with probability p = 0.5 at magnitude ~ N(9, 0.5) clipped to
// [0, mmax = 10]; the op's argument is a linear function of magnitude / 10 (see level_to_arg), with a
// random sign for the signed ops. Geometric ops fill with the mean pixel (round(255 * mean)) and, when
// train_interpolation is "random", pick bilinear or bicubic per call, as timm does.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "data/config.h"
#include "data/image_ops.h"
#include "data/sample_rng.h"

namespace nat::data {

enum class AugOp : uint8_t {
  AutoContrast,
  Equalize,
  Invert,
  Rotate,
  Posterize,
  PosterizeIncreasing,
  Solarize,
  SolarizeIncreasing,
  SolarizeAdd,
  Color,
  ColorIncreasing,
  Contrast,
  ContrastIncreasing,
  Brightness,
  BrightnessIncreasing,
  Sharpness,
  SharpnessIncreasing,
  ShearX,
  ShearY,
  TranslateXRel,
  TranslateYRel,
};

const char* op_name(AugOp op);

// timm's _RAND_TRANSFORMS (increasing = false) or _RAND_INCREASING_TRANSFORMS, in timm's order.
std::vector<AugOp> rand_augment_ops(bool increasing);

// The op's argument at `magnitude` (0..10 scale), drawing the random sign of signed ops from `rng`:
//   Rotate: +-30 m/10 degrees;  ShearX/Y: +-0.3 m/10;  TranslateX/YRel: +-0.45 m/10 of the size;
//   Posterize: int(4 m/10) bits;  PosterizeIncreasing: 4 - int(4 m/10) bits;
//   Solarize: threshold int(256 m/10);  SolarizeIncreasing: 256 - int(256 m/10);  SolarizeAdd: int(110 m/10);
//   Color/Contrast/Brightness/Sharpness: 1.8 m/10 + 0.1;  the *Increasing ones: max(0.1, 1 +- 0.9 m/10);
//   AutoContrast, Equalize, Invert: no argument (0).
double level_to_arg(AugOp op, double magnitude, SampleRng& rng);

// Applies `op` with argument `arg` (level_to_arg's) to an 8-bit RGB image.
void apply_op(cv::Mat& img, AugOp op, double arg, Interp interp, const Rgb& fill);

class RandAugment {
 public:
  // `interpolation`: fixed for the geometric ops, or nullopt for a random choice per call.
  RandAugment(const RandAugmentSpec& spec, const Rgb& fill, std::optional<Interp> interpolation);
  void operator()(cv::Mat& img, SampleRng& rng) const;
  // A magnitude draw: m, or N(m, mstd) (uniform in [0, m] when mstd is infinite), clipped to [0, mmax].
  double sample_magnitude(SampleRng& rng) const;
  const std::vector<AugOp>& ops() const { return ops_; }
  std::string str() const;  // "RandAugment(n=2, m=9, mstd=0.5, p=0.5, 15 increasing ops)"

 private:
  RandAugmentSpec spec_;
  Rgb fill_;
  std::optional<Interp> interp_;
  std::vector<AugOp> ops_;
};

}  // namespace nat::data
