// LR schedules against docs/recipe.md §2's formula at the steps that matter: the first update, the last
// warmup update, the end-of-warmup step down (warmup_prefix=False), the end of the cosine, the cooldown.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "train/schedule.h"

namespace nat::train {
namespace {

// The NAT recipe: 1,281,167 images / (8 x 128), drop_last -> 1,251 updates per epoch.
constexpr int64_t kN = 1251;
constexpr double W = 20.0 * kN, T = 300.0 * kN;

double spec_lr(double t) {
  if (t < W) return 1e-6 + t * (1e-3 - 1e-6) / W;
  if (t < T) return 5e-6 + 0.5 * (1e-3 - 5e-6) * (1 + std::cos(std::numbers::pi * t / T));
  return 5e-6;
}

TrainConfig nat_recipe() {
  TrainConfig c;
  c.lr = 1e-3, c.warmup_lr = 1e-6, c.min_lr = 5e-6, c.epochs = 300, c.cooldown_epochs = 10, c.warmup_epochs = 20;
  c.sched = "cosine", c.sched_epochwise = false;
  return c;
}

TEST(LrSchedule, NatRecipeMatchesTheSpecFormulaAtKeySteps) {
  LrSchedule s = LrSchedule::from_config(nat_recipe(), kN);
  for (double t : {0.0, 1.0, W / 2, W - 1, W, W + 1, T / 2, T - 1, T, T + 1, 310.0 * kN - 1})
    EXPECT_NEAR(s.at(t), spec_lr(t), 1e-15) << "t = " << t;
  EXPECT_DOUBLE_EQ(s.at(0), 1e-6);
  EXPECT_DOUBLE_EQ(s.at(T), 5e-6);
  EXPECT_DOUBLE_EQ(s.at(310.0 * kN - 1), 5e-6);  // the 10 cooldown epochs stay at min_lr
}

TEST(LrSchedule, StepsDownAtTheEndOfWarmup) {
  // t is not shifted by the warmup: the LR approaches 1e-3, then continues at cos(pi * 20 / 300) ~ 9.891e-4.
  LrSchedule s = LrSchedule::from_config(nat_recipe(), kN);
  double before = s.at(W - 1), at = s.at(W);
  EXPECT_NEAR(before, 1e-3, 1e-7);  // 1e-3 - (1e-3 - 1e-6) / W
  EXPECT_NEAR(at, 9.891e-4, 5e-8);
  EXPECT_LT(at, before);
  // decreasing from there on
  for (double t = W; t + 1000 < T; t += 1000) EXPECT_GT(s.at(t), s.at(t + 1000));
}

TEST(LrSchedule, PerUpdateOrPerEpoch) {
  LrSchedule it = LrSchedule::from_config(nat_recipe(), kN);
  EXPECT_TRUE(it.per_iteration());
  EXPECT_DOUBLE_EQ(it.for_update(5, 0), spec_lr(5));
  TrainConfig c = nat_recipe();
  c.sched_epochwise = true;
  LrSchedule ep = LrSchedule::from_config(c, kN);
  EXPECT_FALSE(ep.per_iteration());
  EXPECT_DOUBLE_EQ(ep.for_update(5 * kN + 3, 5), 1e-6 + 5 * (1e-3 - 1e-6) / 20);
  EXPECT_DOUBLE_EQ(ep.for_update(0, 20), 5e-6 + 0.5 * (1e-3 - 5e-6) * (1 + std::cos(std::numbers::pi * 20 / 300)));
  EXPECT_DOUBLE_EQ(ep.for_update(0, 305), 5e-6);
}

TEST(LrSchedule, StepAndConstant) {
  TrainConfig c = nat_recipe();
  c.sched = "step", c.decay_epochs = 30, c.decay_rate = 0.1, c.warmup_epochs = 0;
  LrSchedule s = LrSchedule::from_config(c, 10);
  EXPECT_DOUBLE_EQ(s.at(0), 1e-3);
  EXPECT_DOUBLE_EQ(s.at(299), 1e-3);
  EXPECT_NEAR(s.at(300), 1e-4, 1e-18);
  EXPECT_NEAR(s.at(600), 1e-5, 1e-18);
  c.sched = "const", c.warmup_epochs = 2;
  LrSchedule k = LrSchedule::from_config(c, 10);
  EXPECT_DOUBLE_EQ(k.at(10), 1e-6 + 10 * (1e-3 - 1e-6) / 20);
  EXPECT_DOUBLE_EQ(k.at(20), 1e-3);
  EXPECT_DOUBLE_EQ(k.at(1e6), 1e-3);
}

TEST(LrSchedule, NoWarmup) {
  TrainConfig c = nat_recipe();
  c.warmup_epochs = 0;
  LrSchedule s = LrSchedule::from_config(c, 4);
  EXPECT_DOUBLE_EQ(s.at(0), 1e-3);
  EXPECT_DOUBLE_EQ(s.at(600), 5e-6 + 0.5 * (1e-3 - 5e-6));  // halfway: cos(pi / 2) = 0 (to rounding)
}

}  // namespace
}  // namespace nat::train
