// Shape ops: closed-form values, zero-copy views, float64 gradcheck of every op (contiguous and
// non-contiguous inputs, and chains), tape bookkeeping, and error messages naming the op and shapes.
#include <gtest/gtest.h>

#include <functional>

#include "autograd/gradcheck.h"
#include "core/rng.h"
#include "ops/ops.h"
#include "ops/shape.h"
#include "support/test_util.h"

using namespace nat;
using nat::testing::expect_gradcheck;
using nat::testing::leaf;

namespace {

Tensor rnd(const Shape& s, uint64_t seed) { return nat::testing::random_f64(s, seed); }

// x[i, j, k] = 100 i + 10 j + k, so every value names its own index.
Tensor indexed(int64_t a, int64_t b, int64_t c) {
  std::vector<double> v;
  for (int64_t i = 0; i < a; ++i)
    for (int64_t j = 0; j < b; ++j)
      for (int64_t k = 0; k < c; ++k) v.push_back(100.0 * i + 10.0 * j + k);
  return Tensor::from_vector(v, {a, b, c});
}

std::vector<double> vals(const Tensor& t) { return t.to_double_vector(); }

// Runs f, expects a nat::Error, and checks that its message contains every part (op name, shapes).
template <typename F>
void expect_error(F&& f, std::initializer_list<const char*> parts) {
  std::string msg;
  try {
    f();
    ADD_FAILURE() << "expected nat::Error, nothing was thrown";
    return;
  } catch (const Error& e) {
    msg = e.what();
  }
  for (const char* p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "\"" << msg << "\" lacks \"" << p << "\"";
}
#define EXPECT_SHAPE_ERROR(stmt, ...) expect_error([&] { stmt; }, {__VA_ARGS__})

}  // namespace

TEST(OpsShape, ViewValues) {
  Tensor x = indexed(2, 3, 4);
  EXPECT_EQ(ops::reshape(x, {6, -1}).shape(), (Shape{6, 4}));
  EXPECT_EQ(vals(ops::reshape(x, {24})), vals(x));
  Tensor p = ops::permute(x, {2, 0, 1});  // p[k, i, j] = x[i, j, k]
  ASSERT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(vals(p.select(0, 3).select(0, 1)), (std::vector<double>{103, 113, 123}));
  EXPECT_EQ(vals(ops::transpose(x, 0, -1).select(0, 2)), (std::vector<double>{2, 102, 12, 112, 22, 122}));
  EXPECT_EQ(vals(ops::slice(x, 2, 1, 4, 2).select(0, 1).select(0, 2)), (std::vector<double>{121, 123}));
  EXPECT_EQ(vals(ops::slice(x, -1, -3, -1)).size(), 12u);  // Python bounds: k in {1, 2}
  EXPECT_EQ(vals(ops::slice(x, -1, -3, -1).select(0, 0).select(0, 0)), (std::vector<double>{1, 2}));
  EXPECT_EQ(vals(ops::slice(x, 1, 2, 100)).size(), 8u);  // end clamps to the size
  EXPECT_EQ(vals(ops::select(x, 1, -1).select(0, 1)), (std::vector<double>{120, 121, 122, 123}));
  EXPECT_EQ(ops::flatten(x, 1).shape(), (Shape{2, 12}));
  EXPECT_EQ(ops::flatten(x).shape(), (Shape{24}));
  EXPECT_EQ(ops::flatten(Tensor::scalar(3.0)).shape(), (Shape{1}));
  EXPECT_EQ(ops::unsqueeze(x, -1).shape(), (Shape{2, 3, 4, 1}));
  EXPECT_EQ(ops::unsqueeze(x, 0).shape(), (Shape{1, 2, 3, 4}));
  EXPECT_EQ(ops::squeeze(ops::unsqueeze(x, 1), 1).shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(ops::squeeze(x, 1).shape(), (Shape{2, 3, 4}));  // size 3: unchanged
  Tensor e = ops::expand(Tensor::from_vector<double>({1, 2, 3}, {3, 1}), {2, 3, 2});
  EXPECT_EQ(vals(e), (std::vector<double>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  EXPECT_EQ(vals(ops::expand(Tensor::from_vector<double>({5, 6}, {2}), {-1})), (std::vector<double>{5, 6}));
}

TEST(OpsShape, ForwardViewsShareStorage) {
  Tensor x = leaf(rnd({2, 3, 4}, 1));  // recording must not turn views into copies
  std::vector<std::pair<const char*, Tensor>> views = {
      {"reshape", ops::reshape(x, {3, 8})},
      {"permute", ops::permute(x, {1, 2, 0})},
      {"transpose", ops::transpose(x, 0, 2)},
      {"flatten", ops::flatten(x, 0, 1)},
      {"unsqueeze", ops::unsqueeze(x, 1)},
      {"squeeze", ops::squeeze(ops::unsqueeze(x, 2), 2)},
      {"expand", ops::expand(ops::unsqueeze(x, 0), {5, 2, 3, 4})},
      {"slice", ops::slice(x, 1, 1, 3)},
      {"select", ops::select(x, 2, 1)},
      {"reshape of a permuted view", ops::reshape(ops::permute(x, {0, 2, 1}), {2, 4, 3})}};
  for (auto& [name, v] : views) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(v.shares_storage(x));
    EXPECT_TRUE(requires_grad(v));
    EXPECT_FALSE(is_leaf(v));
  }
  // Writes through the storage show up in the views.
  Tensor s = ops::select(x, 0, 1);
  detach(x).select(0, 1).select(0, 2).fill_(7.5);
  EXPECT_EQ(s.select(0, 2).to_double_vector(), std::vector<double>(4, 7.5));
  // Copies do not share.
  EXPECT_FALSE(ops::contiguous(ops::transpose(x, 0, 1)).shares_storage(x));
  EXPECT_FALSE(ops::cat({x, x}, 0).shares_storage(x));
  EXPECT_FALSE(ops::pad(x, {1, 1}).shares_storage(x));
  // reshape of a non-viewable layout copies (and still has the right values).
  Tensor t = ops::transpose(x, 1, 2);
  Tensor r = ops::reshape(t, {2, 12});
  EXPECT_FALSE(r.shares_storage(x));
  EXPECT_EQ(vals(r), vals(t));
  clear_tape();
}

TEST(OpsShape, ContiguousReturnsTheSameTensorWhenAlreadyContiguous) {
  Tensor x = leaf(rnd({3, 4}, 2));
  Tensor c = ops::contiguous(x);
  EXPECT_EQ(c.impl_ptr(), x.impl_ptr());
  EXPECT_TRUE(is_leaf(c));
  Tensor t = ops::transpose(x, 0, 1);
  Tensor tc = ops::contiguous(t);
  EXPECT_TRUE(tc.is_contiguous());
  EXPECT_EQ(vals(tc), vals(t));
  EXPECT_NE(vals(tc), vals(x));
  clear_tape();
}

TEST(OpsShape, CatValues) {
  Tensor a = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::from_vector<float>({5, 6}, {2, 1});
  EXPECT_EQ(ops::cat({a, b}, 1).to_vector<float>(), (std::vector<float>{1, 2, 5, 3, 4, 6}));
  EXPECT_EQ(ops::cat({a, b.transpose(0, 1)}, 0).to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(ops::cat({b, a, b}, -1).to_vector<float>(), (std::vector<float>{5, 1, 2, 5, 6, 3, 4, 6}));
  // Empty pieces are allowed; non-float dtypes too (no gradients involved).
  Tensor z = Tensor::empty({2, 0});
  EXPECT_EQ(ops::cat({z, a, z}, 1).to_vector<float>(), a.to_vector<float>());
  Tensor i = Tensor::from_vector<int64_t>({7, 8}, {2});
  EXPECT_EQ(ops::cat({i, i}, 0).to_vector<int64_t>(), (std::vector<int64_t>{7, 8, 7, 8}));
}

TEST(OpsShape, PadValues) {
  Tensor x = Tensor::from_vector<double>({1, 2}, {2});
  EXPECT_EQ(vals(ops::pad(x, {2, 1}, 9)), (std::vector<double>{9, 9, 1, 2, 9}));
  EXPECT_EQ(vals(ops::pad(x, {0, 0})), (std::vector<double>{1, 2}));
  // NAT's bottom/right policy on [B, H, W, C]: {0,0, 0,pw, 0,ph} pads C by 0, W by pw, H by ph.
  Tensor img = Tensor::from_vector<double>({1, 2, 3, 4}, {1, 2, 2, 1});
  Tensor p = ops::pad(img, {0, 0, 0, 1, 0, 2}, -1);
  ASSERT_EQ(p.shape(), (Shape{1, 4, 3, 1}));
  EXPECT_EQ(vals(p), (std::vector<double>{1, 2, -1, 3, 4, -1, -1, -1, -1, -1, -1, -1}));
  // Left/top pads, a non-contiguous input, and the default zero value.
  Tensor q = ops::pad(Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2}).transpose(0, 1), {1, 0, 1, 0});
  EXPECT_EQ(vals(q), (std::vector<double>{0, 0, 0, 0, 1, 3, 0, 2, 4}));
  // A larger pad: every element must be either the input's 2 or the pad value 5, in the right counts.
  Tensor big = ops::pad(Tensor::full({3, 5, 7}, 2.0, DType::f32), {2, 3, 1, 4, 0, 2}, 5.0);
  ASSERT_EQ(big.shape(), (Shape{5, 10, 12}));
  int64_t twos = 0, fives = 0;
  for (float v : big.to_vector<float>()) {
    twos += v == 2.0f;
    fives += v == 5.0f;
  }
  EXPECT_EQ(twos, 3 * 5 * 7);
  EXPECT_EQ(fives, 5 * 10 * 12 - 3 * 5 * 7);
  EXPECT_EQ(vals(big.select(0, 1).select(0, 1).slice(0, 1, 4)), (std::vector<double>{5, 2, 2}));
}

TEST(OpsShape, ClosedFormGradients) {
  Tensor x = leaf(rnd({3, 4}, 3));
  backward(ops::sum(ops::slice(x, 1, 1, 4, 2)));
  EXPECT_EQ(vals(grad(x)), (std::vector<double>{0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}));
  zero_grad(x);
  backward(ops::sum(ops::expand(ops::unsqueeze(x, 0), {5, 3, 4})));
  EXPECT_EQ(vals(grad(x)), std::vector<double>(12, 5.0));
  zero_grad(x);
  backward(ops::sum(ops::select(x, 0, -1)));
  EXPECT_EQ(vals(grad(x)), (std::vector<double>{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1}));
  zero_grad(x);
  backward(ops::sum(ops::pad(x, {3, 3, 1, 1}, 4.0)));  // the pad value carries no gradient
  EXPECT_EQ(vals(grad(x)), std::vector<double>(12, 1.0));
  zero_grad(x);
  // x used twice in one cat: gradients accumulate.
  backward(ops::sum(ops::cat({x, ops::slice(x, 0, 0, 1), x}, 0)));
  EXPECT_EQ(vals(grad(x)), (std::vector<double>{3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2}));
}

TEST(OpsShape, GradcheckViewOps) {
  Tensor x = leaf(rnd({2, 3, 4}, 4));
  Tensor xt = leaf(rnd({4, 3, 2}, 5).permute({2, 1, 0}));  // a non-contiguous [2, 3, 4] leaf
  ASSERT_FALSE(xt.is_contiguous());
  using F = std::function<Tensor(const Tensor&)>;
  std::vector<std::pair<const char*, F>> fs = {
      {"reshape",
       [](const Tensor& t) {
         return ops::reshape(t, {4, -1});
       }},
      {"permute",
       [](const Tensor& t) {
         return ops::permute(t, {1, -1, 0});
       }},
      {"transpose", [](const Tensor& t) { return ops::transpose(t, 2, 0); }},
      {"contiguous", [](const Tensor& t) { return ops::contiguous(t); }},
      {"flatten", [](const Tensor& t) { return ops::flatten(t, 1, 2); }},
      {"unsqueeze", [](const Tensor& t) { return ops::unsqueeze(t, 2); }},
      {"squeeze", [](const Tensor& t) { return ops::squeeze(ops::unsqueeze(t, -1), -1); }},
      {"expand",
       [](const Tensor& t) {
         return ops::expand(ops::slice(t, 1, 0, 1), {3, 2, 3, 4});
       }},
      {"slice", [](const Tensor& t) { return ops::slice(t, -1, 1, 4, 2); }},
      {"slice empty", [](const Tensor& t) { return ops::slice(t, 1, 2, 2); }},
      {"select", [](const Tensor& t) { return ops::select(t, 1, -2); }},
  };
  for (const auto& entry : fs) {
    SCOPED_TRACE(entry.first);
    const F& f = entry.second;
    auto g = [&f](const std::vector<Tensor>& in) { return f(in[0]); };  // gradcheck projects onto random weights
    expect_gradcheck(g, {x});
    expect_gradcheck(g, {xt});
  }
}

TEST(OpsShape, GradcheckCatAndPad) {
  Tensor a = leaf(rnd({2, 3}, 6)), b = leaf(rnd({2, 2}, 7)), c = leaf(rnd({3, 2}, 8).transpose(0, 1));
  expect_gradcheck([](const std::vector<Tensor>& in) { return ops::cat({in[0], in[1], in[2]}, 1); }, {a, b, c});
  expect_gradcheck([](const std::vector<Tensor>& in) { return ops::cat({in[0], in[1]}, 0); }, {a, c});
  // Only some inputs need a gradient.
  Tensor frozen = rnd({2, 2}, 9);
  expect_gradcheck([frozen](const std::vector<Tensor>& in) { return ops::cat({frozen, in[0]}, -1); }, {a});
  Tensor x = leaf(rnd({2, 3, 3, 2}, 10));
  Tensor xn = leaf(rnd({2, 3, 3, 2}, 11).permute({0, 2, 1, 3}));
  for (const Tensor& t : {x, xn}) {
    expect_gradcheck([](const std::vector<Tensor>& in) { return ops::pad(in[0], {0, 0, 0, 2, 0, 1}); }, {t});
    expect_gradcheck([](const std::vector<Tensor>& in) { return ops::pad(in[0], {1, 2, 2, 0, 0, 0, 1, 1}, 0.5); }, {t});
  }
}

TEST(OpsShape, GradcheckChains) {
  // permute -> reshape -> slice -> cat -> pad -> sum, end to end, on a non-contiguous leaf.
  Tensor x = leaf(rnd({3, 2, 4}, 12).transpose(0, 1));  // [2, 3, 4], non-contiguous
  Tensor y = leaf(rnd({2, 6}, 13));
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        Tensor p = ops::permute(in[0], {0, 2, 1});      // [2, 4, 3]
        Tensor r = ops::reshape(p, {2, 12});            // copies: p is not viewable
        Tensor s = ops::slice(r, 1, 1, 12, 2);          // [2, 6]
        Tensor c = ops::cat({s, ops::gelu(in[1])}, 0);  // [4, 6]
        Tensor q = ops::pad(c, {1, 0, 0, 2}, -3.0);     // [6, 7]
        return ops::sum(q * q);
      },
      {x, y});
  // NAT's pad-then-crop policy on [B, H, W, C]: pad bottom/right, work, crop back.
  Tensor img = leaf(rnd({1, 3, 2, 2}, 14));
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        Tensor p = ops::pad(in[0], {0, 0, 0, 2, 0, 1});  // [1, 4, 4, 2]
        Tensor w = p * rnd({1, 4, 4, 2}, 15) + ops::reshape(ops::flatten(p, 1, 2), {1, 4, 4, 2});
        Tensor crop = ops::slice(ops::slice(w, 1, 0, 3), 2, 0, 2);  // back to [1, 3, 2, 2]
        return ops::squeeze(ops::select(ops::expand(crop, {2, 1, 3, 2, 2}), 0, 1), 0);
      },
      {img});
}

