// A small NAT moved to CUDA with Module::to() against the same model on the CPU: logits, loss and every
// parameter gradient (label `cuda`; skips, saying why, without a GPU).
#include <gtest/gtest.h>

#include <cmath>

#include "nn/init.h"
#include "nn/nat.h"
#include "ops/ops.h"
#include "support/test_util.h"

using namespace nat;
using namespace nat::nn;

TEST(NnNatCuda, ToCudaMatchesCpuForwardAndGradients) {
  NAT_SKIP_WITHOUT_CUDA();
  // Padding (level 1 is 3x3 < 3*2 for the dilated layer), dilation and layer scale all on the path.
  NatConfig c = parse_nat_spec(
      R"({"embed_dim": 32, "depths": [2, 2], "num_heads": [1, 2], "kernel_size": 3, "dilations": [[1, 2], [1, 2]],)"
      R"( "mlp_ratio": 2, "layer_scale": 0.5, "num_classes": 7})");
  Generator g(3);
  NAT cpu(c, g), gpu(c, g);
  for (const Tensor& p : cpu.parameters()) init::normal(p, g, 0.0, 0.2);
  gpu.load_state_dict(cpu.state_dict());
  Tensor w = gpu.level(1)->layer(0)->attn->rpb;  // a handle taken before the move must follow it
  gpu.to(Device::cuda(0));
  EXPECT_TRUE(w.is_cuda());
  for (const auto& [n, p] : gpu.named_parameters()) ASSERT_TRUE(p.is_cuda()) << n;
  cpu.eval();
  gpu.eval();

  Tensor x = randn({3, 3, 24, 24}, DType::f32, Device::cpu(), &g);
  Tensor y = Tensor::from_vector<int64_t>({0, 3, 6}, {3});
  Tensor lc = ops::cross_entropy(cpu.forward(x), y);
  Tensor lg = ops::cross_entropy(gpu.forward(x.cuda()), y.cuda());
  EXPECT_NEAR(lg.item(), lc.item(), 1e-4 * std::fabs(lc.item()) + 1e-5);
  backward(lc);
  backward(lg);
  auto pc = cpu.named_parameters(), pg = gpu.named_parameters();
  ASSERT_EQ(pc.size(), pg.size());
  for (size_t i = 0; i < pc.size(); ++i) {
    Tensor a = grad(pc[i].second), b = grad(pg[i].second);
    ASSERT_TRUE(a.defined() && b.defined()) << pc[i].first;
    double scale = 0;
    for (double v : a.to_double_vector()) scale = std::max(scale, std::fabs(v));
    EXPECT_LE(nat::testing::max_abs_diff(a, b.cpu()), 1e-3 * scale + 1e-6) << pc[i].first;
  }
  gpu.to(Device::cpu());
  EXPECT_TRUE(w.is_cpu());
  EXPECT_TRUE(grad(w).is_cpu()) << "gradients move with their parameters";
}
