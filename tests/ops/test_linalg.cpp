// matmul, linear, conv2d on the CPU: closed-form values, float64 gradcheck of every differentiable input
// (transposed, strided and broadcast-batch inputs included), fused vs composed (linear against matmul + add +
// gelu, conv2d against a direct loop), error messages, and the kernels writing every element of poisoned outputs.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/autograd.h"
#include "autograd/gradcheck.h"
#include "core/rng.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "support/test_util.h"

using namespace nat;
using nat::testing::max_abs_diff;
using nat::testing::poisoned;

namespace {

Tensor rnd(const Shape& s, uint64_t seed, DType dtype = DType::f64) {
  Generator g(seed);
  Tensor t = Tensor::empty(s, dtype);
  return uniform_(t, -1, 1, &g);
}

// The message of the nat::Error that f throws ("" when it throws none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Direct convolution, the oracle for conv2d: y[n][o][oh][ow] = b[o] + sum x[n][c][ih][iw] w[o][c][i][j].
Tensor conv2d_direct(const Tensor& x, const Tensor& w, const Tensor& b, int64_t s, int64_t p) {
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), O = w.size(0), kh = w.size(2), kw = w.size(3);
  int64_t Ho = (H + 2 * p - kh) / s + 1, Wo = (W + 2 * p - kw) / s + 1;
  auto xv = x.to_double_vector(), wv = w.to_double_vector();
  std::vector<double> bv = b.defined() ? b.to_double_vector() : std::vector<double>(O, 0.0);
  std::vector<double> y(N * O * Ho * Wo);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          double acc = bv[o];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                int64_t ih = oh * s - p + i, iw = ow * s - p + j;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += xv[((n * C + c) * H + ih) * W + iw] * wv[((o * C + c) * kh + i) * kw + j];
              }
          y[((n * O + o) * Ho + oh) * Wo + ow] = acc;
        }
  return Tensor::from_vector(y, {N, O, Ho, Wo});
}

// Restores conv2d's column budget on scope exit.
struct ColumnBudget {
  int64_t prev;
  explicit ColumnBudget(int64_t bytes) : prev(ops::detail::set_conv2d_column_budget(bytes)) {}
  ~ColumnBudget() { ops::detail::set_conv2d_column_budget(prev); }
};

}  // namespace

TEST(OpsLinalg, MatmulClosedForm) {
  Tensor a = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from_vector<float>({7, 8, 9, 10, 11, 12}, {3, 2});
  std::vector<float> want = {58, 64, 139, 154};
  EXPECT_EQ(ops::matmul(a, b).to_vector<float>(), want);
  Tensor at = a.transpose(0, 1).contiguous(), bt = b.transpose(0, 1).contiguous();
  EXPECT_EQ(ops::matmul(at, b, true, false).to_vector<float>(), want);
  EXPECT_EQ(ops::matmul(a, bt, false, true).to_vector<float>(), want);
  EXPECT_EQ(ops::matmul(at, bt, true, true).to_vector<float>(), want);
  // transposed views go to BLAS without a copy and give the same values
  EXPECT_EQ(ops::matmul(at.transpose(0, 1), bt.transpose(0, 1)).to_vector<float>(), want);
  EXPECT_EQ(ops::matmul(a, b).shape(), (Shape{2, 2}));
}