TEST(OpsShape, TapeRecordsOneNodePerOpOnlyWhenNeeded) {
  clear_tape();
  Tensor x = leaf(rnd({2, 3}, 16));
  Tensor plain = rnd({2, 3}, 17);
  ops::transpose(plain, 0, 1);
  ops::cat({plain, plain}, 0);
  ops::pad(plain, {1, 1});
  EXPECT_EQ(tape_size(), 0u);
  {
    NoGradGuard ng;
    ops::reshape(x, {6});
    EXPECT_EQ(tape_size(), 0u);
  }
  ops::reshape(x, {6});
  ops::cat({plain, x}, 1);
  ops::pad(x, {0, 1});
  ASSERT_EQ(tape_size(), 3u);
  EXPECT_EQ(tape_nodes()[0]->name, "reshape");
  EXPECT_EQ(tape_nodes()[1]->name, "cat");
  EXPECT_EQ(tape_nodes()[2]->name, "pad");
  // squeeze of a dim whose size is not 1 returns a new handle: the leaf stays a leaf.
  Tensor s = ops::squeeze(x, 0);
  EXPECT_TRUE(is_leaf(x));
  EXPECT_FALSE(is_leaf(s));
  EXPECT_EQ(s.shape(), x.shape());
  // 0-d inputs
  Tensor sc = leaf(Tensor::scalar(2.0, DType::f64));
  backward(ops::sum(ops::squeeze(ops::transpose(sc, 0, -1), 0) * 3.0));
  EXPECT_EQ(grad(sc).item(), 3.0);
  clear_tape();
}

