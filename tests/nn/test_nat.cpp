// The NAT family against the official model code (docs/model.md): exact parameter and tensor counts and the official state-dict
// keys for every variant, the drop-path schedule and initialisation, output and stage shapes at 224 and at a
// resolution whose last stage is smaller than the kernel (padding policy, checked against dense attention),
// and an end-to-end float64 gradcheck of a small NAT.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "autograd/gradcheck.h"
#include "nn/init.h"
#include "nn/nat.h"
#include "nn/summary.h"
#include "ops/ops.h"
#include "support/expect_error.h"
#include "support/test_util.h"

using namespace nat;
using namespace nat::nn;

namespace {

// The official state-dict keys (docs/model.md §5), in PyTorch's order: a module's own parameters (gamma1/2, rpb)
// before its children's.
std::vector<std::pair<std::string, Shape>> official_keys(const NatConfig& c) {
  std::vector<std::pair<std::string, Shape>> k;
  int64_t C = c.embed_dim;
  k.push_back({"patch_embed.proj.0.weight", {C / 2, 3, 3, 3}});
  k.push_back({"patch_embed.proj.0.bias", {C / 2}});
  k.push_back({"patch_embed.proj.1.weight", {C, C / 2, 3, 3}});
  k.push_back({"patch_embed.proj.1.bias", {C}});
  k.push_back({"patch_embed.norm.weight", {C}});
  k.push_back({"patch_embed.norm.bias", {C}});
  for (size_t i = 0; i < c.depths.size(); ++i) {
    int64_t D = C << i, h = c.num_heads[i], hid = static_cast<int64_t>(static_cast<double>(D) * c.mlp_ratio);
    for (int64_t j = 0; j < c.depths[i]; ++j) {
      std::string p = "levels." + std::to_string(i) + ".blocks." + std::to_string(j) + ".";
      if (c.layer_scale) {
        k.push_back({p + "gamma1", {D}});
        k.push_back({p + "gamma2", {D}});
      }
      k.push_back({p + "norm1.weight", {D}});
      k.push_back({p + "norm1.bias", {D}});
      k.push_back({p + "attn.rpb", {h, 13, 13}});
      k.push_back({p + "attn.qkv.weight", {3 * D, D}});
      k.push_back({p + "attn.qkv.bias", {3 * D}});
      k.push_back({p + "attn.proj.weight", {D, D}});
      k.push_back({p + "attn.proj.bias", {D}});
      k.push_back({p + "norm2.weight", {D}});
      k.push_back({p + "norm2.bias", {D}});
      k.push_back({p + "mlp.fc1.weight", {hid, D}});
      k.push_back({p + "mlp.fc1.bias", {hid}});
      k.push_back({p + "mlp.fc2.weight", {D, hid}});
      k.push_back({p + "mlp.fc2.bias", {D}});
    }
    if (i + 1 < c.depths.size()) {
      std::string p = "levels." + std::to_string(i) + ".downsample.";
      k.push_back({p + "reduction.weight", {2 * D, D, 3, 3}});
      k.push_back({p + "norm.weight", {2 * D}});
      k.push_back({p + "norm.bias", {2 * D}});
    }
  }
  int64_t F = c.num_features();
  k.push_back({"norm.weight", {F}});
  k.push_back({"norm.bias", {F}});
  k.push_back({"head.weight", {c.num_classes, F}});
  k.push_back({"head.bias", {c.num_classes}});
  return k;
}

// A small NAT for the fast tests: level 0 is 4x4 at 16 px; level 1 (2x2) is smaller than k = 3 and pads.
NatConfig small_config() {
  NatConfig c;
  c.name = "test_small";
  c.embed_dim = 8;
  c.depths = {2, 1};
  c.num_heads = {1, 2};
  c.kernel_size = 3;
  c.dilations = {{1, 2}, {1}};  // layer 0.1: 4x4 with k*d = 6, so it pads too
  c.mlp_ratio = 2;
  c.drop_path_rate = 0.1;
  c.layer_scale = 0.5;
  c.num_classes = 3;
  return c;
}

}  // namespace