TEST(OpsLinalg, MatmulBatchedBroadcastMatchesSlices) {
  struct Case {
    Shape a, b;
    bool ta, tb;
  };
  std::vector<Case> cases = {
      {{2, 1, 3, 4}, {3, 4, 5}, false, false},  // both broadcast
      {{2, 3, 4}, {4, 5}, false, false},        // [B, M, K] x [K, N]: folded into one GEMM
      {{2, 4, 3}, {5, 4}, true, true},         {{3, 4}, {2, 4, 5}, false, false},  // a shared by every batch entry
      {{2, 3, 4}, {2, 5, 4}, false, true},
  };
  for (const auto& c : cases) {
    Tensor a = rnd(c.a, 1), b = rnd(c.b, 2);
    Tensor y = ops::matmul(a, b, c.ta, c.tb);
    Shape batch = y.shape();
    batch.resize(batch.size() - 2);
    Tensor ae = a.expand([&] {
      Shape s = batch;
      s.push_back(a.size(-2));
      s.push_back(a.size(-1));
      return s;
    }());
    Tensor be = b.expand([&] {
      Shape s = batch;
      s.push_back(b.size(-2));
      s.push_back(b.size(-1));
      return s;
    }());
    Tensor af = ae.reshape({-1, a.size(-2), a.size(-1)}), bf = be.reshape({-1, b.size(-2), b.size(-1)});
    Tensor yf = y.reshape({-1, y.size(-2), y.size(-1)});
    for (int64_t i = 0; i < yf.size(0); ++i)
      EXPECT_LT(max_abs_diff(yf.select(0, i), ops::matmul(af.select(0, i), bf.select(0, i), c.ta, c.tb)), 1e-12)
          << shape_str(c.a) << " x " << shape_str(c.b) << " batch entry " << i;
  }
}

TEST(OpsLinalg, MatmulStridedViewsMatchContiguous) {
  Tensor base = rnd({6, 8}, 3), b = rnd({5, 3}, 4);
  Tensor a = base.slice(0, 0, 6, 2).slice(1, 1, 6);  // [3, 5], row stride 16
  EXPECT_LT(max_abs_diff(ops::matmul(a, b), ops::matmul(a.contiguous(), b)), 1e-12);
  Tensor b2 = rnd({3, 10}, 5).slice(1, 0, 10, 2);  // [3, 5], column stride 2: needs a copy
  EXPECT_LT(max_abs_diff(ops::matmul(a, b2.transpose(0, 1)), ops::matmul(a, b2.contiguous(), false, true)), 1e-12);
}

TEST(OpsLinalg, MatmulEmptyAndErrors) {
  EXPECT_EQ(ops::matmul(rnd({2, 0}, 1), rnd({0, 3}, 2)).to_double_vector(), std::vector<double>(6, 0.0));
  EXPECT_EQ(ops::matmul(rnd({0, 4}, 1), rnd({4, 3}, 2)).shape(), (Shape{0, 3}));
  std::string m = error_of([] { ops::matmul(rnd({2, 3}, 1), rnd({4, 5}, 2)); });
  EXPECT_NE(m.find("[matmul] inner dims differ"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  m = error_of([] { ops::matmul(rnd({3}, 1), rnd({3, 2}, 2)); });
  EXPECT_NE(m.find("at least 2 dims"), std::string::npos) << m;
  m = error_of([] { ops::matmul(rnd({2, 3, 4}, 1), rnd({3, 4, 5}, 2)); });
  EXPECT_NE(m.find("batch dims [2] and [3] do not broadcast"), std::string::npos) << m;
  m = error_of([] { ops::matmul(rnd({2, 3}, 1), rnd({3, 2}, 2, DType::f32)); });
  EXPECT_NE(m.find("[matmul]"), std::string::npos) << m;
}

TEST(OpsLinalg, MatmulGradcheck) {
  auto mm = [](bool ta, bool tb) {
    return [ta, tb](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1], ta, tb); };
  };
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Tensor a = set_requires_grad(rnd(ta ? Shape{4, 3} : Shape{3, 4}, 10));
      Tensor b = set_requires_grad(rnd(tb ? Shape{5, 4} : Shape{4, 5}, 11));
      auto r = gradcheck(mm(ta, tb), {a, b});
      EXPECT_TRUE(r.ok) << "ta=" << ta << " tb=" << tb << "\n" << r.report;
      // broadcast batch dims on both sides
      Tensor ab = set_requires_grad(rnd(ta ? Shape{2, 1, 4, 3} : Shape{2, 1, 3, 4}, 12));
      Tensor bb = set_requires_grad(rnd(tb ? Shape{3, 5, 4} : Shape{3, 4, 5}, 13));
      r = gradcheck(mm(ta, tb), {ab, bb});
      EXPECT_TRUE(r.ok) << "broadcast ta=" << ta << " tb=" << tb << "\n" << r.report;
      // [B, M, K] x [K, N] (folded gradient of b) and [M, K] x [B, K, N]
      Tensor a3 = set_requires_grad(rnd(ta ? Shape{2, 4, 3} : Shape{2, 3, 4}, 14));
      r = gradcheck(mm(ta, tb), {a3, b});
      EXPECT_TRUE(r.ok) << "batched a ta=" << ta << " tb=" << tb << "\n" << r.report;
      Tensor b3 = set_requires_grad(rnd(tb ? Shape{2, 5, 4} : Shape{2, 4, 5}, 15));
      r = gradcheck(mm(ta, tb), {a, b3});
      EXPECT_TRUE(r.ok) << "batched b ta=" << ta << " tb=" << tb << "\n" << r.report;
    }
  // non-contiguous leaves: a transposed view and a strided slice
  Tensor at = set_requires_grad(rnd({4, 3}, 16).transpose(0, 1));
  Tensor bs = set_requires_grad(rnd({4, 10}, 17).slice(1, 0, 10, 2));
  auto r = gradcheck(mm(false, false), {at, bs});
  EXPECT_TRUE(r.ok) << r.report;
  Tensor a4 = set_requires_grad(rnd({3, 2, 4}, 18).transpose(0, 1));  // [2, 3, 4], batch stride 4
  r = gradcheck(mm(false, true), {a4, set_requires_grad(rnd({5, 4}, 19))});
  EXPECT_TRUE(r.ok) << r.report;
}

