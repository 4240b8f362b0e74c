// Learning-rate schedules, exactly as timm@9d6aad4's CosineLRScheduler / StepLRScheduler with the options
// NAT's train.py passes (docs/recipe.md §2): linear warmup from warmup_lr, then
//   cosine: lr(t) = min_lr + 0.5 (lr - min_lr) (1 + cos(pi t / T))  for W <= t < T, where t is NOT shifted
//           by the warmup (warmup_prefix=False), so the LR steps down slightly at t = W;
//   step:   lr(t) = lr * decay_rate^floor(t / decay_t);
//   const:  lr(t) = lr;
// and min_lr from t = T on (the cooldown epochs; cosine only, as timm's single cycle). The unit t is the
// optimizer update (per-iteration, sched_epochwise false: T = epochs * updates_per_epoch) or the epoch.
#pragma once

#include <cstdint>
#include <string>

#include "train/config.h"

namespace nat::train {

struct LrScheduleOptions {
  std::string kind = "cosine";  // cosine | step | const
  double base_lr = 1e-3;
  double warmup_lr = 1e-6;
  double min_lr = 5e-6;
  double warmup_t = 0;   // in units of t
  double t_initial = 1;  // T, in units of t
  double decay_t = 1;    // step schedule
  double decay_rate = 0.1;
};

class LrSchedule {
 public:
  explicit LrSchedule(const LrScheduleOptions& options);
  // The schedule of a config, for `updates_per_epoch` optimizer updates per epoch.
  static LrSchedule from_config(const TrainConfig& cfg, int64_t updates_per_epoch);

  // The LR at unit t (an update counter, or an epoch).
  double at(double t) const;
  // The LR of global update `update` (0-based) taken during `epoch`.
  double for_update(int64_t update, int64_t epoch) const {
    return per_iteration_ ? at(double(update)) : at(double(epoch));
  }

  const LrScheduleOptions& options() const { return options_; }
  bool per_iteration() const { return per_iteration_; }

 private:
  LrScheduleOptions options_;
  bool per_iteration_ = true;
};

}  // namespace nat::train
