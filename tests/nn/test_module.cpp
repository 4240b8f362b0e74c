// Module infrastructure and basic layers: registration order and name rules, dotted names, state dicts and
// load_state_dict errors, train/eval, in-place dtype moves, initialisers and the layers' forward values.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/autograd.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "ops/ops.h"
#include "support/expect_error.h"
#include "support/test_util.h"

using namespace nat;
using namespace nat::nn;

namespace {

// A two-level toy module exposing the protected registration API.
class Leaf : public Module {
 public:
  Leaf() : Module("Leaf") {
    w = register_parameter("w", Tensor::ones({2, 3}));
    stats = register_buffer("stats", Tensor::zeros({3}));
    scratch = register_buffer("scratch", Tensor::zeros({1}), /*persistent=*/false);
    b = register_parameter("b", Tensor::zeros({2}));
  }
  Tensor w, b, stats, scratch;
  using Module::register_buffer;
  using Module::register_module;
  using Module::register_parameter;
};

class Tree : public Module {
 public:
  Tree() : Module("Tree") {
    first = register_module("first", std::make_shared<Leaf>());
    scale = register_parameter("scale", Tensor::full({1}, 2.0));
    list = register_module("list", std::make_shared<ModuleList>());
    list->push_back(std::make_shared<Leaf>());
    list->push_back(std::make_shared<Dropout>(0.5));
  }
  std::shared_ptr<Leaf> first;
  std::shared_ptr<ModuleList> list;
  Tensor scale;
};

std::vector<std::string> names(const NamedTensors& t) {
  std::vector<std::string> out;
  for (const auto& [n, _] : t) out.push_back(n);
  return out;
}

}  // namespace

TEST(NnModule, NamesFollowRegistrationOwnTensorsFirst) {
  Tree t;
  EXPECT_EQ(names(t.named_parameters()),
            (std::vector<std::string>{"scale", "first.w", "first.b", "list.0.w", "list.0.b"}));
  EXPECT_EQ(names(t.named_buffers()),
            (std::vector<std::string>{"first.stats", "first.scratch", "list.0.stats", "list.0.scratch"}));
  // state_dict: parameters then persistent buffers per module (PyTorch's order); no non-persistent buffers.
  EXPECT_EQ(names(t.state_dict()), (std::vector<std::string>{"scale", "first.w", "first.b", "first.stats", "list.0.w",
                                                             "list.0.b", "list.0.stats"}));
  EXPECT_EQ(t.num_parameters(), 1 + 6 + 2 + 6 + 2);
  std::vector<std::string> mods;
  for (const auto& [n, m] : t.named_modules()) mods.push_back(n + ":" + m->type_name());
  EXPECT_EQ(mods,
            (std::vector<std::string>{":Tree", "first:Leaf", "list:ModuleList", "list.0:Leaf", "list.1:Dropout"}));
  EXPECT_TRUE(requires_grad(t.first->w));
  EXPECT_FALSE(requires_grad(t.first->stats));
  EXPECT_EQ(t.child("first").get(), t.first.get());
  EXPECT_EQ(t.child("none"), nullptr);
  EXPECT_TRUE(t.list->at<Leaf>(0) != nullptr);
  NAT_EXPECT_ERROR(t.list->at<Leaf>(1), "element 1 is a Dropout");
  NAT_EXPECT_ERROR(t.list->at<Leaf>(2), "out of range");
}

TEST(NnModule, RegistrationRejectsBadNames) {
  Leaf l;
  NAT_EXPECT_ERROR(l.register_parameter("", Tensor::zeros({1})), "must not be empty");
  NAT_EXPECT_ERROR(l.register_parameter("a.b", Tensor::zeros({1})), "'a.b'", "must not contain a dot");
  NAT_EXPECT_ERROR(l.register_parameter("w", Tensor::zeros({1})), "'w'", "already registered");
  NAT_EXPECT_ERROR(l.register_buffer("b", Tensor::zeros({1})), "'b'", "already registered");
  NAT_EXPECT_ERROR(l.register_module("stats", std::make_shared<Leaf>()), "'stats'", "already registered");
  NAT_EXPECT_ERROR(l.register_parameter("u", Tensor()), "undefined");
}

