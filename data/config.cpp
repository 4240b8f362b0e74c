// DataConfig validation and printing, and the parser for timm's RandAugment strings.
#include "data/config.h"

#include <cctype>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/error.h"

namespace nat::data {

namespace {

bool in_unit(double p) { return p >= 0.0 && p <= 1.0; }

template <size_t N>
std::string list_str(const std::array<double, N>& v) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < N; ++i) os << (i ? ", " : "") << v[i];
  os << "]";
  return os.str();
}

bool is_interp(const std::string& s, bool allow_random) {
  return s == "bilinear" || s == "bicubic" || (allow_random && s == "random");
}

}  // namespace

void DataConfig::validate() const {
  const char* w = "[data config] ";
  NAT_CHECK(dataset.empty() || dataset == "folder" || dataset == "imagefolder", w,
            "dataset: only ImageFolder "
            "trees are supported (\"\", \"folder\"), got \"",
            dataset, "\"");
  NAT_CHECK(!train_split.empty(), w, "train_split must not be empty");
  NAT_CHECK(!val_split.empty(), w, "val_split must not be empty");
  NAT_CHECK(num_classes >= 0, w, "num_classes must be >= 0 (0: from the dataset), got ", num_classes);
  NAT_CHECK(img_size >= 8 && img_size <= 4096, w, "img_size must be in [8, 4096], got ", img_size);
  NAT_CHECK(crop_pct > 0 && crop_pct <= 1, w, "crop_pct must be in (0, 1], got ", crop_pct);
  for (int c = 0; c < 3; ++c) {
    NAT_CHECK(std::isfinite(mean[c]), w, "mean must be 3 finite numbers, got ", list_str(mean));
    NAT_CHECK(std::isfinite(this->std[c]) && this->std[c] > 0, w, "std must be 3 positive numbers, got ",
              list_str(this->std));
  }
  NAT_CHECK(is_interp(interpolation, false), w, "interpolation must be bilinear or bicubic, got \"", interpolation,
            "\"");
  NAT_CHECK(is_interp(train_interpolation, true), w, "train_interpolation must be random, bilinear or bicubic, got \"",
            train_interpolation, "\"");
  NAT_CHECK(batch_size >= 1, w, "batch_size must be >= 1, got ", batch_size);
  NAT_CHECK(validation_batch_size >= 0, w, "validation_batch_size must be >= 0, got ", validation_batch_size);
  NAT_CHECK(workers >= 0 && workers <= 1024, w, "workers must be in [0, 1024], got ", workers);
  NAT_CHECK(max_image_pixels >= 0, w, "max_image_pixels must be >= 0 (0: no limit), got ", max_image_pixels);
  NAT_CHECK(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1, w,
            "scale must be (min, max) with 0 < min <= max <= 1, got ", list_str(scale));
  NAT_CHECK(ratio[0] > 0 && ratio[0] <= ratio[1], w, "ratio must be (min, max) with 0 < min <= max, got ",
            list_str(ratio));
  NAT_CHECK(in_unit(hflip), w, "hflip must be a probability in [0, 1], got ", hflip);
  NAT_CHECK(in_unit(vflip), w, "vflip must be a probability in [0, 1], got ", vflip);
  NAT_CHECK(color_jitter >= 0 && color_jitter < 1, w, "color_jitter must be in [0, 1), got ", color_jitter);
  parse_rand_augment(aa);  // throws naming `aa`
  NAT_CHECK(in_unit(reprob), w, "reprob must be a probability in [0, 1], got ", reprob);
  NAT_CHECK(remode == "const" || remode == "rand" || remode == "pixel", w,
            "remode must be const, rand or pixel, got \"", remode, "\"");
  NAT_CHECK(recount >= 1, w, "recount must be >= 1, got ", recount);
  NAT_CHECK(mixup >= 0, w, "mixup (alpha) must be >= 0, got ", mixup);
  NAT_CHECK(cutmix >= 0, w, "cutmix (alpha) must be >= 0, got ", cutmix);
  if (cutmix_minmax)
    NAT_CHECK((*cutmix_minmax)[0] > 0 && (*cutmix_minmax)[0] < (*cutmix_minmax)[1] && (*cutmix_minmax)[1] <= 1, w,
              "cutmix_minmax must be (min, max) with 0 < min < max <= 1, got ", list_str(*cutmix_minmax));
  NAT_CHECK(in_unit(mixup_prob), w, "mixup_prob must be a probability in [0, 1], got ", mixup_prob);
  NAT_CHECK(in_unit(mixup_switch_prob), w, "mixup_switch_prob must be a probability in [0, 1], got ",
            mixup_switch_prob);
  NAT_CHECK(mixup_mode == "batch" || mixup_mode == "pair" || mixup_mode == "elem", w,
            "mixup_mode must be batch, pair or elem, got \"", mixup_mode, "\"");
  NAT_CHECK(mixup_off_epoch >= 0, w, "mixup_off_epoch must be >= 0, got ", mixup_off_epoch);
  NAT_CHECK(smoothing >= 0 && smoothing < 1, w, "smoothing must be in [0, 1), got ", smoothing);
  if (mixup_active())
    NAT_CHECK(batch_size % 2 == 0, w, "batch_size must be even when mixup/cutmix is on (each sample mixes with ",
              "its mirror in the batch), got ", batch_size);
}

