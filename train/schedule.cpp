// The timm schedules of docs/recipe.md §2 (see schedule.h for the formulas).
#include "train/schedule.h"

#include <cmath>
#include <numbers>

#include "core/error.h"

namespace nat::train {

LrSchedule::LrSchedule(const LrScheduleOptions& o) : options_(o) {
  NAT_CHECK(o.kind == "cosine" || o.kind == "step" || o.kind == "const", "[schedule] unknown kind '", o.kind, "'");
  NAT_CHECK(o.t_initial > 0, "[schedule] t_initial must be > 0, got ", o.t_initial);
  NAT_CHECK(o.warmup_t >= 0, "[schedule] warmup_t must be >= 0, got ", o.warmup_t);
  NAT_CHECK(o.kind != "step" || o.decay_t > 0, "[schedule] decay_t must be > 0, got ", o.decay_t);
}

LrSchedule LrSchedule::from_config(const TrainConfig& cfg, int64_t updates_per_epoch) {
  NAT_CHECK(updates_per_epoch >= 1, "[schedule] an epoch needs at least one optimizer update, got ", updates_per_epoch);
  double unit = cfg.per_iteration() ? static_cast<double>(updates_per_epoch) : 1.0;
  LrScheduleOptions o;
  o.kind = cfg.sched;
  o.base_lr = cfg.lr;
  o.warmup_lr = cfg.warmup_lr;
  o.min_lr = cfg.min_lr;
  o.warmup_t = static_cast<double>(cfg.warmup_epochs) * unit;
  o.t_initial = static_cast<double>(cfg.epochs) * unit;
  o.decay_t = cfg.decay_epochs * unit;
  o.decay_rate = cfg.decay_rate;
  LrSchedule s(o);
  s.per_iteration_ = cfg.per_iteration();
  return s;
}

double LrSchedule::at(double t) const {
  const LrScheduleOptions& o = options_;
  if (t < o.warmup_t) return o.warmup_lr + t * ((o.base_lr - o.warmup_lr) / o.warmup_t);
  if (o.kind == "step") return o.base_lr * std::pow(o.decay_rate, std::floor(t / o.decay_t));
  if (o.kind == "const") return o.base_lr;
  if (t >= o.t_initial) return o.min_lr;  // past the single cycle: the cooldown
  return o.min_lr + 0.5 * (o.base_lr - o.min_lr) * (1.0 + std::cos(std::numbers::pi * t / o.t_initial));
}

}  // namespace nat::train
