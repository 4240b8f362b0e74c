// TrainConfig: the official NAT configs load unchanged, every error path names the key and where it came
// from, command-line overrides follow timm's conventions, and args.yaml round-trips.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/expect_error.h"
#include "train/config.h"

namespace nat::train {
namespace {

namespace fs = std::filesystem;

// classification/configs/nat_tiny.yml of the NAT repository (docs/recipe.md §1), verbatim.
const char* kOfficialNatTiny =
    "model: nat_tiny\nlr: 1e-3\nwarmup_lr: 1e-6\nmin_lr: 5e-6\nepochs: 300\ncooldown_epochs: 10\nwarmup_epochs: 20\n"
    "amp: True\nbatch_size: 128\nsched: cosine\nsched_epochwise: False\nweight_decay: 5e-2\n";

fs::path repo_root() { return fs::path(NAT_SOURCE_DIR); }  // set by tests/CMakeLists.txt

TrainConfig parse(const std::string& text, TrainConfig base = {}) {
  TrainConfig c = apply_yaml_text(text, "test.yaml", std::move(base));
  c.validate();
  return c;
}

TEST(TrainConfig, OfficialNatConfigLoadsUnchanged) {
  TrainConfig c = parse(kOfficialNatTiny);
  EXPECT_EQ(c.model, "nat_tiny");
  EXPECT_DOUBLE_EQ(c.lr, 1e-3);
  EXPECT_DOUBLE_EQ(c.warmup_lr, 1e-6);
  EXPECT_DOUBLE_EQ(c.min_lr, 5e-6);
  EXPECT_EQ(c.epochs, 300);
  EXPECT_EQ(c.cooldown_epochs, 10);
  EXPECT_EQ(c.total_epochs(), 310);
  EXPECT_EQ(c.warmup_epochs, 20);
  EXPECT_TRUE(c.amp);
  EXPECT_EQ(c.data.batch_size, 128);
  EXPECT_EQ(c.sched, "cosine");
  EXPECT_FALSE(c.sched_epochwise);
  EXPECT_DOUBLE_EQ(c.weight_decay, 0.05);
  // The train.py defaults of docs/recipe.md §1 fill the rest.
  EXPECT_EQ(c.opt, "adamw");
  EXPECT_EQ(c.clip_grad.value_or(0), 5.0);
  EXPECT_DOUBLE_EQ(c.data.smoothing, 0.1);
  EXPECT_DOUBLE_EQ(c.data.mixup, 0.8);
  EXPECT_DOUBLE_EQ(c.data.cutmix, 1.0);
  EXPECT_EQ(c.data.aa, "rand-m9-mstd0.5-inc1");
  EXPECT_DOUBLE_EQ(c.data.reprob, 0.25);
  EXPECT_EQ(c.nat_config().num_classes, 1000);
  EXPECT_EQ(c.nat_config().embed_dim, 64);
}

TEST(TrainConfig, ShippedConfigsLoadAndValidate) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(repo_root() / "configs")) {
    if (e.path().extension() != ".yaml") continue;
    SCOPED_TRACE(e.path().string());
    TrainConfig c = apply_yaml_file(e.path().string());
    EXPECT_NO_THROW(c.validate());
    EXPECT_NO_THROW(c.nat_config());
    ++n;
  }
  EXPECT_GE(n, 9);  // nat_{mini,tiny,small,base}, dinat_{mini,tiny,small,base}, digits
}

TEST(TrainConfig, PythonBooleansHyphensAndNulls) {
  TrainConfig c = parse("model-ema: True\nsched-epochwise: TRUE\nclip-grad: null\naa: None\npin_mem: off\n");
  EXPECT_TRUE(c.model_ema);
  EXPECT_TRUE(c.sched_epochwise);
  EXPECT_FALSE(c.clip_grad.has_value());
  EXPECT_EQ(c.data.aa, "None");  // a string; DataConfig treats "None" as off
  EXPECT_FALSE(c.data.pin_mem);
  c = parse("aa: null\nlr: null\nsched_on_updates: true\n");
  EXPECT_EQ(c.data.aa, "");
  EXPECT_DOUBLE_EQ(c.lr, TrainConfig{}.lr);  // null resets to the default
  EXPECT_FALSE(c.sched_epochwise);
}

