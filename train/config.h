// TrainConfig: the whole training run as one struct, read from a timm-style YAML file (the format of
// NAT's classification/configs/*.yml) plus `--key value` overrides from the command line. Key names are
// timm train.py's argparse `dest`s (hyphens and underscores are interchangeable); the data keys fill
// nat::data::DataConfig field for field, the model keys override the registry model's NatConfig.
// Everything is validated before any work starts: an unknown key (with a did-you-mean), a wrong type or an
// impossible value is a nat::Error naming the key and where it came from (the file, or "command line").
// Defaults are those of NAT's train.py (the recipe of docs/recipe.md §1) unless a comment says otherwise.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/config.h"
#include "nn/nat.h"

namespace nat::train {

// Overrides of the registry model's NatConfig; unset keys keep the model's values.
struct ModelOverrides {
  std::optional<int64_t> embed_dim;
  std::optional<std::vector<int64_t>> depths;
  std::optional<std::vector<int64_t>> num_heads;
  std::optional<int64_t> kernel_size;
  std::optional<std::vector<std::vector<int64_t>>> dilations;
  std::optional<double> mlp_ratio;
  std::optional<double> layer_scale;  // (a YAML null keeps the model's; "none" is not expressible: use 0)
  std::optional<int64_t> in_chans;
  std::optional<double> drop_path;  // timm `drop_path` -> NatConfig::drop_path_rate
  double drop = 0.0;                // timm `drop` -> NatConfig::drop_rate
  std::optional<double> attn_drop_rate;
  std::optional<bool> qkv_bias;
};

struct TrainConfig {
  // ---- model ----
  std::string model = "nat_tiny";  // a registry name (nat_mini, ..., dinat_base) or "custom" (NatConfig defaults)
  ModelOverrides model_keys;
  std::string initial_checkpoint;  // weights to start from (official names); not the training state
  // A kernel_size larger than the first level's feature map (img_size / 4) would be zero-padded at every
  // level, costing far more than the image is worth; refused unless this is set.
  bool allow_large_window = false;

  // ---- data (batch_size, workers, seed, img_size, num_classes, augmentation, mixup: all here) ----
  data::DataConfig data;

  // ---- optimiser ----
  std::string opt = "adamw";  // adamw | sgd (= nesterov, as timm) | nesterov | momentum
  double opt_eps = 1e-8;
  std::array<double, 2> opt_betas = {0.9, 0.999};
  double momentum = 0.9;
  double weight_decay = 0.05;
  bool decay_rpb = true;  // docs/recipe.md §3: the runs behind the checkpoints decayed rpb; false follows Swin's intent
  std::optional<double> clip_grad = 5.0;
  std::string clip_mode = "norm";  // norm | value
  int64_t grad_accum_steps = 1;

  // ---- schedule ----
  std::string sched = "cosine";  // cosine | step | const
  bool sched_epochwise = false;  // NAT: false = per-iteration (timm's sched_on_updates)
  double lr = 1e-3;
  double warmup_lr = 1e-6;
  double min_lr = 5e-6;
  int64_t epochs = 300;
  int64_t warmup_epochs = 20;
  int64_t cooldown_epochs = 0;
  double decay_epochs = 100;  // step schedule
  double decay_rate = 0.1;    // step schedule
  std::optional<int64_t> start_epoch;

  // ---- EMA, precision, device ----
  bool model_ema = false;
  double model_ema_decay = 0.9998;
  bool amp = false;
  std::string amp_dtype = "float16";  // float16 (with a dynamic loss scaler) | bfloat16
  std::string device;                 // "" (auto: cuda when present, else cpu) | cpu | cuda | cuda:N
  int64_t threads = 0;                // CPU threads for the ops (0: OpenMP's default; per rank: cores / local ranks)

  // ---- distributed (data parallel; launched by mpirun, srun or torchrun: docs/distributed.md) ----
  std::string dist_backend = "auto";  // auto (nccl on CUDA, mpi on the CPU) | mpi | nccl
  double dist_timeout = 600;          // seconds a collective may take before the job is aborted
  double dist_bucket_mb = 25;         // gradient bucket size in MiB (the first bucket is 1 MiB)

  // ---- run directory, logging, checkpoints ----
  std::string output;      // "" : ./output/train
  std::string experiment;  // "" : <YYYYmmdd-HHMMSS>-<model>-<img_size>
  int64_t log_interval = 50;
  int64_t checkpoint_hist = 4;
  std::string eval_metric = "top1";  // top1 | top5 | loss
  bool disable_eval = false;
  std::string resume;
  bool no_resume_opt = false;
  int64_t max_steps = 0;          // stop cleanly after this many optimizer steps (0: run every epoch)
  std::string progress = "auto";  // auto (a bar on a terminal, lines otherwise) | bar | lines | none

  // Where each key was last set ("default", the file, or "command line"), for messages.
  std::vector<std::pair<std::string, std::string>> origins;

  // The model this config trains: the registry model with the overrides and num_classes applied
  // (num_classes 0 -> `dataset_classes`, or 1000 when that is 0 too). Throws naming the key.
  nn::NatConfig nat_config(int64_t dataset_classes = 0) const;
  int64_t total_epochs() const { return epochs + cooldown_epochs; }
  bool per_iteration() const { return !sched_epochwise; }

  // Cross-key checks (the per-key ranges are checked as each key is set). Throws naming the key.
  void validate() const;
  // (group, key, value) rows for the start-up table, every key in table order.
  std::vector<std::array<std::string, 3>> rows() const;
  // The resolved config as YAML (args.yaml): every key, timm names, loadable by load_config().
  std::string to_yaml() const;
};

// One key of the table: its name, type, default and help, for `nat train --list-keys` and tests.
struct KeyInfo {
  std::string name;
  std::string type;  // "int", "float", "bool", "str", "float[2]", ...
  std::string group;
  std::string help;
  std::string default_value;
};
const std::vector<KeyInfo>& config_keys();

// timm keys nat.cpp accepts only at their neutral value (None, False, 0, ...), e.g. from a timm args.yaml.
const std::vector<std::string>& inert_timm_keys();

// Applies a YAML file (path) or text (origin names it in errors) on top of `base`.
TrainConfig apply_yaml_file(const std::string& path, TrainConfig base = {});
TrainConfig apply_yaml_text(const std::string& text, const std::string& origin, TrainConfig base = {});
// Applies one key with a YAML-syntax value ("1e-3", "True", "[2, 2]", "0.9 0.999") from `origin`.
void apply_key(TrainConfig& cfg, const std::string& key, const std::string& value, const std::string& origin);

// `nat train`'s view of its arguments: --config FILE, --key value overrides (list keys take several
// values, bool keys may stand alone), and the options that are not config keys.
struct CommandLine {
  std::string config_file;
  std::vector<std::pair<std::string, std::string>> overrides;  // (key, value) in order
  bool dry_run = false;
  bool list_keys = false;
  bool help = false;
};
CommandLine parse_command_line(const std::vector<std::string>& args);

// The config of `nat train`: `base` (the defaults; for `nat eval`, a checkpoint's recorded config), then
// the file, then the overrides; validated.
TrainConfig load_config(const CommandLine& cl, TrainConfig base = {});

// The closest known key to `key` by edit distance, or "" when none is close.
std::string closest_key(const std::string& key);
// Levenshtein distance (exposed for tests).
size_t edit_distance(const std::string& a, const std::string& b);

// The table printed at start-up: "group  key  value" rows, aligned.
std::string format_config_table(const TrainConfig& cfg);

}  // namespace nat::train
