// The tape: accumulation, no-grad, errors, retain, detach, grad-ready hooks, tape dump.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/autograd.h"
#include "ops/ops.h"

using namespace nat;

TEST(AutogradTape, AccumulatesIntoLeaves) {
  Tensor x = set_requires_grad(Tensor::from_vector<double>({1, 2, 3}, {3}));
  backward(ops::sum(x * x));
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{2, 4, 6}));
  backward(ops::sum(x * 3.0));  // accumulates (+=)
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{5, 7, 9}));
  zero_grad(x);
  EXPECT_FALSE(grad(x).defined());
}

TEST(AutogradTape, UsedTwiceSumsBothPaths) {
  Tensor x = set_requires_grad(Tensor::scalar(2.0, DType::f64));
  Tensor y = x * x + ops::exp(x);  // dy/dx = 2x + e^x
  backward(y);
  EXPECT_NEAR(grad(x).item(), 4 + std::exp(2.0), 1e-12);
}

TEST(AutogradTape, NoGradRecordsNothing) {
  clear_tape();
  Tensor x = set_requires_grad(Tensor::ones({3}));
  {
    NoGradGuard g;
    Tensor y = x * x;
    EXPECT_FALSE(requires_grad(y));
  }
  EXPECT_EQ(tape_size(), 0u);
}

TEST(AutogradTape, ErrorsAreClear) {
  Tensor x = set_requires_grad(Tensor::ones({3}));
  Tensor y = x * 2.0;
  EXPECT_THROW(backward(y), Error);  // not a scalar
  Tensor z = Tensor::ones({3});
  try {
    backward(ops::sum(z));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not require grad"), std::string::npos);
  }
  Tensor s = ops::sum(x * x);
  backward(s);
  try {
    backward(s);  // tape freed
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("retain_graph"), std::string::npos) << e.what();
  }
}

TEST(AutogradTape, RetainGraphAllowsSecondBackward) {
  Tensor x = set_requires_grad(Tensor::from_vector<double>({1, 2}, {2}));
  Tensor s = ops::sum(x * x);
  backward(s, Tensor(), {.retain_graph = true});
  backward(s);
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{4, 8}));
}

TEST(AutogradTape, ExplicitGradOutputAndRetainGrad) {
  Tensor x = set_requires_grad(Tensor::from_vector<double>({1, 2}, {2}));
  Tensor y = x * 3.0;
  retain_grad(y);
  backward(y, Tensor::from_vector<double>({1, 10}, {2}));
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{3, 30}));
  EXPECT_EQ(grad(y).to_vector<double>(), (std::vector<double>{1, 10}));
}

TEST(AutogradTape, DetachStopsGradient) {
  Tensor x = set_requires_grad(Tensor::from_vector<double>({1, 2}, {2}));
  Tensor y = detach(x * x) * x;
  backward(ops::sum(y));
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{1, 4}));
}

TEST(AutogradTape, GradReadyHooksFireOnceWhenFinalInReverseOrder) {
  Tensor w1 = set_requires_grad(Tensor::from_vector<double>({2}, {1}));
  Tensor w2 = set_requires_grad(Tensor::from_vector<double>({3}, {1}));
  std::vector<std::pair<std::string, double>> fired;
  add_grad_ready_hook(w1, [&](const Tensor& g) { fired.push_back({"w1", g.item()}); });
  add_grad_ready_hook(w2, [&](const Tensor& g) { fired.push_back({"w2", g.item()}); });
  Tensor x = Tensor::from_vector<double>({1}, {1});
  Tensor h = x * w1;       // layer 1
  Tensor y = h * w2 + w1;  // layer 2 uses w1 again: w1 is final only after layer 1's backward
  backward(ops::sum(y));
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_EQ(fired[0].first, "w2");
  EXPECT_EQ(fired[0].second, 2.0);   // dy/dw2 = h = 2
  EXPECT_EQ(fired[1].first, "w1");
  EXPECT_EQ(fired[1].second, 4.0);   // dy/dw1 = x*w2 + 1 = 4, complete when fired
}

TEST(AutogradTape, DumpNamesOpsAndShapes) {
  clear_tape();
  Tensor x = set_requires_grad(Tensor::ones({2, 3}));
  Tensor y = ops::sum(ops::gelu(x), {1});
  std::string s = tape_str();
  EXPECT_NE(s.find("gelu(f32[2, 3]*) -> f32[2, 3]"), std::string::npos) << s;
  EXPECT_NE(s.find("sum(f32[2, 3]*) -> f32[2]"), std::string::npos) << s;
  clear_tape();
  (void)y;
}

TEST(AutogradTape, BackwardFreesOnlyItsOwnGraph) {
  clear_tape();
  Tensor a = set_requires_grad(Tensor::from_vector<double>({1, 2}, {2}));
  Tensor b = set_requires_grad(Tensor::from_vector<double>({3, 4}, {2}));
  Tensor sa = ops::sum(a * a);
  Tensor sb = ops::sum(b * 3.0);
  EXPECT_EQ(tape_size(), 4u);
  backward(sa);
  EXPECT_EQ(tape_size(), 2u);  // b's graph is still there
  backward(sb);
  EXPECT_EQ(tape_size(), 0u);
  EXPECT_EQ(grad(a).to_vector<double>(), (std::vector<double>{2, 4}));
  EXPECT_EQ(grad(b).to_vector<double>(), (std::vector<double>{3, 3}));
}
