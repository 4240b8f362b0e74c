// The AMP pieces that run on the CPU: the dynamic loss scaler's schedule (skip and halve on overflow,
// double after growth_interval clean steps), the differentiable cast, and the optimizer's f32 masters
// for bf16/f16 parameters (the update is computed on the master and written back rounded).
#include <gtest/gtest.h>

#include "autograd/autograd.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "train/amp.h"
#include "train/optim.h"

namespace nat::train {
namespace {

TEST(LossScaler, SkipsOverflowsHalvesAndGrows) {
  LossScaler s(true, 1024.0, /*growth_interval=*/3);
  EXPECT_EQ(s.scale(), 1024.0);
  EXPECT_FALSE(s.update(false));  // overflow: skip the step
  EXPECT_EQ(s.scale(), 512.0);
  EXPECT_TRUE(s.update(true));
  EXPECT_TRUE(s.update(true));
  EXPECT_EQ(s.scale(), 512.0);
  EXPECT_TRUE(s.update(true));  // third clean step in a row
  EXPECT_EQ(s.scale(), 1024.0);
  EXPECT_EQ(s.growth_tracker(), 0);
  EXPECT_TRUE(s.update(true));
  EXPECT_FALSE(s.update(false));  // an overflow resets the count
  EXPECT_EQ(s.growth_tracker(), 0);
  LossScaler off;
  EXPECT_EQ(off.scale(), 1.0);
  EXPECT_TRUE(off.update(false));  // disabled: never skips (the trainer stops on non-finite values itself)
}

TEST(Cast, GradientFlowsBackInTheInputDtype) {
  Tensor x = Tensor::from_vector<float>({1.5f, -2.0f, 3.25f}, {3});
  set_requires_grad(x);
  Tensor y = cast(x, DType::f64);
  EXPECT_EQ(y.dtype(), DType::f64);
  backward(ops::sum(ops::mul(y, y)));
  Tensor g = grad(x);
  ASSERT_TRUE(g.defined());
  EXPECT_EQ(g.dtype(), DType::f32);
  EXPECT_EQ(g.to_vector<float>(), (std::vector<float>{3.0f, -4.0f, 6.5f}));
  EXPECT_EQ(cast(x, DType::f32).impl_ptr(), x.impl_ptr());  // no-op when the dtype already matches
}

TEST(Optimizer, LowPrecisionParametersGetF32Masters) {
  for (DType dt : {DType::bf16, DType::f16}) {
    Tensor w = Tensor::from_vector<float>({1.0f, 0.5f, -0.25f, 2.0f}, {2, 2}).to(dt);
    set_requires_grad(w);
    Optimizer opt({{"w", w}}, {.kind = "adamw", .weight_decay = 0.0});
    ASSERT_TRUE(opt.params()[0].master.defined());
    EXPECT_EQ(opt.params()[0].master.dtype(), DType::f32);
    // A tiny update that bf16 cannot represent on its own accumulates in the master.
    for (int i = 0; i < 3; ++i) {
      set_grad(w, Tensor::from_vector<float>({1, 1, 1, 1}, {2, 2}).to(dt));
      opt.step(1e-4);
    }
    std::vector<float> master = opt.params()[0].master.to_vector<float>();
    EXPECT_NEAR(master[0], 1.0f - 3e-4f, 1e-6);
    std::vector<double> rounded = w.to_double_vector();
    EXPECT_EQ(rounded[0], static_cast<double>(static_cast<float>(Tensor::scalar(master[0]).to(dt).item())));
    EXPECT_EQ(opt.f32_value(0).dtype(), DType::f32);
  }
}

}  // namespace
}  // namespace nat::train
