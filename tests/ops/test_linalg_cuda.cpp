// CUDA matmul, linear and conv2d against the CPU (f64 reference on the same values): outputs and the
// gradients of every input, in f32, f64 and bf16; the kernels called directly on NaN-poisoned outputs;
// deterministic backward. Label `cuda`; skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "autograd/autograd.h"
#include "core/rng.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "support/test_util.h"

using namespace nat;
using nat::testing::max_abs_diff;
using nat::testing::poisoned;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

Tensor rnd(const Shape& s, uint64_t seed, DType dtype = DType::f32, Device device = Device::cpu()) {
  Generator g(seed);
  Tensor t = Tensor::empty(s, DType::f64);
  uniform_(t, -1, 1, &g);
  return t.to(dtype).to(device);
}

// Max |a - ref| relative to max(1, max |ref|).
double rel_diff(const Tensor& a, const Tensor& ref) {
  double m = 1;
  for (double v : ref.to_double_vector()) m = std::max(m, std::fabs(v));
  return max_abs_diff(a, ref) / m;
}

double tolerance(DType t) { return t == DType::f64 ? 1e-10 : t == DType::f32 ? 1e-4 : 2e-2; }

// f on the device inputs against f on f64 CPU copies of the same values: the output and, through
// backward(sum(y * dir)), the gradient of every defined input.
void expect_matches_cpu(const Fn& f, const std::vector<Tensor>& inputs, const std::string& what) {
  std::vector<Tensor> dev, ref;
  for (const auto& t : inputs) {
    dev.push_back(t.defined() ? set_requires_grad(t) : Tensor());
    ref.push_back(t.defined() ? set_requires_grad(t.cpu().to(DType::f64)) : Tensor());
  }
  DType dt = inputs[0].dtype();
  double tol = tolerance(dt);
  // One tape per thread: each graph runs backward before the next is built.
  Tensor y = f(dev);
  Tensor dir = rnd(y.shape(), 99, dt, y.device());
  backward(ops::sum(y * dir));
  Tensor yr = f(ref);
  backward(ops::sum(yr * dir.cpu().to(DType::f64)));
  EXPECT_LT(rel_diff(y.cpu().to(DType::f64), yr), tol) << what << ": output";
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) continue;
    EXPECT_LT(rel_diff(grad(dev[i]).cpu().to(DType::f64), grad(ref[i])), tol) << what << ": grad " << i;
  }
}

const Device kCuda = Device::cuda(0);

}  // namespace

TEST(OpsLinalgCuda, MatmulMatchesCpu) {
  NAT_SKIP_WITHOUT_CUDA();
  struct Case {
    Shape a, b;
    bool ta, tb;
  };
  std::vector<Case> cases = {
      {{7, 9}, {9, 5}, false, false},          {{9, 7}, {5, 9}, true, true},
      {{2, 1, 3, 4}, {3, 4, 5}, false, false}, {{4, 6, 33}, {33, 17}, false, false},  // folded batch
      {{6, 4}, {3, 6, 5}, true, false},        {{2, 3, 4}, {2, 5, 4}, false, true},
  };
  for (DType dt : {DType::f32, DType::f64, DType::bf16})
    for (const auto& c : cases) {
      Fn f = [c](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1], c.ta, c.tb); };
      expect_matches_cpu(f, {rnd(c.a, 1, dt, kCuda), rnd(c.b, 2, dt, kCuda)},
                         std::string(dtype_name(dt)) + " " + shape_str(c.a) + " x " + shape_str(c.b));
    }
  // strided and transposed device views
  Fn mm = [](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1]); };
  expect_matches_cpu(mm, {rnd({8, 10}, 3, DType::f32, kCuda).slice(0, 0, 8, 2), rnd({10, 6}, 4, DType::f32, kCuda)},
                     "row-strided a");
  expect_matches_cpu(
      mm, {rnd({5, 4}, 5, DType::f32, kCuda).transpose(0, 1), rnd({12, 5}, 6, DType::f32, kCuda).slice(0, 0, 12, 2)},
      "transposed a, strided b");
}