TEST(OpsLinalg, LinearClosedForm) {
  Tensor x = Tensor::from_vector<float>({1, 2, -1, 0.5f}, {2, 2});
  Tensor w = Tensor::from_vector<float>({1, 0, 0, 1, 1, 1}, {3, 2});
  Tensor b = Tensor::from_vector<float>({0.5f, -1, 0}, {3});
  EXPECT_EQ(ops::linear(x, w, b).to_vector<float>(), (std::vector<float>{1.5f, 1, 3, -0.5f, -0.5f, -0.5f}));
  EXPECT_EQ(ops::linear(x, w).to_vector<float>(), (std::vector<float>{1, 2, 3, -1, 0.5f, -0.5f}));
  // exact GELU: gelu(1) = Phi(1) = 0.841344746..., gelu(-0.5) = -0.5 Phi(-0.5) = -0.154268...
  auto g = ops::linear(x, w, b, Activation::gelu).to_double_vector();
  EXPECT_NEAR(g[1], 0.8413447460685429, 1e-6);
  EXPECT_NEAR(g[3], -0.15426876936299344, 1e-6);
  EXPECT_EQ(ops::linear(rnd({4, 2, 3}, 1), rnd({5, 3}, 2)).shape(), (Shape{4, 2, 5}));
}

TEST(OpsLinalg, LinearMatchesComposed) {
  // 600 rows: the bias gradient sums several fixed row blocks
  for (Shape xs : {Shape{2, 3, 5}, Shape{3, 200, 5}})
    for (DType dt : {DType::f32, DType::f64})
      for (Activation act : {Activation::none, Activation::gelu})
        for (bool with_bias : {false, true}) {
          Tensor x = set_requires_grad(rnd(xs, 1, dt)), w = set_requires_grad(rnd({4, 5}, 2, dt));
          Tensor b = with_bias ? set_requires_grad(rnd({4}, 3, dt)) : Tensor();
          Tensor xr = set_requires_grad(x.clone()), wr = set_requires_grad(w.clone());
          Tensor br = with_bias ? set_requires_grad(b.clone()) : Tensor();
          Tensor dir = rnd({xs[0], xs[1], 4}, 4, dt);
          Tensor y = ops::linear(x, w, b, act);
          backward(ops::sum(y * dir));  // one tape per thread: each graph runs backward before the next is built
          Tensor yr = ops::matmul(xr, wr, false, true);
          if (with_bias) yr = yr + br;
          if (act == Activation::gelu) yr = ops::gelu(yr);
          backward(ops::sum(yr * dir));
          double tol = dt == DType::f32 ? 1e-5 : 1e-12;
          EXPECT_LT(max_abs_diff(y, yr), tol);
          EXPECT_LT(max_abs_diff(grad(x), grad(xr)), tol);
          EXPECT_LT(max_abs_diff(grad(w), grad(wr)), tol);
          if (with_bias) {
            EXPECT_LT(max_abs_diff(grad(b), grad(br)), tol);
          }
        }
}