TEST(NnNat, ExactParameterAndTensorCountsForEveryVariant) {
  struct Expect {
    const char* name;
    int64_t params, tensors;
  };
  // NAT: docs/model.md §5. DiNAT: the same modules without gamma1/gamma2 in Small/Base (no layer scale).
  const Expect expect[] = {
      {"nat_mini", 19'984'174, 253},    {"nat_tiny", 27'901'582, 409},   {"nat_small", 50'743'297, 469},
      {"nat_base", 89'769'652, 469},    {"dinat_mini", 19'984'174, 253}, {"dinat_tiny", 27'901'582, 409},
      {"dinat_small", 50'719'681, 409}, {"dinat_base", 89'738'164, 409},
  };
  ASSERT_EQ(nat_model_names().size(), std::size(expect));
  init::NoInitGuard structure_only;  // counting and naming need no weights (init of NAT-Base takes seconds)
  for (const auto& e : expect) {
    NatConfig c = nat_config(e.name);
    Generator g(0);
    NAT model(c, g);
    EXPECT_EQ(model.num_parameters(), e.params) << e.name;
    NamedTensors sd = model.state_dict();
    EXPECT_EQ(static_cast<int64_t>(sd.size()), e.tensors) << e.name;
    auto want = official_keys(c);
    ASSERT_EQ(sd.size(), want.size()) << e.name;
    for (size_t i = 0; i < sd.size(); ++i) {
      EXPECT_EQ(sd[i].first, want[i].first) << e.name << " key " << i;
      EXPECT_EQ(sd[i].second.shape(), want[i].second) << e.name << " " << want[i].first;
    }
  }
}

TEST(NnNat, RegistryDilationsDropPathAndInit) {
  NatConfig d = nat_config("dinat_tiny");
  ASSERT_EQ(d.dilations.size(), 4u);
  EXPECT_EQ(d.dilations[0], (std::vector<int64_t>{1, 8, 1}));
  EXPECT_EQ(d.dilations[1], (std::vector<int64_t>{1, 4, 1, 4}));
  ASSERT_EQ(d.dilations[2].size(), 18u);
  for (size_t j = 0; j < 18; ++j) EXPECT_EQ(d.dilations[2][j], j % 2 ? 2 : 1);
  EXPECT_EQ(d.dilations[3], (std::vector<int64_t>(5, 1)));
  EXPECT_FALSE(d.layer_scale);
  EXPECT_EQ(*nat_config("nat_base").layer_scale, 1e-5);
  NAT_EXPECT_ERROR(nat_config("nat_huge"), "unknown model 'nat_huge'", "nat_mini", "dinat_base");

  // Drop path: linspace(0, 0.2, 30) across NAT-Tiny's layers, in order.
  auto dpr = nat_config("nat_tiny").drop_path_schedule();
  ASSERT_EQ(dpr.size(), 30u);
  EXPECT_EQ(dpr[0], 0.0);
  EXPECT_NEAR(dpr[29], 0.2, 1e-15);
  EXPECT_NEAR(dpr[10], 0.2 * 10 / 29, 1e-15);

  Generator g(0);
  NAT tiny(small_config(), g);
  EXPECT_EQ(tiny.level(0)->layer(0)->drop_path->p, 0.0);
  EXPECT_NEAR(tiny.level(0)->layer(1)->drop_path->p, 0.05, 1e-15);
  EXPECT_NEAR(tiny.level(1)->layer(0)->drop_path->p, 0.1, 1e-15);
  EXPECT_EQ(tiny.level(0)->layer(1)->attn->options.dilation, 2);

  // Init (docs/model.md §4): Linear biases 0, LayerNorm 1/0, rpb and Linear weights ~N(0, 0.02^2), convs
  // U(+-1/sqrt(fan_in)). A narrow NAT-Mini (embed 32) keeps this fast with enough samples per tensor.
  const char* spec = R"({"base": "nat_mini", "embed_dim": 32, "depths": [1, 1, 4, 5], "num_heads": [1, 2, 4, 8]})";
  Generator g2(1);
  NAT mini(parse_nat_spec(spec), g2);
  auto stats = [](const Tensor& t) {
    auto v = t.to_double_vector();
    double s = 0, s2 = 0, mx = 0;
    for (double x : v) s += x, s2 += x * x, mx = std::max(mx, std::fabs(x));
    double m = s / v.size();
    return std::array<double, 3>{m, std::sqrt(s2 / v.size() - m * m), mx};
  };
  auto layer = mini.level(2)->layer(3);
  auto w = stats(layer->attn->qkv->weight);
  EXPECT_NEAR(w[1], 0.02, 0.0005);
  EXPECT_NEAR(stats(layer->mlp->fc2->weight)[1], 0.02, 0.0005);
  EXPECT_NEAR(stats(mini.head->weight)[1], 0.02, 0.0005);
  EXPECT_NEAR(stats(layer->attn->rpb)[1], 0.02, 0.002);
  EXPECT_EQ(stats(layer->attn->qkv->bias)[2], 0.0);
  EXPECT_EQ(stats(mini.head->bias)[2], 0.0);
  EXPECT_EQ(stats(layer->norm1->weight)[1], 0.0);
  EXPECT_EQ(stats(layer->norm1->weight)[0], 1.0);
  auto conv = stats(mini.level(1)->downsample->reduction->weight);
  double bound = 1.0 / std::sqrt(64.0 * 9);
  EXPECT_LE(conv[2], bound);
  EXPECT_NEAR(conv[1], bound / std::sqrt(3.0), 0.05 * bound);
  // Seeded: the same seed gives the same weights.
  Generator g3(1);
  NAT again(parse_nat_spec(spec), g3);
  EXPECT_EQ(
      nat::testing::max_abs_diff(again.level(3)->layer(4)->mlp->fc1->weight, mini.level(3)->layer(4)->mlp->fc1->weight),
      0.0);
}