TEST(OpsShape, ErrorsNameTheOpAndShapes) {
  Tensor x = Tensor::zeros({2, 3});
  EXPECT_SHAPE_ERROR(ops::reshape(x, {4, 2}), "[reshape]", "[4, 2]", "[2, 3]");
  EXPECT_SHAPE_ERROR(ops::permute(x, {0}), "[permute]", "[2, 3]");
  EXPECT_SHAPE_ERROR(ops::permute(x, {1, 1}), "[permute]", "repeated", "[2, 3]");
  EXPECT_SHAPE_ERROR(ops::permute(x, {0, 2}), "[permute]", "dim 2", "[2, 3]");
  EXPECT_SHAPE_ERROR(ops::transpose(x, 0, -3), "[transpose]", "dim -3", "[2, 3]");
  EXPECT_SHAPE_ERROR(ops::flatten(x, 1, 0), "[flatten]", "[2, 3]");
  EXPECT_SHAPE_ERROR(ops::unsqueeze(x, 3), "[unsqueeze]", "dim 3", "[2, 3]");
  EXPECT_SHAPE_ERROR(ops::squeeze(x, 2), "[squeeze]", "[2, 3]");
  EXPECT_SHAPE_ERROR(ops::expand(x, {2, 4}), "[expand]", "[2, 3]", "[2, 4]");
  EXPECT_SHAPE_ERROR(ops::slice(x, 1, 0, 2, 0), "[slice]", "step", "[2, 3]");
  EXPECT_SHAPE_ERROR(ops::slice(x, 2, 0, 1), "[slice]", "dim 2", "[2, 3]");
  EXPECT_SHAPE_ERROR(ops::select(x, 1, 3), "[select]", "index 3", "[2, 3]");
  EXPECT_SHAPE_ERROR(ops::select(Tensor::scalar(1.0), 0, 0), "[select]", "0-d");
  EXPECT_SHAPE_ERROR(ops::cat({}, 0), "[cat]");
  EXPECT_SHAPE_ERROR(ops::cat({x, Tensor::zeros({3, 3}), Tensor::zeros({2, 5})}, 1), "[cat]", "input 1", "f32[2, 3]",
                     "f32[3, 3]", "f32[2, 5]");
  EXPECT_SHAPE_ERROR(ops::cat({x, Tensor::zeros({2, 3}, DType::f64)}, 0), "[cat]", "dtypes", "f32[2, 3]", "f64[2, 3]");
  EXPECT_SHAPE_ERROR(ops::cat({x, Tensor::zeros({2, 3, 1})}, 0), "[cat]", "[2, 3]", "[2, 3, 1]");
  EXPECT_SHAPE_ERROR(ops::cat({x, x}, 2), "[cat]", "dim 2", "[2, 3]");
  EXPECT_SHAPE_ERROR(ops::cat({Tensor::scalar(1.0)}, 0), "[cat]", "0-d");
  EXPECT_SHAPE_ERROR(ops::pad(x, {1}), "[pad]", "pairs", "[2, 3]");
  EXPECT_SHAPE_ERROR(ops::pad(x, {0, 1, 0, 0, 1, 1}), "[pad]", "[0, 1, 0, 0, 1, 1]", "[2, 3]");
  EXPECT_SHAPE_ERROR(ops::pad(x, {0, -1}), "[pad]", ">= 0", "[0, -1]", "[2, 3]");
  EXPECT_SHAPE_ERROR(ops::reshape(Tensor(), {1}), "[reshape]", "undefined");
}
