// NeighborhoodAttention2D::keep_attention (the hook `nat attn` reads): the stored probabilities are the ones
// the fused na2d applied — rebuilding the module output from them with the unfused na2d_av gives the same
// output — every row sums to 1, and turning the hook on changes nothing in the forward.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/autograd.h"
#include "nn/nat.h"
#include "ops/na.h"
#include "ops/ops.h"
#include "support/test_util.h"

using namespace nat;
using namespace nat::nn;

namespace {

struct Case {
  int64_t H, W, k, d;
};

void check_case(const Case& c) {
  SCOPED_TRACE("H=" + std::to_string(c.H) + " W=" + std::to_string(c.W) + " k=" + std::to_string(c.k) +
               " d=" + std::to_string(c.d));
  const int64_t B = 2, C = 16, heads = 2, hd = C / heads;
  Generator gen(7);
  NeighborhoodAttention2D na({.dim = C, .num_heads = heads, .kernel_size = c.k, .dilation = c.d}, gen);
  na.eval();
  Generator xg(11);
  Tensor x = randn({B, c.H, c.W, C}, DType::f32, Device::cpu(), &xg);
  NoGradGuard no_grad;
  Tensor plain = na.forward(x);
  EXPECT_FALSE(na.attention.defined());
  na.keep_attention = true;
  Tensor kept = na.forward(x);
  EXPECT_EQ(nat::testing::max_abs_diff(plain, kept), 0.0) << "keeping the attention changed the output";

  const int64_t Hp = na.padded(c.H), Wp = na.padded(c.W);
  ASSERT_TRUE(na.attention.defined());
  ASSERT_EQ(na.attention.shape(), (Shape{B, heads, Hp, Wp, c.k * c.k}));
  std::vector<float> p = na.attention.to_vector<float>();
  for (size_t row = 0; row < p.size() / static_cast<size_t>(c.k * c.k); ++row) {
    double s = 0;
    for (int64_t t = 0; t < c.k * c.k; ++t) {
      float v = p[row * static_cast<size_t>(c.k * c.k) + static_cast<size_t>(t)];
      ASSERT_GE(v, 0.0f);
      s += v;
    }
    ASSERT_NEAR(s, 1.0, 1e-5) << "row " << row;
  }

  // Composed: v from the value rows of qkv, out = proj(na2d_av(attention, v)), cropped like the module.
  Tensor xp = ops::pad(x, {0, 0, 0, Wp - c.W, 0, Hp - c.H});
  Tensor wv = ops::slice(na.qkv->weight, 0, 2 * C, 3 * C), bv = ops::slice(na.qkv->bias, 0, 2 * C, 3 * C);
  Tensor v = ops::permute(ops::reshape(ops::linear(xp, wv, bv), {B, Hp, Wp, heads, hd}), {0, 3, 1, 2, 4});
  Tensor o = ops::reshape(ops::permute(ops::na2d_av(na.attention, v, c.k, c.d), {0, 2, 3, 1, 4}), {B, Hp, Wp, C});
  o = ops::slice(ops::slice(o, 1, 0, c.H), 2, 0, c.W);
  EXPECT_LT(nat::testing::max_abs_diff(na.proj->forward(o), plain), 1e-5);
}

}  // namespace

TEST(NnAttentionCapture, ProbabilitiesAreTheOnesTheFusedOpUsed) {
  check_case({.H = 7, .W = 9, .k = 3, .d = 1});
  check_case({.H = 8, .W = 10, .k = 3, .d = 2});
  check_case({.H = 5, .W = 8, .k = 3, .d = 2});  // H < k*d: the padded path
}