TEST(NnNat, JsonSpecs) {
  NatConfig c = parse_nat_spec(R"({"base": "nat_mini", "num_classes": 10, "layer_scale": 0.1})");
  EXPECT_EQ(c.embed_dim, 64);
  EXPECT_EQ(c.num_classes, 10);
  EXPECT_EQ(*c.layer_scale, 0.1);
  c = parse_nat_spec(R"({"embed_dim": 8, "depths": [1, 1], "num_heads": [1, 2], "kernel_size": 3, "mlp_ratio": 2,
                         "dilations": [[2], [1]], "layer_scale": null})");
  EXPECT_EQ(c.depths, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(c.dilations[0][0], 2);
  EXPECT_EQ(parse_nat_spec("dinat_small").name, "dinat_small");
  NAT_EXPECT_ERROR(parse_nat_spec(R"({"embed_dims": 8})"), "unknown field 'embed_dims'");
  NAT_EXPECT_ERROR(parse_nat_spec(R"({"depths": "3"})"), "wrong type");
  NAT_EXPECT_ERROR(parse_nat_spec(R"({"depths": [1, 1], "num_heads": [3, 3], "embed_dim": 8})"), "not divisible");
  NAT_EXPECT_ERROR(parse_nat_spec(R"({"depths": [2], "num_heads": [1], "dilations": [[1]]})"), "dilations[0] has 1");
  NAT_EXPECT_ERROR(parse_nat_spec("{"), "not valid JSON");
}

