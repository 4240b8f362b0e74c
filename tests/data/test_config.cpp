// DataConfig defaults (docs/recipe.md §1), validation messages naming the key, timm's RandAugment strings,
// and the YAML reader of the data keys.
#include <gtest/gtest.h>

#include <cmath>

#include "data/config.h"
#include "data/config_yaml.h"
#include "support/expect_error.h"

namespace nat::data {
namespace {

TEST(DataConfig, DefaultsAreTheNatRecipe) {
  DataConfig c;
  EXPECT_EQ(c.img_size, 224);
  EXPECT_DOUBLE_EQ(c.scale[0], 0.08);
  EXPECT_DOUBLE_EQ(c.scale[1], 1.0);
  EXPECT_DOUBLE_EQ(c.ratio[0], 0.75);
  EXPECT_DOUBLE_EQ(c.ratio[1], 4.0 / 3.0);
  EXPECT_EQ(c.train_interpolation, "random");
  EXPECT_EQ(c.interpolation, "bicubic");
  EXPECT_DOUBLE_EQ(c.hflip, 0.5);
  EXPECT_EQ(c.aa, "rand-m9-mstd0.5-inc1");
  EXPECT_DOUBLE_EQ(c.reprob, 0.25);
  EXPECT_EQ(c.remode, "pixel");
  EXPECT_EQ(c.recount, 1);
  EXPECT_DOUBLE_EQ(c.mixup, 0.8);
  EXPECT_DOUBLE_EQ(c.cutmix, 1.0);
  EXPECT_DOUBLE_EQ(c.mixup_prob, 1.0);
  EXPECT_DOUBLE_EQ(c.mixup_switch_prob, 0.5);
  EXPECT_EQ(c.mixup_mode, "batch");
  EXPECT_DOUBLE_EQ(c.smoothing, 0.1);
  EXPECT_DOUBLE_EQ(c.crop_pct, 0.875);
  EXPECT_DOUBLE_EQ(c.mean[0], 0.485);
  EXPECT_DOUBLE_EQ(c.std[2], 0.225);
  EXPECT_EQ(c.seed, 42);
  EXPECT_TRUE(c.mixup_active());
  EXPECT_NO_THROW(c.validate());
}

TEST(DataConfig, MaxImagePixelsIsPilsLimitAndAKey) {
  DataConfig c;
  EXPECT_EQ(c.max_image_pixels, 89478485);  // PIL's Image.MAX_IMAGE_PIXELS
  c.max_image_pixels = -1;
  NAT_EXPECT_ERROR(c.validate(), "max_image_pixels", ">= 0", "-1");
  c.max_image_pixels = 0;  // no limit
  bool listed = false;
  for (const auto& [k, v] : c.rows()) listed |= k == "max_image_pixels" && v == "0 (no limit)";
  EXPECT_TRUE(listed);
#if NAT_WITH_YAML
  EXPECT_EQ(parse_data_config_yaml("max_image_pixels: 1000\n", "test").max_image_pixels, 1000);
#endif
}

TEST(DataConfig, ValidateNamesTheKey) {
  auto bad = [](auto mutate) {
    DataConfig c;
    mutate(c);
    return c;
  };
  NAT_EXPECT_ERROR(bad([](DataConfig& c) { c.scale = {0.5, 0.2}; }).validate(), "scale", "[0.5, 0.2]");
  NAT_EXPECT_ERROR(bad([](DataConfig& c) { c.hflip = 1.5; }).validate(), "hflip", "1.5");
  NAT_EXPECT_ERROR(bad([](DataConfig& c) { c.remode = "zero"; }).validate(), "remode", "zero");
  NAT_EXPECT_ERROR(bad([](DataConfig& c) { c.mixup_mode = "row"; }).validate(), "mixup_mode", "row");
  NAT_EXPECT_ERROR(bad([](DataConfig& c) { c.train_interpolation = "nearest"; }).validate(), "train_interpolation");
  NAT_EXPECT_ERROR(bad([](DataConfig& c) { c.crop_pct = 0; }).validate(), "crop_pct");
  NAT_EXPECT_ERROR(bad([](DataConfig& c) { c.std = {0.2, 0, 0.2}; }).validate(), "std");
  NAT_EXPECT_ERROR(bad([](DataConfig& c) { c.batch_size = 7; }).validate(), "batch_size", "even", "7");
  NAT_EXPECT_ERROR(bad([](DataConfig& c) { c.aa = "v0"; }).validate(), "aa", "v0");
  NAT_EXPECT_ERROR(bad([](DataConfig& c) { c.smoothing = 1.0; }).validate(), "smoothing");
  DataConfig odd_without_mixup;
  odd_without_mixup.mixup = odd_without_mixup.cutmix = 0;
  odd_without_mixup.batch_size = 7;
  EXPECT_NO_THROW(odd_without_mixup.validate());
}

TEST(DataConfig, ParsesRandAugmentStrings) {
  RandAugmentSpec s = parse_rand_augment("rand-m9-mstd0.5-inc1");
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.num_layers, 2);
  EXPECT_DOUBLE_EQ(s.magnitude, 9);
  EXPECT_DOUBLE_EQ(s.magnitude_std, 0.5);
  EXPECT_DOUBLE_EQ(s.magnitude_max, 10);
  EXPECT_DOUBLE_EQ(s.prob, 0.5);
  EXPECT_TRUE(s.increasing);

