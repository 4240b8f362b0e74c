// Optimizers over a model's named parameters: AdamW (decoupled weight decay, bias-corrected, as
// torch.optim.AdamW) and SGD with momentum (torch.optim.SGD, L2 decay; timm's "sgd" is Nesterov).
// Parameters fall into the two weight-decay groups of timm@9d6aad4 (docs/recipe.md §3): no decay for 1-D
// tensors and names ending in ".bias" (and, with decay_rpb off, names containing "rpb"); decay otherwise.
// Each step is one fused kernel pass per parameter (train/optim_kernels.h) that also applies the
// gradient scale (AMP unscaling and the clipping coefficient) and, under AMP, writes the low-precision
// model copy from an f32 master. The global gradient norm is a deterministic f64 sum.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "nn/module.h"

namespace nat::train {

struct OptimizerOptions {
  std::string kind = "adamw";  // adamw | sgd | nesterov | momentum
  double weight_decay = 0.05;
  bool decay_rpb = true;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // AdamW
  double momentum = 0.9;                          // SGD
};

// timm's rule (docs/recipe.md §3): true when the parameter is excluded from weight decay.
bool no_weight_decay(const std::string& name, const Tensor& param, bool decay_rpb);

struct ParamState {
  std::string name;
  Tensor param;       // the model's tensor (updated in place)
  Tensor master;      // f32 copy when param is bf16/f16 (AMP), else undefined
  Tensor exp_avg;     // AdamW m, or SGD momentum buffer
  Tensor exp_avg_sq;  // AdamW v (undefined for SGD)
  double weight_decay = 0;
  int64_t step = 0;  // updates applied to this parameter (PyTorch keeps one per parameter)
};

struct GroupSummary {
  int64_t tensors = 0, elements = 0;
};

class Optimizer {
 public:
  Optimizer(const nn::NamedTensors& params, const OptimizerOptions& options);

  // Applies one update at learning rate `lr` to every parameter that has a gradient. Each gradient is
  // multiplied by grad_scale, then (clip_value > 0) clamped to +-clip_value, before it is used.
  void step(double lr, double grad_scale = 1.0, double clip_value = 0.0);

  // sum over parameters of sum(grad^2), in f64, in parameter order with fixed slices: the same value on
  // every run. inf or NaN when a gradient holds one.
  double grad_sum_squares() const;

  // Drops every gradient (the next backward starts from zero).
  void zero_grad();

  // "optim.<name>.exp_avg" / ".exp_avg_sq" / ".momentum_buffer" / ".step" tensors for a checkpoint
  // (CPU copies; masters are not included: they equal the f32 weights saved under the official names).
  nn::NamedTensors state_tensors() const;
  // Restores what state_tensors() wrote; `find` looks a name up (nullptr when absent). Throws naming the
  // missing or mis-shaped entry and `origin` (the checkpoint's path).
  void load_state(const std::function<const Tensor*(const std::string&)>& find, const std::string& origin);
  // Sets the f32 masters from the parameters (after their values were loaded from elsewhere).
  void sync_masters_from_params();
  // The f32 value of a parameter: its master under AMP, else the parameter itself.
  Tensor f32_value(size_t i) const;

  const OptimizerOptions& options() const { return options_; }
  const std::vector<ParamState>& params() const { return params_; }
  GroupSummary decay_group() const;
  GroupSummary no_decay_group() const;

 private:
  OptimizerOptions options_;
  std::vector<ParamState> params_;
  Tensor norm_scratch_;  // f64 [P, kSumSquaresPartials + 1] on the parameters' device
};

}  // namespace nat::train