TEST(OpsLinalg, LinearGradcheck) {
  for (Activation act : {Activation::none, Activation::gelu}) {
    Tensor x = set_requires_grad(rnd({2, 3, 4}, 20)), w = set_requires_grad(rnd({5, 4}, 21));
    Tensor b = set_requires_grad(rnd({5}, 22));
    auto lin = [act](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1], in[2], act); };
    auto r = gradcheck(lin, {x, w, b});
    EXPECT_TRUE(r.ok) << r.report;
    r = gradcheck(lin, {x, w, Tensor()});
    EXPECT_TRUE(r.ok) << r.report;
    // non-contiguous x and weight
    Tensor xt = set_requires_grad(rnd({4, 6}, 23).transpose(0, 1));
    Tensor wt = set_requires_grad(rnd({4, 5}, 24).transpose(0, 1));
    r = gradcheck(lin, {xt, wt, b});
    EXPECT_TRUE(r.ok) << r.report;
  }
}

TEST(OpsLinalg, LinearErrors) {
  std::string m = error_of([] { ops::linear(rnd({2, 3}, 1), rnd({4, 5}, 2)); });
  EXPECT_NE(m.find("[linear] x has 3 features, weight expects 5"), std::string::npos) << m;
  m = error_of([] { ops::linear(rnd({2, 3}, 1), rnd({4, 3}, 2), rnd({5}, 3)); });
  EXPECT_NE(m.find("[linear] bias must be [4]"), std::string::npos) << m;
}

TEST(OpsLinalg, LinearEmptyInput) {
  // in == 0: the output is act(bias); rows == 0: an empty output
  Tensor b = Tensor::from_vector<double>({1, -2}, {2});
  EXPECT_EQ(ops::linear(rnd({3, 0}, 1), rnd({2, 0}, 2), b).to_double_vector(),
            (std::vector<double>{1, -2, 1, -2, 1, -2}));
  EXPECT_EQ(ops::linear(rnd({0, 4}, 1), rnd({2, 4}, 2), b).shape(), (Shape{0, 2}));
}

TEST(OpsLinalg, Conv2dClosedForm) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor w = Tensor::from_vector<float>({1, 0, 0, 1}, {1, 1, 2, 2});
  EXPECT_EQ(ops::conv2d(x, w, Tensor(), 1, 0).to_vector<float>(), (std::vector<float>{6, 8, 12, 14}));
  // stride 2, padding 1, 3x3 ones: sums of the in-bounds 3x3 windows centred on (0,0), (0,2), (2,0), (2,2)
  Tensor ones = Tensor::ones({1, 1, 3, 3});
  Tensor b = Tensor::from_vector<float>({10}, {1});
  EXPECT_EQ(ops::conv2d(x, ones, b, 2, 1).to_vector<float>(), (std::vector<float>{22, 26, 34, 38}));
  EXPECT_EQ(
      ops::conv2d(rnd({2, 3, 224, 224}, 1, DType::f32), rnd({32, 3, 3, 3}, 2, DType::f32), Tensor(), 2, 1).shape(),
      (Shape{2, 32, 112, 112}));
}