TEST(OpsLinalgCuda, LinearMatchesCpu) {
  NAT_SKIP_WITHOUT_CUDA();
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (Activation act : {Activation::none, Activation::gelu})
      for (bool with_bias : {false, true}) {
        Fn f = [act](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1], in[2], act); };
        std::string what =
            std::string(dtype_name(dt)) + (act == Activation::gelu ? " gelu" : " none") + (with_bias ? " bias" : "");
        Tensor b = with_bias ? rnd({70}, 3, dt, kCuda) : Tensor();
        // 3000 rows x 70 outputs: several 32-channel tiles and row chunks in the bias gradient
        expect_matches_cpu(f, {rnd({3, 1000, 48}, 1, dt, kCuda), rnd({70, 48}, 2, dt, kCuda), b}, what);
        // x starting 4 bytes past an aligned address (odd row length): cuBLASLt must pick an algorithm for it
        Tensor xo = rnd({8, 33}, 4, dt, kCuda).slice(0, 1, 8);
        expect_matches_cpu(f, {xo, rnd({10, 33}, 5, dt, kCuda), with_bias ? rnd({10}, 6, dt, kCuda) : Tensor()},
                           what + " offset x");
      }
}

TEST(OpsLinalgCuda, Conv2dMatchesCpu) {
  NAT_SKIP_WITHOUT_CUDA();
  struct Case {
    Shape x, w;
    bool bias;
    int64_t s, p;
  };
  std::vector<Case> cases = {
      {{2, 3, 17, 15}, {8, 3, 3, 3}, true, 2, 1},    // tokenizer
      {{2, 16, 8, 8}, {32, 16, 3, 3}, false, 2, 1},  // downsampler
      {{1, 4, 6, 7}, {5, 4, 2, 3}, true, 1, 0},
      {{3, 2, 9, 9}, {4, 2, 3, 3}, true, 3, 2},
  };
  for (DType dt : {DType::f32, DType::f64, DType::bf16})
    for (const auto& c : cases) {
      Fn f = [c](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], in[2], c.s, c.p); };
      expect_matches_cpu(
          f, {rnd(c.x, 1, dt, kCuda), rnd(c.w, 2, dt, kCuda), c.bias ? rnd({c.w[0]}, 3, dt, kCuda) : Tensor()},
          std::string(dtype_name(dt)) + " " + shape_str(c.x) + " * " + shape_str(c.w));
    }
  // the multi-chunk path: one image per chunk
  int64_t prev = ops::detail::set_conv2d_column_budget(1);
  Fn f = [](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], in[2], 2, 1); };
  expect_matches_cpu(f,
                     {rnd({3, 3, 9, 8}, 7, DType::f32, kCuda), rnd({4, 3, 3, 3}, 8, DType::f32, kCuda),
                      rnd({4}, 9, DType::f32, kCuda)},
                     "chunked");
  ops::detail::set_conv2d_column_budget(prev);
}

