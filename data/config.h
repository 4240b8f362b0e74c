// DataConfig: every knob of the data pipeline, one field per key, named exactly as timm's train.py
// argparse `dest` (so a timm/NAT YAML config maps 1:1 onto it). Defaults are those of NAT's
// classification/train.py (a fork of timm@9d6aad4's), i.e. the recipe of docs/recipe.md §1; where upstream
// timm's CLI default differs, the comment says so. validate() throws nat::Error naming the key.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nat::data {

struct DataConfig {
  // ---- dataset ----
  std::string data_dir;                  // root holding <split>/<class>/<image>
  std::string dataset;                   // "" (ImageFolder) is the only kind supported
  std::string train_split = "train";     // also tried: training
  std::string val_split = "validation";  // also tried: val, valid, eval, evaluation
  std::string class_map;                 // optional text file, one class folder name per line
  int64_t num_classes = 0;               // 0: the number of classes found in the train split

  // ---- input size and normalisation ----
  int64_t img_size = 224;
  double crop_pct = 0.875;                             // eval: resize to floor(img_size / crop_pct)
  std::array<double, 3> mean = {0.485, 0.456, 0.406};  // IMAGENET_DEFAULT_MEAN
  std::array<double, 3> std = {0.229, 0.224, 0.225};   // IMAGENET_DEFAULT_STD
  std::string interpolation = "bicubic";               // eval resize (timm: '' -> model default bicubic)
  std::string train_interpolation = "random";          // random | bilinear | bicubic

  // ---- batching ----
  int64_t batch_size = 128;
  int64_t validation_batch_size = 0;  // 0: batch_size
  int64_t workers = 8;                // decode/augment threads (0: in the calling thread)
  bool pin_mem = true;                // timm's CLI default is false; pinned only when a GPU exists
  int64_t seed = 42;

  // ---- decoding ----
  // Images whose header promises more pixels are refused before anything is allocated (a JPEG of 900
  // bytes can claim 65500 x 65500 pixels, 13 GB decoded). 0: no limit. Default: PIL's MAX_IMAGE_PIXELS.
  int64_t max_image_pixels = 89478485;

  // ---- train augmentation ----
  bool no_aug = false;  // train with the eval-style resize + center crop (crop_pct 1)
  std::array<double, 2> scale = {0.08, 1.0};
  std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0};
  double hflip = 0.5;
  double vflip = 0.0;
  double color_jitter = 0.4;                // applied only when `aa` is off, as in timm
  std::string aa = "rand-m9-mstd0.5-inc1";  // RandAugment config string; "" or "none": off (timm: None)
  double reprob = 0.25;                     // timm: 0
  std::string remode = "pixel";             // const | rand | pixel (timm@9d6aad4 CLI: const)
  int64_t recount = 1;

  // ---- mixup / cutmix (batch level) ----
  double mixup = 0.8;   // timm: 0
  double cutmix = 1.0;  // timm: 0
  std::optional<std::array<double, 2>> cutmix_minmax;
  double mixup_prob = 1.0;
  double mixup_switch_prob = 0.5;
  std::string mixup_mode = "batch";  // batch | pair | elem
  int64_t mixup_off_epoch = 0;       // mixing stops at this epoch; 0: never
  double smoothing = 0.1;

  bool mixup_active() const { return mixup > 0 || cutmix > 0 || cutmix_minmax.has_value(); }
  int64_t eval_batch_size() const { return validation_batch_size > 0 ? validation_batch_size : batch_size; }
  // Throws nat::Error naming the first invalid key, its value and what it must be.
  void validate() const;
  // (key, value) rows in declaration order, for the start-up configuration table.
  std::vector<std::pair<std::string, std::string>> rows() const;
};

// Parsed form of a timm RandAugment string such as "rand-m9-mstd0.5-inc1".
struct RandAugmentSpec {
  bool enabled = false;
  int num_layers = 2;         // n
  double magnitude = 10;      // m (timm's default when absent: _LEVEL_DENOM)
  double magnitude_std = 0;   // mstd (> 100: uniform in [0, m])
  double magnitude_max = 10;  // mmax
  double prob = 0.5;          // p: probability that each chosen op is applied
  bool increasing = false;    // inc1: the "increasing severity" op set
};
// "" and "none" give a disabled spec; anything but rand-* (AutoAugment, AugMix) throws, naming `aa`.
RandAugmentSpec parse_rand_augment(const std::string& aa);

}  // namespace nat::data
