// RandAugment: op sets, level-to-argument mappings and the per-image policy (see rand_augment.h).
#include "data/rand_augment.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace nat::data {

namespace {

constexpr double kLevelDenom = 10.0;  // timm's _LEVEL_DENOM

double random_sign(double v, SampleRng& rng) { return rng.uniform() > 0.5 ? -v : v; }

}  // namespace

const char* op_name(AugOp op) {
  switch (op) {
    case AugOp::AutoContrast:
      return "AutoContrast";
    case AugOp::Equalize:
      return "Equalize";
    case AugOp::Invert:
      return "Invert";
    case AugOp::Rotate:
      return "Rotate";
    case AugOp::Posterize:
      return "Posterize";
    case AugOp::PosterizeIncreasing:
      return "PosterizeIncreasing";
    case AugOp::Solarize:
      return "Solarize";
    case AugOp::SolarizeIncreasing:
      return "SolarizeIncreasing";
    case AugOp::SolarizeAdd:
      return "SolarizeAdd";
    case AugOp::Color:
      return "Color";
    case AugOp::ColorIncreasing:
      return "ColorIncreasing";
    case AugOp::Contrast:
      return "Contrast";
    case AugOp::ContrastIncreasing:
      return "ContrastIncreasing";
    case AugOp::Brightness:
      return "Brightness";
    case AugOp::BrightnessIncreasing:
      return "BrightnessIncreasing";
    case AugOp::Sharpness:
      return "Sharpness";
    case AugOp::SharpnessIncreasing:
      return "SharpnessIncreasing";
    case AugOp::ShearX:
      return "ShearX";
    case AugOp::ShearY:
      return "ShearY";
    case AugOp::TranslateXRel:
      return "TranslateXRel";
    case AugOp::TranslateYRel:
      return "TranslateYRel";
  }
  return "?";
}

std::vector<AugOp> rand_augment_ops(bool increasing) {
  using A = AugOp;
  if (increasing)
    return {A::AutoContrast,
            A::Equalize,
            A::Invert,
            A::Rotate,
            A::PosterizeIncreasing,
            A::SolarizeIncreasing,
            A::SolarizeAdd,
            A::ColorIncreasing,
            A::ContrastIncreasing,
            A::BrightnessIncreasing,
            A::SharpnessIncreasing,
            A::ShearX,
            A::ShearY,
            A::TranslateXRel,
            A::TranslateYRel};
  return {A::AutoContrast, A::Equalize,    A::Invert, A::Rotate,        A::Posterize,
          A::Solarize,     A::SolarizeAdd, A::Color,  A::Contrast,      A::Brightness,
          A::Sharpness,    A::ShearX,      A::ShearY, A::TranslateXRel, A::TranslateYRel};
}

double level_to_arg(AugOp op, double m, SampleRng& rng) {
  const double l = m / kLevelDenom;
  switch (op) {
    case AugOp::AutoContrast:
    case AugOp::Equalize:
    case AugOp::Invert:
      return 0.0;
    case AugOp::Rotate:
      return random_sign(l * 30.0, rng);
    case AugOp::Posterize:
      return static_cast<int>(l * 4);
    case AugOp::PosterizeIncreasing:
      return 4 - static_cast<int>(l * 4);
    case AugOp::Solarize:
      return std::min(256, static_cast<int>(l * 256));
    case AugOp::SolarizeIncreasing:
      return 256 - std::min(256, static_cast<int>(l * 256));
    case AugOp::SolarizeAdd:
      return std::min(128, static_cast<int>(l * 110));
    case AugOp::Color:
    case AugOp::Contrast:
    case AugOp::Brightness:
    case AugOp::Sharpness:
      return l * 1.8 + 0.1;
    case AugOp::ColorIncreasing:
    case AugOp::ContrastIncreasing:
    case AugOp::BrightnessIncreasing:
    case AugOp::SharpnessIncreasing:
      return std::max(0.1, 1.0 + random_sign(l * 0.9, rng));
    case AugOp::ShearX:
    case AugOp::ShearY:
      return random_sign(l * 0.3, rng);
    case AugOp::TranslateXRel:
    case AugOp::TranslateYRel:
      return random_sign(l * 0.45, rng);
  }
  return 0.0;
}