// Each CUDA kernel, called directly, writes every element of a NaN-poisoned output and agrees with the CPU kernel.
TEST(OpsLinalgCuda, KernelsOverwritePoisonedOutputs) {
  NAT_SKIP_WITHOUT_CUDA();
  namespace cpu = nat::kernels::cpu;
  namespace gpu = nat::kernels::cuda;
  const DType f = DType::f32;
  // batched GEMM with a broadcast A, beta = 0 over NaN
  Tensor a = rnd({3, 4}, 10), b = rnd({2, 5, 4}, 11);
  Tensor c = poisoned({2, 3, 5}, f, Device::cpu()), cd = poisoned({2, 3, 5}, f, kCuda);
  Tensor ad = a.cuda(), bd = b.cuda();
  cpu::gemm(false, true, 3, 5, 4, 1.0, a.data_ptr(), 4, 0, b.data_ptr(), 4, 20, 0.0, c.data_ptr(), 5, 15, 2, f, 0);
  gpu::gemm(false, true, 3, 5, 4, 1.0, ad.data_ptr(), 4, 0, bd.data_ptr(), 4, 20, 0.0, cd.data_ptr(), 5, 15, 2, f, 0);
  EXPECT_LT(max_abs_diff(cd, c), 1e-5);

  Conv2dShape g{2, 3, 7, 6, 3, 3, 2, 1, 4, 3};
  Tensor x = rnd({2, 3, 7, 6}, 12), xd = x.cuda();
  Tensor col = poisoned({27, 2 * 12}, f, Device::cpu()), cold = poisoned({27, 2 * 12}, f, kCuda);
  cpu::im2col(g, x.data_ptr(), col.data_ptr(), f, 0);
  gpu::im2col(g, xd.data_ptr(), cold.data_ptr(), f, 0);
  EXPECT_EQ(max_abs_diff(cold, col), 0.0);
  Tensor xi = poisoned({2, 3, 7, 6}, f, Device::cpu()), xid = poisoned({2, 3, 7, 6}, f, kCuda);
  cpu::col2im(g, col.data_ptr(), xi.data_ptr(), f, 0);
  gpu::col2im(g, cold.data_ptr(), xid.data_ptr(), f, 0);
  EXPECT_LT(max_abs_diff(xid, xi), 1e-6);

  for (int64_t inner : {1, 5}) {
    Shape s{37, 40, inner};
    Tensor z = rnd(s, 13), gy = rnd(s, 14), zd = z.cuda(), gyd = gy.cuda(), bias = rnd({40}, 15), biasd = bias.cuda();
    Tensor gz = poisoned(s, f, Device::cpu()), gzd = poisoned(s, f, kCuda);
    Tensor gb = poisoned({40}, f, Device::cpu()), gbd = poisoned({40}, f, kCuda);
    cpu::bias_act_backward(Activation::gelu, 37, 40, inner, z.data_ptr(), gy.data_ptr(), gz.data_ptr(), gb.data_ptr(),
                           f, 0);
    gpu::bias_act_backward(Activation::gelu, 37, 40, inner, zd.data_ptr(), gyd.data_ptr(), gzd.data_ptr(),
                           gbd.data_ptr(), f, 0);
    EXPECT_LT(max_abs_diff(gzd, gz), 1e-5) << "inner " << inner;
    EXPECT_LT(max_abs_diff(gbd, gb), 1e-4) << "inner " << inner;
    Tensor y = poisoned(s, f, Device::cpu()), yd = poisoned(s, f, kCuda);
    cpu::bias_act_forward(Activation::gelu, 37, 40, inner, bias.data_ptr(), z.data_ptr(), y.data_ptr(), f, 0);
    gpu::bias_act_forward(Activation::gelu, 37, 40, inner, biasd.data_ptr(), zd.data_ptr(), yd.data_ptr(), f, 0);
    EXPECT_LT(max_abs_diff(zd, z), 1e-6) << "inner " << inner;
    EXPECT_LT(max_abs_diff(yd, y), 1e-5) << "inner " << inner;
  }
  Tensor xl = rnd({6, 8}, 16), wl = rnd({5, 8}, 17), bl = rnd({5}, 18);
  Tensor pre = poisoned({6, 5}, f, Device::cpu()), y = poisoned({6, 5}, f, Device::cpu());
  Tensor pred = poisoned({6, 5}, f, kCuda), yd = poisoned({6, 5}, f, kCuda);
  Tensor xld = xl.cuda(), wld = wl.cuda(), bld = bl.cuda();
  cpu::linear_forward(Activation::gelu, 6, 8, 5, xl.data_ptr(), wl.data_ptr(), bl.data_ptr(), pre.data_ptr(),
                      y.data_ptr(), f, 0);
  gpu::linear_forward(Activation::gelu, 6, 8, 5, xld.data_ptr(), wld.data_ptr(), bld.data_ptr(), pred.data_ptr(),
                      yd.data_ptr(), f, 0);
  EXPECT_LT(max_abs_diff(pred, pre), 1e-5);
  EXPECT_LT(max_abs_diff(yd, y), 1e-5);
}

TEST(OpsLinalgCuda, BackwardIsDeterministic) {
  NAT_SKIP_WITHOUT_CUDA();
  Tensor x = rnd({4, 8, 20, 20}, 20, DType::f32, kCuda), w = rnd({16, 8, 3, 3}, 21, DType::f32, kCuda);
  Tensor b = rnd({16}, 22, DType::f32, kCuda), wl = rnd({24, 10}, 23, DType::f32, kCuda),
         bl = rnd({24}, 24, DType::f32, kCuda);
  auto grads = [&] {
    Tensor xs = set_requires_grad(x.clone()), ws = set_requires_grad(w.clone()), bs = set_requires_grad(b.clone());
    Tensor wls = set_requires_grad(wl.clone()), bls = set_requires_grad(bl.clone());
    Tensor h = ops::conv2d(xs, ws, bs, 2, 1);  // [4, 16, 10, 10]; linear mixes along the last dim
    backward(ops::sum(ops::linear(h, wls, bls, Activation::gelu)));
    std::vector<std::vector<float>> out;
    for (const Tensor& t : {xs, ws, bs, wls, bls}) out.push_back(grad(t).to_vector<float>());
    return out;
  };
  EXPECT_EQ(grads(), grads());
}
