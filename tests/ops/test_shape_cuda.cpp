// Shape ops on CUDA tensors against the CPU results, forward and gradients (label `cuda`; skips without a GPU).
#include <gtest/gtest.h>

#include <cmath>

#include "core/rng.h"
#include "ops/ops.h"
#include "support/test_util.h"

using namespace nat;
using nat::testing::max_abs_diff;

namespace {

Tensor rnd(const Shape& s, uint64_t seed) {
  Generator g(seed);
  Tensor t = Tensor::empty(s);
  return uniform_(t, -1, 1, &g);
}

}  // namespace

TEST(OpsShapeCuda, ForwardMatchesCpu) {
  NAT_SKIP_WITHOUT_CUDA();
  Tensor x = rnd({3, 5, 4, 6}, 1);
  Tensor xt = rnd({6, 4, 5, 3}, 2).permute({3, 2, 1, 0});  // non-contiguous [3, 5, 4, 6]
  for (const Tensor& h : {x, xt}) {
    Tensor d = h.cuda();
    EXPECT_TRUE(d.is_cuda());
    EXPECT_EQ(max_abs_diff(ops::reshape(h, {15, -1}), ops::reshape(d, {15, -1})), 0.0);
    EXPECT_EQ(max_abs_diff(ops::permute(h, {2, 0, 3, 1}), ops::permute(d, {2, 0, 3, 1})), 0.0);
    EXPECT_EQ(max_abs_diff(ops::transpose(h, 1, 3), ops::transpose(d, 1, 3)), 0.0);
    EXPECT_EQ(max_abs_diff(ops::contiguous(ops::transpose(h, 0, 2)), ops::contiguous(ops::transpose(d, 0, 2))), 0.0);
    EXPECT_EQ(max_abs_diff(ops::flatten(h, 1, 2), ops::flatten(d, 1, 2)), 0.0);
    EXPECT_EQ(max_abs_diff(ops::expand(ops::unsqueeze(h, 0), {2, 3, 5, 4, 6}),
                           ops::expand(ops::unsqueeze(d, 0), {2, 3, 5, 4, 6})),
              0.0);
    EXPECT_EQ(max_abs_diff(ops::slice(h, 1, 1, 5, 3), ops::slice(d, 1, 1, 5, 3)), 0.0);
    EXPECT_EQ(max_abs_diff(ops::select(h, -1, 2), ops::select(d, -1, 2)), 0.0);
    EXPECT_EQ(max_abs_diff(ops::cat({h, ops::slice(h, 1, 0, 2)}, 1), ops::cat({d, ops::slice(d, 1, 0, 2)}, 1)), 0.0);
    EXPECT_EQ(max_abs_diff(ops::pad(h, {0, 0, 0, 3, 0, 2}, 0.5), ops::pad(d, {0, 0, 0, 3, 0, 2}, 0.5)), 0.0);
    EXPECT_EQ(max_abs_diff(ops::pad(h, {2, 1, 1, 0}, -2), ops::pad(d, {2, 1, 1, 0}, -2)), 0.0);
    EXPECT_TRUE(ops::slice(d, 2, 0, 2).shares_storage(d));
    EXPECT_TRUE(ops::cat({d, d}, 0).is_cuda());
  }
  // bf16 storage is moved bit for bit.
  Tensor b = x.cuda().to(DType::bf16);
  EXPECT_EQ(max_abs_diff(ops::pad(b, {1, 1}, 3.0).cpu(), ops::pad(b.cpu(), {1, 1}, 3.0)), 0.0);
  EXPECT_EQ(max_abs_diff(ops::cat({b, b}, 2).cpu(), ops::cat({b.cpu(), b.cpu()}, 2)), 0.0);
}

TEST(OpsShapeCuda, GradientsMatchCpu) {
  NAT_SKIP_WITHOUT_CUDA();
  Tensor w = rnd({6, 7}, 3);
  Tensor wd = w.cuda();
  // permute -> reshape -> slice -> cat -> pad -> expand/select -> weighted sum, on both devices.
  auto chain = [](const Tensor& x, const Tensor& y, const Tensor& weight) {
    Tensor p = ops::permute(x, {0, 2, 1});
    Tensor r = ops::reshape(p, {2, 12});
    Tensor s = ops::slice(r, 1, 1, 12, 2);
    Tensor c = ops::cat({s, ops::gelu(y)}, 0);
    Tensor q = ops::pad(c, {1, 0, 0, 2}, -3.0);
    Tensor e = ops::select(ops::expand(ops::unsqueeze(q, 0), {3, 6, 7}), 0, 2);
    return ops::sum(e * weight);
  };
  Tensor xh = set_requires_grad(rnd({3, 2, 4}, 4).transpose(0, 1));  // non-contiguous [2, 3, 4]
  Tensor yh = set_requires_grad(rnd({2, 6}, 5));
  Tensor xd = set_requires_grad(xh.cuda()), yd = set_requires_grad(yh.cuda());
  Tensor lh = chain(xh, yh, w), ld = chain(xd, yd, wd);
  EXPECT_LT(std::abs(lh.item() - ld.item()), 1e-4);
  backward(lh);
  backward(ld);
  ASSERT_TRUE(grad(xd).defined() && grad(yd).defined());
  EXPECT_TRUE(grad(xd).is_cuda());
  EXPECT_LT(max_abs_diff(grad(xh), grad(xd)), 1e-6);
  EXPECT_LT(max_abs_diff(grad(yh), grad(yd)), 1e-5);
  // A non-zero gradient actually arrived (guards against comparing two all-zero results).
  EXPECT_GT(max_abs_diff(grad(xh), Tensor::zeros(xh.shape())), 0.1);

  // NAT's pad-then-crop on [B, H, W, C].
  Tensor img = set_requires_grad(rnd({2, 5, 3, 4}, 6)), imgd = set_requires_grad(img.cuda());
  Tensor m = rnd({2, 7, 7, 4}, 7), md = m.cuda();
  auto padcrop = [](const Tensor& t, const Tensor& mult) {
    Tensor p = ops::pad(t, {0, 0, 0, 4, 0, 2}) * mult;
    return ops::sum(ops::slice(ops::slice(p, 1, 0, 5), 2, 0, 3) * ops::slice(ops::slice(p, 1, 1, 6), 2, 2, 5));
  };
  backward(padcrop(img, m));
  backward(padcrop(imgd, md));
  EXPECT_LT(max_abs_diff(grad(img), grad(imgd)), 1e-5);
}
