// Training checkpoints: one safetensors file holding
//   <official name>            the weights, f32, exactly the keys of NAT's released state dicts
//   ema.<official name>        the EMA weights (when model_ema is on)
//   optim.<name>.exp_avg|exp_avg_sq|momentum_buffer|step   the optimizer state
// and, in the string metadata, everything else a run needs to continue bit for bit: epoch and position in
// it (the sampler's place: the loader derives every sample's randomness from (seed, epoch, position)), the
// optimizer step, the default generator's (seed, offset) (drop path and dropout masks), the loss scaler,
// the running epoch loss, the best metric and the kept checkpoint-<epoch> files, the model spec and args.
// Written atomically (temporary file, fsync, rename: nn::write_file_atomic). A file with weights only
// (an official checkpoint converted to safetensors) loads too, for evaluation or as initial weights.
// Every number read back from the metadata has a range (a damaged step count must not overflow the loop).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nn/nat.h"
#include "nn/safetensors.h"

namespace nat::train {

class Optimizer;

struct TrainState {
  int64_t epoch = 0;                      // the epoch to continue
  int64_t batch = 0;                      // micro-batches of that epoch already consumed (0: it starts afresh)
  int64_t step = 0;                       // optimizer updates done (skipped AMP steps included)
  int64_t world_size = 1;                 // ranks of the run that wrote it, and their batch size: a resume
  int64_t batch_size = 0;                 // with another world size maps `batch` through the global batch
  uint64_t rng_seed = 0, rng_offset = 0;  // the default generator
  double loss_scale = 1.0;
  int64_t scaler_growth_tracker = 0;
  double epoch_loss_sum = 0;  // the running train loss of `epoch` (sum of per-batch losses x batch size)
  int64_t epoch_loss_count = 0;
  double best_metric = std::numeric_limits<double>::quiet_NaN();
  int64_t best_epoch = -1;
  std::vector<std::pair<int64_t, double>> kept;  // checkpoint-<epoch> files and their metric
  std::string arch;                              // the model name
  std::string model_spec;                        // NatConfig as JSON (nn::parse_nat_spec reads it back)
  std::string args_yaml;                         // the resolved TrainConfig
  std::vector<std::string> classes;              // class folder names, in label order

  std::map<std::string, std::string> to_metadata() const;
  // Throws naming `origin` when a field is missing or malformed.
  static TrainState from_metadata(const std::map<std::string, std::string>& m, const std::string& origin);
};

// NatConfig as the JSON object nn::parse_nat_spec() accepts.
std::string nat_config_json(const nn::NatConfig& c);

struct CheckpointData {
  nn::NamedTensors weights;  // official names, f32
  nn::NamedTensors ema;      // official names (saved as ema.<name>); empty without EMA
  const Optimizer* optimizer = nullptr;
  TrainState state;
};
void save_checkpoint(const std::string& path, const CheckpointData& data);

struct LoadedCheckpoint {
  std::string path;
  nn::TensorFile file;
  bool has_state = false;  // false for a weights-only file
  TrainState state;
  nn::NamedTensors weights() const;  // tensors that are neither ema.* nor optim.*
  nn::NamedTensors ema() const;      // ema.* with the prefix removed (empty when absent)
  const Tensor* find(const std::string& name) const { return file.find(name); }
};
LoadedCheckpoint load_checkpoint(const std::string& path);

// The first floating tensor holding a NaN or an infinity, described as "'name' holds k non-finite values
// (j NaN) of n", or "" when every value is finite. Diverged weights are never saved, resumed or scored.
std::string first_non_finite(const nn::NamedTensors& tensors);

}  // namespace nat::train