TEST(TrainConfig, UnknownKeyNamesKeyFileAndSuggestion) {
  NAT_EXPECT_ERROR(parse("weight_decy: 0.1\n"), "test.yaml", "unknown key 'weight_decy'",
                   "did you mean 'weight_decay'");
  NAT_EXPECT_ERROR(parse("warmup-epoch: 3\n"), "test.yaml", "'warmup-epoch'", "did you mean 'warmup_epochs'");
  NAT_EXPECT_ERROR(parse("completely_unrelated_thing: 3\n"), "test.yaml", "unknown key", "--list-keys");
  EXPECT_EQ(closest_key("batchsize"), "batch_size");
  EXPECT_EQ(closest_key("zzzzzzzzzzzz"), "");
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(TrainConfig, WrongTypesNameKeyAndFile) {
  NAT_EXPECT_ERROR(parse("lr: fast\n"), "test.yaml", "key 'lr'", "expected a number", "fast");
  NAT_EXPECT_ERROR(parse("epochs: 1.5\n"), "test.yaml", "key 'epochs'", "expected an integer");
  NAT_EXPECT_ERROR(parse("amp: maybe\n"), "test.yaml", "key 'amp'", "true or false");
  NAT_EXPECT_ERROR(parse("opt_betas: [0.9]\n"), "test.yaml", "key 'opt_betas'", "a list of 2 numbers");
  NAT_EXPECT_ERROR(parse("depths: 3\n"), "test.yaml", "key 'depths'", "list of integers");
  NAT_EXPECT_ERROR(parse("model: [a, b]\n"), "test.yaml", "key 'model'", "expected a string");
  NAT_EXPECT_ERROR(parse("- lr\n- 3\n"), "test.yaml", "mapping");
  NAT_EXPECT_ERROR(parse("lr: [1, 2\n"), "test.yaml", "YAML error at line");
}

TEST(TrainConfig, ImpossibleValuesNameKeyAndFile) {
  NAT_EXPECT_ERROR(parse("lr: -1\n"), "test.yaml", "key 'lr'", "must be in (0, 1000]");
  NAT_EXPECT_ERROR(parse("smoothing: 1.5\n"), "test.yaml", "key 'smoothing'", "[0, 1)");
  NAT_EXPECT_ERROR(parse("opt: adam\n"), "test.yaml", "key 'opt'", "must be one of");
  NAT_EXPECT_ERROR(parse("batch_size: 0\n"), "test.yaml", "key 'batch_size'", "must be in [1, 65536]");
  NAT_EXPECT_ERROR(parse("hflip: 2\n"), "test.yaml", "key 'hflip'", "probability");
  NAT_EXPECT_ERROR(parse("aa: auto-v0\n"), "test.yaml", "key 'aa'", "RandAugment");
  NAT_EXPECT_ERROR(parse("device: gpu\n"), "test.yaml", "key 'device'");
  NAT_EXPECT_ERROR(parse("kernel_size: 0\n"), "test.yaml", "key 'kernel_size'");
  // cross-key checks name every key involved and where each was set
  NAT_EXPECT_ERROR(parse("epochs: 10\nwarmup_epochs: 20\n"), "warmup_epochs", "epochs from test.yaml");
  NAT_EXPECT_ERROR(parse("lr: 1e-4\nmin_lr: 1e-3\n"), "min_lr", "lr from test.yaml");
  NAT_EXPECT_ERROR(parse("batch_size: 7\n"), "batch_size", "even", "test.yaml");
  NAT_EXPECT_ERROR(parse("model: nat_mini\ndepths: [2, 2]\n"), "model keys", "num_heads", "depths from test.yaml");
  NAT_EXPECT_ERROR(parse("model: dinat_mini\ndepths: [2, 2, 2, 2]\n"), "dilations");
  NAT_EXPECT_ERROR(parse("model: nat_huge\n"), "key 'model'", "unknown model 'nat_huge'");
  NAT_EXPECT_ERROR(parse("in_chans: 1\n"), "in_chans must be 3");
  NAT_EXPECT_ERROR(parse("no_resume_opt: true\n"), "no_resume_opt needs resume");
  NAT_EXPECT_ERROR(parse("lr: 1\nlr: 2\n"), "test.yaml", "more than once");
  NAT_EXPECT_ERROR(parse("batch_size: 8\nbatch-size: 16\n"), "test.yaml", "more than once");
}

TEST(TrainConfig, InertTimmKeysOnlyAtTheirNeutralValue) {
  EXPECT_NO_THROW(parse("pretrained: False\nlr_noise: null\nchannels_last: true\nworker_seeding: all\n"));
  NAT_EXPECT_ERROR(parse("pretrained: True\n"), "test.yaml", "'pretrained'", "does not implement");
  NAT_EXPECT_ERROR(parse("lr_cycle_limit: 3\n"), "'lr_cycle_limit'", "does not implement");
}

TEST(TrainConfig, CommandLineOverridesTheFile) {
  fs::path dir = fs::temp_directory_path() / "nat_test_config";
  fs::create_directories(dir);
  fs::path file = dir / "c.yaml";
  {
    std::FILE* f = std::fopen(file.string().c_str(), "w");
    std::fputs(kOfficialNatTiny, f);
    std::fclose(f);
  }
  CommandLine cl = parse_command_line({"--config", file.string(), "--lr", "0.01", "--opt-betas", "0.8", "0.9",
                                       "--model_ema", "--batch-size=64", "--depths", "[3,4,6,5]", "--amp", "false",
                                       "-j", "2", "--dry-run", "/data/imagenet"});
  EXPECT_TRUE(cl.dry_run);
  TrainConfig c = load_config(cl);
  EXPECT_DOUBLE_EQ(c.lr, 0.01);
  EXPECT_DOUBLE_EQ(c.opt_betas[0], 0.8);
  EXPECT_DOUBLE_EQ(c.opt_betas[1], 0.9);
  EXPECT_TRUE(c.model_ema);
  EXPECT_FALSE(c.amp);
  EXPECT_EQ(c.data.batch_size, 64);
  EXPECT_EQ(c.data.workers, 2);
  EXPECT_EQ(c.data.data_dir, "/data/imagenet");
  EXPECT_EQ(c.epochs, 300);  // from the file
  NAT_EXPECT_ERROR(load_config(parse_command_line({"--weight-decy", "0.1"})), "command line",
                   "did you mean 'weight_decay'");
  NAT_EXPECT_ERROR(load_config(parse_command_line({"--lr", "x"})), "command line", "key 'lr'", "expected a number");
  NAT_EXPECT_ERROR(load_config(parse_command_line({"--config", (dir / "missing.yaml").string()})), "cannot read",
                   "missing.yaml");
  fs::remove_all(dir);
}

TEST(TrainConfig, ArgsYamlRoundTrips) {
  TrainConfig c = parse(std::string(kOfficialNatTiny) + "depths: [3, 4, 6, 5]\ncutmix_minmax: [0.2, 0.8]\n");
  c.clip_grad.reset();
  std::string yaml = c.to_yaml();
  TrainConfig back = apply_yaml_text(yaml, "args.yaml");
  EXPECT_EQ(back.rows(), c.rows());
  EXPECT_NE(yaml.find("warmup_lr: 1.0e-06"), std::string::npos) << yaml;  // PyYAML reads it as a float
  EXPECT_NE(yaml.find("clip_grad: ~"), std::string::npos) << yaml;
  EXPECT_NE(format_config_table(c).find("* lr"), std::string::npos);
}

TEST(TrainConfig, ModelOverridesBuildACustomNat) {
  TrainConfig c = parse(
      "model: custom\nembed_dim: 32\ndepths: [2, 2]\nnum_heads: [2, 4]\nkernel_size: 5\nmlp_ratio: 2\n"
      "drop_path: 0.05\nnum_classes: 10\n");
  nn::NatConfig m = c.nat_config();
  EXPECT_EQ(m.embed_dim, 32);
  EXPECT_EQ(m.depths, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(m.kernel_size, 5);
  EXPECT_DOUBLE_EQ(m.drop_path_rate, 0.05);
  EXPECT_EQ(m.num_classes, 10);
  TrainConfig d = parse("model: nat_small\nlayer_scale: 0\nnum_classes: 0\n");
  EXPECT_FALSE(d.nat_config().layer_scale.has_value());
  EXPECT_EQ(d.nat_config(37).num_classes, 37);  // from the dataset
  EXPECT_EQ(d.nat_config(37).name, "nat_small+custom");
}

TEST(TrainConfig, EveryKeyIsListedWithItsDefault) {
  const auto& keys = config_keys();
  EXPECT_GE(keys.size(), 80u);
  for (const char* k : {"model",
                        "data_dir",
                        "dataset",
                        "train_split",
                        "val_split",
                        "num_classes",
                        "img_size",
                        "batch_size",
                        "epochs",
                        "cooldown_epochs",
                        "opt",
                        "opt_eps",
                        "opt_betas",
                        "momentum",
                        "lr",
                        "warmup_lr",
                        "warmup_epochs",
                        "min_lr",
                        "sched",
                        "sched_epochwise",
                        "weight_decay",
                        "clip_grad",
                        "clip_mode",
                        "smoothing",
                        "mixup",
                        "cutmix",
                        "drop_path",
                        "model_ema",
                        "model_ema_decay",
                        "amp",
                        "amp_dtype",
                        "seed",
                        "workers",
                        "output",
                        "experiment",
                        "log_interval",
                        "checkpoint_hist",
                        "resume",
                        "aa",
                        "reprob",
                        "decay_rpb"}) {
    bool found = false;
    for (const auto& info : keys) found |= info.name == k;
    EXPECT_TRUE(found) << k;
  }
}

// Issue 17: every numeric key has a range, so an absurd value is an error naming the key before any work
// (--threads 65536 used to segfault, mlp_ratio 1e30 overflowed to a negative layer width).
TEST(TrainConfig, EveryNumericKeyRefusesAbsurdValues) {
  int numeric = 0;
  for (const auto& info : config_keys()) {
    std::string absurd;
    if (info.type == "int" || info.type == "int or null")
      absurd = "4611686018427387904";  // 2^62
    else if (info.type == "float" || info.type == "float or null")
      absurd = "1e300";
    else if (info.type == "int list" || info.type == "int list or null")
      absurd = "[4611686018427387904]";
    else if (info.type == "int list list" || info.type == "int list list or null")
      absurd = "[[4611686018427387904]]";
    else if (info.type.rfind("float[", 0) == 0)
      absurd = info.type == "float[3]" ? "[1e300, 1e300, 1e300]" : "[1e300, 1e300]";
    else
      continue;
    if (info.name == "seed") continue;  // any non-negative 64-bit seed is a valid seed
    ++numeric;
    TrainConfig c;
    EXPECT_THROW(apply_key(c, info.name, absurd, "--" + info.name), Error) << info.name << " accepted " << absurd;
  }
  EXPECT_GE(numeric, 40);
}

TEST(TrainConfig, ThreadsAndWorkersHaveUpperBounds) {
  TrainConfig c;
  NAT_EXPECT_ERROR(apply_key(c, "threads", "65536", "--threads"), "threads", "[0, 1024]", "65536");
  NAT_EXPECT_ERROR(apply_key(c, "workers", "5000", "--workers"), "workers", "[0, 1024]");
  apply_key(c, "threads", "8", "--threads");
  EXPECT_EQ(c.threads, 8);
}

TEST(TrainConfig, MlpRatioThatWouldOverflowIsRefused) {
  NAT_EXPECT_ERROR(parse("model: nat_mini\nmlp_ratio: 1e30\n"), "mlp_ratio", "1e+30");
  NAT_EXPECT_ERROR(parse("model: '{\"base\": \"nat_mini\", \"mlp_ratio\": 1e30}'\n"), "mlp_ratio");
}

// A kernel_size above the first level's map (img_size / 4) pads every level: 242 s and 18 GB for one step of
// 16 images at kernel_size 99 on a 7x7 map. Refused unless allowed; the official 224 px configs pass.
TEST(TrainConfig, WindowLargerThanTheFirstLevelIsRefusedUnlessAllowed) {
  NAT_EXPECT_ERROR(parse("model: nat_mini\nkernel_size: 99\nimg_size: 28\n"), "kernel_size 99", "7x7",
                   "allow_large_window");
  TrainConfig ok = parse("model: nat_mini\nkernel_size: 99\nimg_size: 28\nallow_large_window: true\n");
  EXPECT_TRUE(ok.allow_large_window);
  EXPECT_NO_THROW(parse("model: dinat_tiny\nimg_size: 224\n"));
  EXPECT_NO_THROW(parse("model: nat_base\nimg_size: 224\n"));
  NAT_EXPECT_ERROR(parse("model: nat_mini\nkernel_size: 257\n"), "kernel_size", "[1, 255]");
}

}  // namespace
}  // namespace nat::train