// Issue 17: a model spec's sizes are bounded before anything is allocated (10^8 layers ended in std::bad_alloc,
// mlp_ratio 1e30 in a negative layer width).
TEST(NnNat, AbsurdSpecsAreRefusedNamingTheField) {
  NAT_EXPECT_ERROR(parse_nat_spec(R"({"embed_dim": 16, "depths": [100000000], "num_heads": [1], "kernel_size": 3})"),
                   "depths[0] must be in [1, 1024]");
  NAT_EXPECT_ERROR(parse_nat_spec(R"({"base": "nat_mini", "mlp_ratio": 1e30})"), "mlp_ratio must be in (0, 64]");
  NAT_EXPECT_ERROR(parse_nat_spec(R"({"base": "nat_mini", "mlp_ratio": 0.001})"), "no hidden unit");
  NAT_EXPECT_ERROR(parse_nat_spec(R"({"base": "nat_mini", "embed_dim": 1048576})"), "embed_dim must be in [2, 65536]");
  NAT_EXPECT_ERROR(
      parse_nat_spec(R"({"embed_dim": 65536, "depths": [1, 1, 1, 1, 1, 1], "num_heads": [1, 1, 1, 1, 1, 1]})"),
      "exceeds 2^20 channels");
  NAT_EXPECT_ERROR(parse_nat_spec(R"({"base": "nat_mini", "kernel_size": 257})"),
                   "kernel_size must be odd and in [1, 255]");
  NAT_EXPECT_ERROR(parse_nat_spec(R"({"base": "nat_mini", "num_classes": 100000000})"), "num_classes");
  NAT_EXPECT_ERROR(parse_nat_spec(R"({"depths": [1024, 1024, 1024, 1024, 1024], "num_heads": [1, 1, 1, 1, 1]})"),
                   "at most 4096 layers");
  EXPECT_NO_THROW(parse_nat_spec("nat_base"));
  EXPECT_NO_THROW(parse_nat_spec("dinat_base"));
}

TEST(NnNat, OutputAndStageShapesAt224And192) {
  // NAT-Mini with cheap random weights: the seeded trunc_normal init of 20M weights takes seconds, and
  // shapes and finiteness do not depend on the distribution (LayerNorms and gammas keep their 1/0 init).
  Generator g(0);
  std::shared_ptr<NAT> built;
  {
    init::NoInitGuard skip;
    built = create_nat(nat_config("nat_mini"), g);
  }
  NAT& model = *built;
  for (const auto& [name, p] : model.named_parameters())
    if (name.find("norm") == std::string::npos) init::uniform(p, g, -0.05, 0.05);
  model.eval();
  NoGradGuard ng;
  for (int64_t img : {224, 192}) {
    Tensor x = randn({1, 3, img, img}, DType::f32, Device::cpu(), &g);
    Tensor y = model.patch_embed->forward(x);
    int64_t s = img / 4;
    EXPECT_EQ(y.shape(), (Shape{1, s, s, 64}));
    for (size_t i = 0; i < 4; ++i) {
      // Every level keeps [B, s, s, D] through its layers; the downsampler halves s (rounding up) and doubles D.
      for (size_t j = 0; j < model.level(i)->blocks->size(); ++j) y = model.level(i)->layer(j)->forward(y);
      EXPECT_EQ(y.shape(), (Shape{1, s, s, int64_t{64} << i})) << img << " level " << i;
      if (model.level(i)->downsample) y = model.level(i)->downsample->forward(y), s = (s + 1) / 2;
    }
    EXPECT_EQ(s, img == 224 ? 7 : 6) << "192 px leaves a 6x6 last stage, smaller than k = 7";
    Tensor logits = model.forward(x);
    EXPECT_EQ(logits.shape(), (Shape{1, 1000}));
    for (double v : logits.to_double_vector()) ASSERT_TRUE(std::isfinite(v));
  }
}