TEST(NnModule, StateDictRoundTripCopiesValuesIntoTheSameTensors) {
  Tree a, b;
  Generator g(3);
  for (const auto& [n, p] : a.named_parameters()) init::normal(p, g);
  a.first->stats.fill_(5.0);
  Tensor held = b.first->w;  // a handle held elsewhere (an optimizer, say) must see the new values
  LoadReport r = b.load_state_dict(a.state_dict());
  EXPECT_TRUE(r.missing.empty() && r.unexpected.empty());
  EXPECT_EQ(nat::testing::max_abs_diff(held, a.first->w), 0.0);
  EXPECT_EQ(held.impl_ptr(), b.first->w.impl_ptr());
  EXPECT_EQ(nat::testing::max_abs_diff(b.first->stats, a.first->stats), 0.0);
  EXPECT_EQ(nat::testing::max_abs_diff(b.scale, a.scale), 0.0);
  // The state dict holds detached handles: no autograd, same data.
  for (const auto& [n, t] : a.state_dict()) EXPECT_FALSE(requires_grad(t)) << n;
}

TEST(NnModule, StrictLoadListsMissingUnexpectedAndMisShapedKeys) {
  Tree t;
  NamedTensors sd = t.state_dict();
  NamedTensors bad;
  for (auto& [n, v] : sd) {
    if (n == "first.b") continue;  // missing
    if (n == "list.0.w")
      bad.emplace_back(n, Tensor::zeros({3, 2}));  // wrong shape
    else
      bad.emplace_back(n, v);
  }
  bad.emplace_back("first.extra", Tensor::zeros({4}));  // unexpected
  t.first->w.fill_(7.0);
  std::string msg = nat::testing::error_message([&] { t.load_state_dict(bad); });
  EXPECT_TRUE(
      nat::testing::message_contains(msg, {"missing keys (1)", "first.b [2]", "unexpected keys (1)", "first.extra [4]",
                                           "shape mismatches (1)", "list.0.w: checkpoint [3, 2], model [2, 3]"}));
  EXPECT_EQ(t.first->w.to_double_vector()[0], 7.0) << "a rejected load must not modify the module";
  // Non-strict: missing/unexpected are reported, shape mismatches still fail.
  NAT_EXPECT_ERROR(t.load_state_dict(bad, /*strict=*/false), "shape mismatches", "list.0.w");
  bad.erase(std::remove_if(bad.begin(), bad.end(), [](const auto& p) { return p.first == "list.0.w"; }), bad.end());
  LoadReport r = t.load_state_dict(bad, /*strict=*/false);
  EXPECT_EQ(r.missing, (std::vector<std::string>{"first.b [2]", "list.0.w [2, 3]"}));
  EXPECT_EQ(r.unexpected, (std::vector<std::string>{"first.extra [4]"}));
  NAT_EXPECT_ERROR(t.load_state_dict({{"scale", Tensor::zeros({1})}, {"scale", Tensor::zeros({1})}}, false),
                   "duplicate", "scale");
}

TEST(NnModule, LoadWidensDtypeAndFileRoundTrip) {
  Tree a, b;
  Generator g(5);
  for (const auto& [n, p] : a.named_parameters()) init::normal(p, g);
  b.to(DType::f64);
  b.load_state_dict(a.state_dict());  // f32 -> f64 is lossless (narrowing is refused: test_module_dtype.cpp)
  EXPECT_EQ(b.first->w.dtype(), DType::f64);
  EXPECT_EQ(nat::testing::max_abs_diff(b.first->w, a.first->w), 0.0);

  std::string path = ::testing::TempDir() + "nn_module_state.safetensors";
  save_state_dict(a, path, {{"model", "tree"}});
  Tree c;
  load_state_dict(c, path);
  EXPECT_EQ(nat::testing::max_abs_diff(c.list->at<Leaf>(0)->w, a.list->at<Leaf>(0)->w), 0.0);
  Leaf wrong;
  NAT_EXPECT_ERROR(load_state_dict(wrong, path), path.c_str(), "unexpected keys");
}