std::vector<std::pair<std::string, std::string>> DataConfig::rows() const {
  auto num = [](double v) {
    std::ostringstream os;
    os << v;
    return os.str();
  };
  auto quoted = [](const std::string& s) { return s.empty() ? std::string("''") : s; };
  return {
      {"data_dir", quoted(data_dir)},
      {"dataset", quoted(dataset)},
      {"train_split", train_split},
      {"val_split", val_split},
      {"class_map", quoted(class_map)},
      {"num_classes", num_classes ? std::to_string(num_classes) : "(from the dataset)"},
      {"img_size", std::to_string(img_size)},
      {"crop_pct", num(crop_pct)},
      {"mean", list_str(mean)},
      {"std", list_str(this->std)},
      {"interpolation", interpolation},
      {"train_interpolation", train_interpolation},
      {"batch_size", std::to_string(batch_size)},
      {"validation_batch_size", std::to_string(eval_batch_size())},
      {"workers", std::to_string(workers)},
      {"pin_mem", pin_mem ? "true" : "false"},
      {"seed", std::to_string(seed)},
      {"max_image_pixels", max_image_pixels ? std::to_string(max_image_pixels) : "0 (no limit)"},
      {"no_aug", no_aug ? "true" : "false"},
      {"scale", list_str(scale)},
      {"ratio", list_str(ratio)},
      {"hflip", num(hflip)},
      {"vflip", num(vflip)},
      {"color_jitter", num(color_jitter) + (parse_rand_augment(aa).enabled ? " (unused: aa is on)" : "")},
      {"aa", quoted(aa)},
      {"reprob", num(reprob)},
      {"remode", remode},
      {"recount", std::to_string(recount)},
      {"mixup", num(mixup)},
      {"cutmix", num(cutmix)},
      {"cutmix_minmax", cutmix_minmax ? list_str(*cutmix_minmax) : "none"},
      {"mixup_prob", num(mixup_prob)},
      {"mixup_switch_prob", num(mixup_switch_prob)},
      {"mixup_mode", mixup_mode},
      {"mixup_off_epoch", std::to_string(mixup_off_epoch)},
      {"smoothing", num(smoothing)},
  };
}

RandAugmentSpec parse_rand_augment(const std::string& aa) {
  RandAugmentSpec s;
  if (aa.empty() || aa == "none" || aa == "None") return s;
  NAT_CHECK(aa.rfind("rand", 0) == 0, "[data config] aa: only RandAugment strings (rand-...) are supported, got \"", aa,
            "\" (AutoAugment policies and AugMix are not implemented)");
  std::vector<std::string> parts;
  std::stringstream ss(aa);
  for (std::string p; std::getline(ss, p, '-');) parts.push_back(p);
  NAT_CHECK(parts[0] == "rand", "[data config] aa: expected \"rand-...\", got \"", aa, "\"");
  s.enabled = true;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    size_t k = 0;
    while (k < p.size() && std::isalpha(static_cast<unsigned char>(p[k]))) ++k;
    std::string key = p.substr(0, k), val = p.substr(k);
    NAT_CHECK(key != "t", "[data config] aa: weighted transform sets (", p, ") are not implemented, in \"", aa, "\"");
    if (val.empty()) continue;  // timm ignores sections without a number
    double v = 0;
    try {
      size_t used = 0;
      v = std::stod(val, &used);
      NAT_CHECK(used == val.size(), "");
    } catch (...) {
      NAT_THROW("[data config] aa: section \"", p, "\" of \"", aa, "\" has no valid number");
    }
    if (key == "m")
      s.magnitude = static_cast<int>(v);
    else if (key == "n")
      s.num_layers = static_cast<int>(v);
    else if (key == "mstd")
      s.magnitude_std = v > 100 ? std::numeric_limits<double>::infinity() : v;
    else if (key == "mmax")
      s.magnitude_max = static_cast<int>(v);
    else if (key == "inc")
      s.increasing = v != 0;  // (timm tests the string, so even "inc0" enables it)
    else if (key == "p")
      s.prob = v;
    else
      NAT_THROW("[data config] aa: unknown RandAugment section \"", p, "\" in \"", aa,
                "\" (known: m, n, mstd, mmax, inc, p)");
  }
  NAT_CHECK(s.num_layers >= 0 && s.num_layers <= 16, "[data config] aa: n must be in [0, 16], got ", s.num_layers);
  NAT_CHECK(s.magnitude >= 0, "[data config] aa: m must be >= 0, got ", s.magnitude);
  NAT_CHECK(s.magnitude_std >= 0, "[data config] aa: mstd must be >= 0, got ", s.magnitude_std);
  NAT_CHECK(s.prob >= 0 && s.prob <= 1, "[data config] aa: p must be in [0, 1], got ", s.prob);
  return s;
}

}  // namespace nat::data