// The padding policy against an independent dense formulation: a 3x4 map with k = 5 pads to 5x5 (zeros at
// the bottom/right, before qkv), where NA is full attention with bias rpb[h, k-1 + (key - query)] per axis.
TEST(NnNat, SmallFeatureMapsPadBottomRightBeforeQkv) {
  const int64_t B = 2, H = 3, W = 4, C = 4, heads = 2, hd = 2, K = 5;
  Generator g(4);
  NeighborhoodAttention2D na({.dim = C, .num_heads = heads, .kernel_size = K}, g);
  na.to(DType::f64);
  for (const Tensor& p : na.parameters()) init::normal(p, g, 0.0, 0.4);
  Tensor x = randn({B, H, W, C}, DType::f64, Device::cpu(), &g);
  Tensor y = na.forward(x);
  ASSERT_EQ(y.shape(), (Shape{B, H, W, C}));

  auto xv = x.to_double_vector(), wq = na.qkv->weight.to_double_vector(), bq = na.qkv->bias.to_double_vector();
  auto wp = na.proj->weight.to_double_vector(), bp = na.proj->bias.to_double_vector(), rpb = na.rpb.to_double_vector();
  auto yv = y.to_double_vector();
  const int64_t P = K, R = 2 * K - 1;  // padded size, rpb side
  double scale = 1.0 / std::sqrt(static_cast<double>(hd)), max_err = 0;
  for (int64_t b = 0; b < B; ++b) {
    // qkv of the padded map: a padded token (i >= H or j >= W) is x = 0, so its qkv is the bias.
    std::vector<double> qkv(P * P * 3 * C);
    for (int64_t i = 0; i < P; ++i)
      for (int64_t j = 0; j < P; ++j)
        for (int64_t o = 0; o < 3 * C; ++o) {
          double s = bq[o];
          if (i < H && j < W)
            for (int64_t c = 0; c < C; ++c) s += wq[o * C + c] * xv[((b * H + i) * W + j) * C + c];
          qkv[(i * P + j) * 3 * C + o] = s;
        }
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) {
        std::vector<double> attn_out(C, 0.0);
        for (int64_t h = 0; h < heads; ++h) {
          std::vector<double> logit(P * P);
          double mx = -INFINITY;
          for (int64_t a = 0; a < P; ++a)
            for (int64_t c2 = 0; c2 < P; ++c2) {
              double s = 0;
              for (int64_t e = 0; e < hd; ++e)
                s += scale * qkv[(i * P + j) * 3 * C + h * hd + e] * qkv[(a * P + c2) * 3 * C + C + h * hd + e];
              s += rpb[(h * R + (K - 1 + a - i)) * R + (K - 1 + c2 - j)];
              logit[a * P + c2] = s;
              mx = std::max(mx, s);
            }
          double z = 0;
          for (double& l : logit) z += (l = std::exp(l - mx));
          for (int64_t t = 0; t < P * P; ++t)
            for (int64_t e = 0; e < hd; ++e) attn_out[h * hd + e] += logit[t] / z * qkv[t * 3 * C + 2 * C + h * hd + e];
        }
        for (int64_t o = 0; o < C; ++o) {
          double s = bp[o];
          for (int64_t c = 0; c < C; ++c) s += wp[o * C + c] * attn_out[c];
          max_err = std::max(max_err, std::fabs(s - yv[((b * H + i) * W + j) * C + o]));
        }
      }
  }
  EXPECT_LT(max_err, 1e-12);
}

TEST(NnNat, SmallNatGradcheckFloat64EndToEnd) {
  // ~10k forward passes of tiny tensors: one thread avoids OpenMP hand-offs that dominate on a busy machine.
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  Generator g(5);
  NAT model(small_config(), g);
  model.to(DType::f64);
  model.eval();  // drop path off: the function must be deterministic
  // Non-trivial values for everything (zero biases and unit LayerNorms hide gradient errors).
  for (const Tensor& p : model.parameters()) init::normal(p, g, 0.0, 0.4);
  Tensor x = randn({1, 3, 16, 16}, DType::f64, Device::cpu(), &g);
  set_requires_grad(x);
  std::vector<Tensor> inputs = {x};
  for (const Tensor& p : model.parameters()) inputs.push_back(p);
  GradcheckResult r = gradcheck([&](const std::vector<Tensor>& in) { return model.forward(in[0]); }, inputs);
  omp_set_num_threads(threads);
  EXPECT_TRUE(r.ok) << r.report;
  EXPECT_LT(r.max_abs_error, 1e-6);
}