void apply_op(cv::Mat& img, AugOp op, double arg, Interp interp, const Rgb& fill) {
  switch (op) {
    case AugOp::AutoContrast:
      auto_contrast(img);
      break;
    case AugOp::Equalize:
      equalize(img);
      break;
    case AugOp::Invert:
      invert(img);
      break;
    case AugOp::Rotate:
      rotate(img, arg, interp, fill);
      break;
    case AugOp::Posterize:
    case AugOp::PosterizeIncreasing:
      posterize(img, static_cast<int>(arg));
      break;
    case AugOp::Solarize:
    case AugOp::SolarizeIncreasing:
      solarize(img, static_cast<int>(arg));
      break;
    case AugOp::SolarizeAdd:
      solarize_add(img, static_cast<int>(arg));
      break;
    case AugOp::Color:
    case AugOp::ColorIncreasing:
      enhance_color(img, arg);
      break;
    case AugOp::Contrast:
    case AugOp::ContrastIncreasing:
      enhance_contrast(img, arg);
      break;
    case AugOp::Brightness:
    case AugOp::BrightnessIncreasing:
      enhance_brightness(img, arg);
      break;
    case AugOp::Sharpness:
    case AugOp::SharpnessIncreasing:
      enhance_sharpness(img, arg);
      break;
    case AugOp::ShearX:
      shear_x(img, arg, interp, fill);
      break;
    case AugOp::ShearY:
      shear_y(img, arg, interp, fill);
      break;
    case AugOp::TranslateXRel:
      translate_x(img, arg * img.cols, interp, fill);
      break;
    case AugOp::TranslateYRel:
      translate_y(img, arg * img.rows, interp, fill);
      break;
  }
}

RandAugment::RandAugment(const RandAugmentSpec& spec, const Rgb& fill, std::optional<Interp> interpolation)
    : spec_(spec), fill_(fill), interp_(interpolation), ops_(rand_augment_ops(spec.increasing)) {
  NAT_CHECK(spec.enabled, "[rand_augment] built from a disabled spec");
}

double RandAugment::sample_magnitude(SampleRng& rng) const {
  double m = spec_.magnitude;
  if (std::isinf(spec_.magnitude_std))
    m = rng.uniform(0.0, m);
  else if (spec_.magnitude_std > 0)
    m = rng.normal(m, spec_.magnitude_std);
  return std::clamp(m, 0.0, spec_.magnitude_max);
}

void RandAugment::operator()(cv::Mat& img, SampleRng& rng) const {
  AugOp chosen[16];
  const int n = std::min(spec_.num_layers, 16);
  for (int i = 0; i < n; ++i)
    chosen[i] = ops_[static_cast<size_t>(rng.randint(0, static_cast<int64_t>(ops_.size()) - 1))];
  for (int i = 0; i < n; ++i) {
    if (spec_.prob < 1.0 && rng.uniform() > spec_.prob) continue;
    double arg = level_to_arg(chosen[i], sample_magnitude(rng), rng);
    Interp interp = interp_ ? *interp_ : (rng.uniform() < 0.5 ? Interp::bilinear : Interp::bicubic);
    apply_op(img, chosen[i], arg, interp, fill_);
  }
}

std::string RandAugment::str() const {
  return nat::str("RandAugment(n=", spec_.num_layers, ", m=", spec_.magnitude, ", mstd=", spec_.magnitude_std,
                  ", mmax=", spec_.magnitude_max, ", p=", spec_.prob, ", ", ops_.size(),
                  spec_.increasing ? " increasing ops)" : " ops)");
}

}  // namespace nat::data