  RandAugmentSpec t = parse_rand_augment("rand-n3-m7-mstd101-p0.7");
  EXPECT_EQ(t.num_layers, 3);
  EXPECT_DOUBLE_EQ(t.magnitude, 7);
  EXPECT_TRUE(std::isinf(t.magnitude_std));  // > 100: uniform sampling
  EXPECT_DOUBLE_EQ(t.prob, 0.7);
  EXPECT_FALSE(t.increasing);

  EXPECT_DOUBLE_EQ(parse_rand_augment("rand").magnitude, 10);  // timm's default _LEVEL_DENOM
  EXPECT_FALSE(parse_rand_augment("").enabled);
  EXPECT_FALSE(parse_rand_augment("none").enabled);
  NAT_EXPECT_ERROR(parse_rand_augment("rand-q4"), "unknown RandAugment section", "q4");
  NAT_EXPECT_ERROR(parse_rand_augment("augmix-m5"), "aa", "augmix-m5");
  NAT_EXPECT_ERROR(parse_rand_augment("rand-m9x"), "aa", "m9x");
  EXPECT_DOUBLE_EQ(parse_rand_augment("rand-mx").magnitude, 10);  // timm skips sections without a number
}

#if NAT_WITH_YAML
TEST(DataConfigYaml, ReadsDataKeysAndIgnoresTheRest) {
  DataConfig c = parse_data_config_yaml(
      "model: nat_tiny\nlr: 1e-3\nepochs: 300\namp: True\nbatch_size: 64\nimg_size: 32\n"
      "scale: [0.5, 1.0]\nmean: null\naa: null\nmixup: 0.2\ncutmix_minmax: [0.2, 0.8]\ninterpolation: ''\n"
      "data_dir: /data/imagenet\npin_mem: false\n",
      "inline");
  EXPECT_EQ(c.batch_size, 64);
  EXPECT_EQ(c.img_size, 32);
  EXPECT_DOUBLE_EQ(c.scale[0], 0.5);
  EXPECT_DOUBLE_EQ(c.mean[0], 0.485);  // null keeps the default
  EXPECT_EQ(c.aa, "");                 // aa: null is timm's None (off)
  EXPECT_DOUBLE_EQ(c.mixup, 0.2);
  ASSERT_TRUE(c.cutmix_minmax.has_value());
  EXPECT_DOUBLE_EQ((*c.cutmix_minmax)[1], 0.8);
  EXPECT_EQ(c.interpolation, "bicubic");
  EXPECT_EQ(c.data_dir, "/data/imagenet");
  EXPECT_FALSE(c.pin_mem);
}

TEST(DataConfigYaml, ErrorsNameFileAndKey) {
  NAT_EXPECT_ERROR(parse_data_config_yaml("scale: [0.5]\n", "cfg.yml"), "cfg.yml", "scale", "2 numbers");
  NAT_EXPECT_ERROR(parse_data_config_yaml("batch_size: many\n", "cfg.yml"), "cfg.yml", "batch_size", "integer");
  NAT_EXPECT_ERROR(parse_data_config_yaml("hflip: 2\n", "cfg.yml"), "cfg.yml", "hflip");
  NAT_EXPECT_ERROR(parse_data_config_yaml("a: [1, 2\n", "cfg.yml"), "cfg.yml", "YAML error", "line");
  NAT_EXPECT_ERROR(load_data_config_yaml("/nonexistent/nat.yml"), "cannot read", "/nonexistent/nat.yml");
}
#endif

}  // namespace
}  // namespace nat::data