TEST(OpsLinalg, Conv2dMatchesDirectLoop) {
  struct Case {
    Shape x, w;
    int64_t s, p;
  };
  std::vector<Case> cases = {
      {{2, 3, 7, 6}, {4, 3, 3, 3}, 2, 1},  // NAT's tokenizer / downsampler geometry
      {{1, 2, 5, 5}, {3, 2, 2, 3}, 1, 0},
      {{2, 2, 6, 7}, {2, 2, 3, 3}, 3, 2},
      {{1, 4, 4, 4}, {2, 4, 1, 1}, 1, 0},
  };
  for (DType dt : {DType::f32, DType::f64})
    for (const auto& c : cases)
      for (bool with_bias : {false, true}) {
        Tensor x = rnd(c.x, 1, dt), w = rnd(c.w, 2, dt);
        Tensor b = with_bias ? rnd({c.w[0]}, 3, dt) : Tensor();
        Tensor y = ops::conv2d(x, w, b, c.s, c.p);
        EXPECT_LT(max_abs_diff(y, conv2d_direct(x, w, b, c.s, c.p).to(dt)), dt == DType::f32 ? 1e-5 : 1e-12)
            << shape_str(c.x) << " * " << shape_str(c.w) << " stride " << c.s << " pad " << c.p;
      }
}

TEST(OpsLinalg, Conv2dGradcheck) {
  auto conv = [](int64_t s, int64_t p) {
    return [s, p](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], in[2], s, p); };
  };
  Tensor x = set_requires_grad(rnd({2, 2, 5, 4}, 30)), w = set_requires_grad(rnd({3, 2, 3, 3}, 31));
  Tensor b = set_requires_grad(rnd({3}, 32));
  auto r = gradcheck(conv(2, 1), {x, w, b});
  EXPECT_TRUE(r.ok) << r.report;
  r = gradcheck(conv(2, 1), {x, w, Tensor()});  // the downsampler: no bias
  EXPECT_TRUE(r.ok) << r.report;
  Tensor w23 = set_requires_grad(rnd({2, 2, 2, 3}, 33));
  r = gradcheck(conv(1, 0), {x, w23, Tensor()});
  EXPECT_TRUE(r.ok) << r.report;
  // a non-contiguous NHWC-backed input
  Tensor xv = set_requires_grad(rnd({2, 5, 4, 2}, 34).permute({0, 3, 1, 2}));
  r = gradcheck(conv(2, 1), {xv, w, b});
  EXPECT_TRUE(r.ok) << r.report;
}

TEST(OpsLinalg, Conv2dChunkedEqualsSingleChunk) {
  Tensor x = rnd({5, 3, 6, 6}, 40), w = rnd({4, 3, 3, 3}, 41), b = rnd({4}, 42), dir = rnd({5, 4, 3, 3}, 43);
  auto run = [&] {
    Tensor xs = set_requires_grad(x.clone()), ws = set_requires_grad(w.clone()), bs = set_requires_grad(b.clone());
    Tensor y = ops::conv2d(xs, ws, bs, 2, 1);
    backward(ops::sum(y * dir));
    return std::vector<Tensor>{y, grad(xs), grad(ws), grad(bs)};
  };
  auto whole = run();
  std::vector<Tensor> chunked;
  {
    ColumnBudget budget(2 * 27 * 9 * 8);  // two images per chunk: chunks of 2, 2, 1
    chunked = run();
  }
  for (size_t i = 0; i < whole.size(); ++i) EXPECT_LT(max_abs_diff(whole[i], chunked[i]), 1e-12) << "output " << i;
}

TEST(OpsLinalg, Conv2dBackwardIsDeterministic) {
  Tensor x = rnd({3, 4, 9, 9}, 50, DType::f32), w = rnd({8, 4, 3, 3}, 51, DType::f32), b = rnd({8}, 52, DType::f32);
  auto grads = [&] {
    Tensor xs = set_requires_grad(x.clone()), ws = set_requires_grad(w.clone()), bs = set_requires_grad(b.clone());
    backward(ops::sum(ops::conv2d(xs, ws, bs, 2, 1)));
    return std::vector<std::vector<float>>{grad(xs).to_vector<float>(), grad(ws).to_vector<float>(),
                                           grad(bs).to_vector<float>()};
  };
  EXPECT_EQ(grads(), grads());
}