TEST(NnModule, TrainEvalIsRecursive) {
  Tree t;
  EXPECT_TRUE(t.is_training());
  t.eval();
  for (const auto& [n, m] : t.named_modules()) EXPECT_FALSE(m->is_training()) << n;
  t.train();
  for (const auto& [n, m] : t.named_modules()) EXPECT_TRUE(m->is_training()) << n;
  // Dropout is the identity in eval mode and is not in training mode.
  auto drop = t.list->at<Dropout>(1);
  Tensor x = Tensor::ones({64});
  EXPECT_GT(nat::testing::max_abs_diff(drop->forward(x), x), 0.5);
  t.eval();
  EXPECT_EQ(drop->forward(x).impl_ptr(), x.impl_ptr());
}

TEST(NnModule, ToDtypeKeepsParameterIdentityAndGradients) {
  Linear lin({.in_features = 3, .out_features = 2});
  Tensor w = lin.weight;
  uint64_t id_before = w.impl().autograd->id;
  Tensor y = ops::sum(lin.forward(Tensor::ones({4, 3})));
  backward(y);
  ASSERT_TRUE(grad(w).defined());
  lin.to(DType::f64);
  EXPECT_EQ(w.dtype(), DType::f64) << "handles held before to() see the move";
  EXPECT_EQ(w.impl().autograd->id, id_before);
  EXPECT_EQ(grad(w).dtype(), DType::f64);
  EXPECT_TRUE(requires_grad(w));
  lin.zero_grad();
  EXPECT_FALSE(grad(w).defined());
  Tensor y64 = lin.forward(Tensor::ones({1, 3}, DType::f64));
  EXPECT_EQ(y64.dtype(), DType::f64);
  lin.to(Device::cpu());  // no-op
  EXPECT_EQ(w.dtype(), DType::f64);
}

TEST(NnInit, DistributionsBoundsAndReproducibility) {
  Generator g1(11), g2(11);
  Tensor a = Tensor::empty({200, 50}), b = Tensor::empty({200, 50});
  init::trunc_normal(a, g1, 0.02);
  init::trunc_normal(b, g2, 0.02);
  EXPECT_EQ(nat::testing::max_abs_diff(a, b), 0.0) << "same seed, same weights";
  auto v = a.to_double_vector();
  double s = 0, s2 = 0;
  for (double x : v) s += x, s2 += x * x;
  double mean = s / v.size(), stdv = std::sqrt(s2 / v.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.002);
  EXPECT_NEAR(stdv, 0.02, 0.001);

  Tensor t = Tensor::empty({1000});
  init::trunc_normal(t, g1, 1.0, 0.0, -0.5, 0.5);
  for (double x : t.to_double_vector()) ASSERT_TRUE(x >= -0.5 && x <= 0.5);

  // kaiming_uniform(a = sqrt(5)) on a conv weight: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C*k*k.
  Tensor w = Tensor::empty({8, 4, 3, 3});
  EXPECT_EQ(init::fan_in(w), 36);
  init::kaiming_uniform(w, g1);
  double bound = 1.0 / 6.0, mx = 0;
  for (double x : w.to_double_vector()) mx = std::max(mx, std::fabs(x));
  EXPECT_LE(mx, bound);
  EXPECT_GT(mx, 0.9 * bound);
  init::ones(w);
  EXPECT_EQ(w.to_double_vector()[17], 1.0);
  init::zeros(w);
  EXPECT_EQ(w.to_double_vector()[17], 0.0);
  NAT_EXPECT_ERROR(init::zeros(Tensor::zeros({2}, DType::i64)), "floating");

  // NoInitGuard: initialisers do nothing while it lives, and work again afterwards.
  Tensor u = Tensor::full({4}, 3.0);
  {
    init::NoInitGuard guard;
    EXPECT_FALSE(init::enabled());
    init::zeros(u);
    init::trunc_normal(u, g1, 0.02);
    EXPECT_EQ(u.to_vector<float>(), (std::vector<float>(4, 3.f)));
  }
  EXPECT_TRUE(init::enabled());
  init::zeros(u);
  EXPECT_EQ(u.to_vector<float>(), (std::vector<float>(4, 0.f)));
}