// FLOPs in fvcore's multiply-add convention reproduce the reported 2.7/4.3/7.8/13.7 G (docs/model.md §5) to the
// printed precision, with NAT-Tiny's per-kind breakdown; at 192 px the last stage's NA counts the padded map.
TEST(NnNat, SummaryFlopsAndParametersMatchTheSpec) {
  init::NoInitGuard structure_only;
  struct Expect {
    const char* name;
    const char* gmacs;
  };
  for (const Expect& e : {Expect{"nat_mini", "2.713"}, Expect{"nat_tiny", "4.321"}, Expect{"nat_small", "7.810"},
                          Expect{"nat_base", "13.728"}, Expect{"dinat_tiny", "4.321"}}) {
    Generator g(0);
    NAT model(nat_config(e.name), g);
    ModelSummary s = summarize(model, 1, 224, 224);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(s.macs.total()) / 1e9);
    EXPECT_STREQ(buf, e.gmacs) << e.name;
    EXPECT_EQ(s.params, model.num_parameters());
    ASSERT_FALSE(s.rows.empty());
    EXPECT_EQ(s.rows[0].name, "");
    EXPECT_EQ(s.rows[0].macs, s.macs.total()) << "the root row carries every MAC";
    EXPECT_EQ(s.rows[0].params, s.params);
    EXPECT_EQ(s.rows[0].output, (Shape{1, 1000}));
    std::string table = format_summary(s);
    EXPECT_NE(table.find(std::string(e.gmacs) + " G (fvcore"), std::string::npos) << table;
  }
  Generator g(0);
  NAT tiny(nat_config("nat_tiny"), g);
  ModelSummary s = summarize(tiny, 1, 224, 224);
  auto g4 = [](int64_t v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.4f", static_cast<double>(v) / 1e9);
    return std::string(b);
  };
  EXPECT_EQ(g4(s.macs.conv), "0.2420");
  EXPECT_EQ(g4(s.macs.linear), "3.8540");
  EXPECT_EQ(g4(s.macs.norm), "0.0223");
  EXPECT_EQ(g4(s.macs.na_qk), "0.1027");
  EXPECT_EQ(g4(s.macs.na_av), "0.0996");
  EXPECT_NE(format_summary(s).find("8.641 G (2 x multiply-adds)"), std::string::npos);
  auto row = [&](const ModelSummary& sum, const std::string& name) {
    for (const auto& r : sum.rows)
      if (r.name == name) return r;
    ADD_FAILURE() << "no row " << name;
    return SummaryRow{};
  };
  EXPECT_EQ(row(s, "levels.0").output, (Shape{1, 28, 28, 128}));
  EXPECT_EQ(row(s, "levels.3").output, (Shape{1, 7, 7, 512}));
  EXPECT_EQ(row(s, "levels.2.blocks.17").params, 659'784);  // docs/model.md §5 per-layer count
  EXPECT_EQ(row(s, "patch_embed.proj.0").macs, int64_t{3} * 32 * 9 * 112 * 112);

  // 192 px: level 3 is 6x6 < k = 7. qkv and NA run on the zero-padded 7x7 map, proj on the cropped 6x6 one.
  ModelSummary p = summarize(tiny, 2, 192, 192);
  SummaryRow attn = row(p, "levels.3.blocks.0.attn");
  EXPECT_EQ(attn.output, (Shape{2, 6, 6, 512}));
  int64_t qkv = int64_t{2} * 49 * 512 * 1536, proj = int64_t{2} * 36 * 512 * 512;
  int64_t qk = int64_t{2} * 16 * 49 * 32 * 49 + int64_t{2} * 16 * 49 * 49, av = int64_t{2} * 16 * 49 * 32 * 49;
  EXPECT_EQ(attn.macs, qkv + proj + qk + av);
  EXPECT_EQ(row(p, "levels.3.blocks.0.attn.qkv").output, (Shape{2, 7, 7, 1536}));
}