TEST(OpsLinalg, Conv2dErrors) {
  std::string m = error_of([] { ops::conv2d(rnd({1, 3, 5, 5}, 1), rnd({4, 2, 3, 3}, 2), Tensor(), 1, 0); });
  EXPECT_NE(m.find("[conv2d] x has C=3 channels, weight expects 2"), std::string::npos) << m;
  m = error_of([] { ops::conv2d(rnd({1, 1, 2, 2}, 1), rnd({1, 1, 5, 5}, 2), Tensor(), 1, 1); });
  EXPECT_NE(m.find("[conv2d] kernel 5x5 is larger than the padded input 4x4"), std::string::npos) << m;
  m = error_of([] { ops::conv2d(rnd({1, 1, 4, 4}, 1), rnd({1, 1, 3, 3}, 2), Tensor(), 0, 1); });
  EXPECT_NE(m.find("stride >= 1"), std::string::npos) << m;
  m = error_of([] { ops::conv2d(rnd({1, 4, 4}, 1), rnd({1, 1, 3, 3}, 2), Tensor(), 1, 1); });
  EXPECT_NE(m.find("needs x [N, C, H, W]"), std::string::npos) << m;
}

// The kernels write every element of their outputs: NaN-poisoned outputs must come back finite.
TEST(OpsLinalg, KernelsOverwritePoisonedOutputs) {
  namespace k = nat::kernels::cpu;
  Tensor a = rnd({3, 4}, 60, DType::f32), b = rnd({4, 5}, 61, DType::f32);
  Tensor c = poisoned({3, 5}, DType::f32, Device::cpu());
  k::gemm(false, false, 3, 5, 4, 1.0, a.data_ptr(), 4, 0, b.data_ptr(), 5, 0, 0.0, c.data_ptr(), 5, 0, 1, DType::f32,
          0);
  EXPECT_LT(max_abs_diff(c, ops::matmul(a, b)), 1e-6);

  Conv2dShape g{2, 3, 5, 6, 3, 3, 2, 1, 3, 3};
  Tensor x = rnd({2, 3, 5, 6}, 62, DType::f32);
  Tensor col = poisoned({27, 2 * 9}, DType::f32, Device::cpu());
  k::im2col(g, x.data_ptr(), col.data_ptr(), DType::f32, 0);
  EXPECT_TRUE(std::isfinite(ops::sum(col).item()));
  Tensor xi = poisoned({2, 3, 5, 6}, DType::f32, Device::cpu());
  k::col2im(g, col.data_ptr(), xi.data_ptr(), DType::f32, 0);
  EXPECT_TRUE(std::isfinite(ops::sum(xi).item()));

  Tensor z = rnd({6, 4, 3}, 63, DType::f32), gy = rnd({6, 4, 3}, 64, DType::f32);
  Tensor gz = poisoned({6, 4, 3}, DType::f32, Device::cpu()), gb = poisoned({4}, DType::f32, Device::cpu());
  k::bias_act_backward(Activation::gelu, 6, 4, 3, z.data_ptr(), gy.data_ptr(), gz.data_ptr(), gb.data_ptr(), DType::f32,
                       0);
  EXPECT_LT(max_abs_diff(gb, ops::sum(gz, {0, 2})), 1e-5);
  Tensor y = poisoned({6, 4, 3}, DType::f32, Device::cpu());
  k::bias_act_forward(Activation::gelu, 6, 4, 3, nullptr, z.data_ptr(), y.data_ptr(), DType::f32, 0);
  EXPECT_LT(max_abs_diff(y, ops::gelu(z)), 1e-6);
}