TEST(NnLayers, LinearConvLayerNormValuesAndDefaults) {
  Generator g(1);
  Linear lin({.in_features = 2, .out_features = 2}, g);
  lin.weight.copy_(Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2}));
  lin.bias.copy_(Tensor::from_vector<float>({0.5f, -1}, {2}));
  Tensor y = lin.forward(Tensor::from_vector<float>({1, 1, 2, 0}, {2, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{3.5f, 6, 2.5f, 5}));
  Linear nobias({.in_features = 2, .out_features = 3, .bias = false}, g);
  EXPECT_EQ(names(nobias.named_parameters()), (std::vector<std::string>{"weight"}));

  Conv2d conv({.in_channels = 2, .out_channels = 3, .kernel_size = 3, .stride = 2, .padding = 1}, g);
  EXPECT_EQ(conv.forward(Tensor::ones({1, 2, 7, 5})).shape(), (Shape{1, 3, 4, 3}));
  EXPECT_EQ(conv.output_size(224), 112);
  double bound = 1.0 / std::sqrt(18.0), mx = 0;
  for (double x : conv.bias.to_double_vector()) mx = std::max(mx, std::fabs(x));
  EXPECT_LE(mx, bound) << "PyTorch's default conv bias is U(+-1/sqrt(fan_in))";

  LayerNorm ln({.dim = 4});
  EXPECT_EQ(ln.weight.to_vector<float>(), (std::vector<float>{1, 1, 1, 1}));
  Tensor z = ln.forward(Tensor::from_vector<float>({1, 2, 3, 4}, {1, 4}));
  auto zv = z.to_vector<float>();
  EXPECT_NEAR(zv[0], -1.3416355f, 1e-5);  // (1 - 2.5) / sqrt(1.25 + 1e-5)
  EXPECT_NEAR(zv[3], 1.3416355f, 1e-5);
}

TEST(NnLayers, MlpSequentialDropPath) {
  Generator g(2);
  Mlp mlp({.in_features = 4, .hidden_features = 12}, g);
  EXPECT_EQ(names(mlp.named_parameters()),
            (std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}));
  Tensor x = randn({2, 3, 4}, DType::f32, Device::cpu(), &g);
  // fc1 and GELU are fused; the composed form must agree.
  Tensor ref = mlp.fc2->forward(ops::gelu(mlp.fc1->forward(x)));
  EXPECT_LT(nat::testing::max_abs_diff(mlp.forward(x), ref), 1e-6);

  Sequential seq;
  seq.push_back(std::make_shared<Linear>(LinearOptions{.in_features = 4, .out_features = 5}, g));
  seq.push_back(std::make_shared<GELU>());
  seq.push_back(std::make_shared<Linear>(LinearOptions{.in_features = 5, .out_features = 1}, g));
  EXPECT_EQ(names(seq.named_parameters()), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  EXPECT_EQ(seq.forward(x).shape(), (Shape{2, 3, 1}));

  Generator dg(9);
  DropPath dp(0.5, &dg);
  Tensor ones = Tensor::ones({64, 2, 2});
  auto v = dp.forward(ones).to_double_vector();
  int kept = 0;
  for (size_t s = 0; s < 64; ++s) {
    double first = v[s * 4];
    EXPECT_TRUE(first == 0.0 || first == 2.0) << "kept samples are scaled by 1 / (1 - p)";
    for (size_t e = 1; e < 4; ++e) EXPECT_EQ(v[s * 4 + e], first) << "one draw per sample";
    kept += first != 0.0;
  }
  EXPECT_GT(kept, 16);
  EXPECT_LT(kept, 48);
  dp.eval();
  EXPECT_EQ(dp.forward(ones).impl_ptr(), ones.impl_ptr());
  NAT_EXPECT_ERROR(DropPath(1.0), "[DropPath]", "[0, 1)");
}
