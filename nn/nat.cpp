// NeighborhoodAttention2D, NATLayer, ConvTokenizer, ConvDownsampler, NATBlock and NAT.
#include "nn/nat.h"

#include <cmath>

#include "autograd/autograd.h"
#include "nn/init.h"
#include "ops/elementwise.h"
#include "ops/na.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "ops/softmax.h"

namespace nat::nn {

// ~~~~~~ NeighborhoodAttention2D ~~~~~~

NeighborhoodAttention2D::NeighborhoodAttention2D(const NeighborhoodAttentionOptions& o, Generator& gen)
    : UnaryModule("NeighborhoodAttention2D"), options(o) {
  NAT_CHECK(o.dim > 0 && o.num_heads > 0 && o.dim % o.num_heads == 0, "[NeighborhoodAttention2D] dim ", o.dim,
            " must be a positive multiple of num_heads ", o.num_heads);
  NAT_CHECK(o.kernel_size >= 1 && o.kernel_size % 2 == 1, "[NeighborhoodAttention2D] kernel_size must be odd, got ",
            o.kernel_size);
  NAT_CHECK(o.dilation >= 1, "[NeighborhoodAttention2D] dilation must be >= 1, got ", o.dilation);
  head_dim = o.dim / o.num_heads;
  qkv = register_module("qkv",
                        std::make_shared<Linear>(
                            LinearOptions{.in_features = o.dim, .out_features = 3 * o.dim, .bias = o.qkv_bias}, gen));
  int64_t r = 2 * o.kernel_size - 1;
  rpb = register_parameter("rpb", Tensor::empty({o.num_heads, r, r}));
  init::trunc_normal(rpb, gen, 0.02);
  attn_drop = register_module("attn_drop", std::make_shared<Dropout>(o.attn_drop));
  proj = register_module("proj",
                         std::make_shared<Linear>(LinearOptions{.in_features = o.dim, .out_features = o.dim}, gen));
  proj_drop = register_module("proj_drop", std::make_shared<Dropout>(o.proj_drop));
}

Tensor NeighborhoodAttention2D::forward(const Tensor& x) {
  NAT_CHECK(x.dim() == 4 && x.size(3) == options.dim, "[NeighborhoodAttention2D] expected x [B, H, W, ", options.dim,
            "], got ", shape_str(x.shape()));
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = options.dim;
  const int64_t k = options.kernel_size, d = options.dilation, heads = options.num_heads;
  const int64_t Hp = padded(H), Wp = padded(W);
  const bool pad = Hp != H || Wp != W;
  // Zero-pad bottom/right before qkv (F.pad order: C, then W, then H).
  Tensor xp = pad ? ops::pad(x, {0, 0, 0, Wp - W, 0, Hp - H}) : x;
  // qkv channel c3 = s*C + h*hd + e (s = 0, 1, 2 for q, k, v). Each of q, k, v is its own GEMM on a row
  // block of qkv.weight: the same arithmetic as one [3C, C] GEMM, but backward then scatters into the small
  // weight instead of splitting a [3, B, heads, H, W, hd] activation gradient. -> [B, heads, Hp, Wp, hd].
  auto project = [&](int64_t s) {
    Tensor w = ops::slice(qkv->weight, 0, s * C, (s + 1) * C);
    Tensor b = qkv->bias.defined() ? ops::slice(qkv->bias, 0, s * C, (s + 1) * C) : Tensor();
    return ops::permute(ops::reshape(ops::linear(xp, w, b), {B, Hp, Wp, heads, head_dim}), {0, 3, 1, 2, 4});
  };
  Tensor q = project(0), kk = project(1), v = project(2);
  if (keep_attention) {
    NoGradGuard no_grad;
    attention = ops::softmax(ops::na2d_qk(ops::mul(q, 1.0 / std::sqrt(static_cast<double>(head_dim))), kk, rpb, k, d));
  }
  Tensor o;
  if (attn_drop->p > 0 && is_training()) {
    Tensor logits = ops::na2d_qk(ops::mul(q, 1.0 / std::sqrt(static_cast<double>(head_dim))), kk, rpb, k, d);
    o = ops::na2d_av(attn_drop->forward(ops::softmax(logits)), v, k, d);
  } else {
    o = ops::na2d(q, kk, v, rpb, k, d);  // [B, heads, Hp, Wp, hd]
  }
  o = ops::reshape(ops::permute(o, {0, 2, 3, 1, 4}), {B, Hp, Wp, C});
  if (pad) o = ops::slice(ops::slice(o, 1, 0, H), 2, 0, W);
  return proj_drop->forward(proj->forward(o));
}

// ~~~~~~ NATLayer ~~~~~~

NATLayer::NATLayer(const NATLayerOptions& o, Generator& gen) : UnaryModule("NATLayer"), options(o) {
  NAT_CHECK(o.mlp_ratio > 0, "[NATLayer] mlp_ratio must be > 0, got ", o.mlp_ratio);
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(LayerNormOptions{.dim = o.dim}));
  attn = register_module(
      "attn", std::make_shared<NeighborhoodAttention2D>(NeighborhoodAttentionOptions{.dim = o.dim,
                                                                                     .num_heads = o.num_heads,
                                                                                     .kernel_size = o.kernel_size,
                                                                                     .dilation = o.dilation,
                                                                                     .qkv_bias = o.qkv_bias,
                                                                                     .attn_drop = o.attn_drop,
                                                                                     .proj_drop = o.drop},
                                                        gen));
  drop_path = register_module("drop_path", std::make_shared<DropPath>(o.drop_path));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(LayerNormOptions{.dim = o.dim}));
  // int(dim * mlp_ratio), as Python truncates.
  auto hidden = static_cast<int64_t>(static_cast<double>(o.dim) * o.mlp_ratio);
  mlp = register_module(
      "mlp", std::make_shared<Mlp>(MlpOptions{.in_features = o.dim, .hidden_features = hidden, .drop = o.drop}, gen));
  if (o.layer_scale) {
    gamma1 = register_parameter("gamma1", Tensor::full({o.dim}, *o.layer_scale));
    gamma2 = register_parameter("gamma2", Tensor::full({o.dim}, *o.layer_scale));
  }
}

Tensor NATLayer::forward(const Tensor& x) {
  Tensor a = attn->forward(norm1->forward(x));
  if (gamma1.defined()) a = ops::mul(a, gamma1);
  Tensor h = ops::add(x, drop_path->forward(a));
  Tensor m = mlp->forward(norm2->forward(h));
  if (gamma2.defined()) m = ops::mul(m, gamma2);
  return ops::add(h, drop_path->forward(m));
}

// ~~~~~~ ConvTokenizer / ConvDownsampler ~~~~~~

ConvTokenizer::ConvTokenizer(int64_t in_chans, int64_t embed_dim, Generator& gen) : UnaryModule("ConvTokenizer") {
  proj = register_module("proj", std::make_shared<Sequential>());
  proj->push_back(std::make_shared<Conv2d>(
      Conv2dOptions{
          .in_channels = in_chans, .out_channels = embed_dim / 2, .kernel_size = 3, .stride = 2, .padding = 1},
      gen));
  proj->push_back(std::make_shared<Conv2d>(
      Conv2dOptions{
          .in_channels = embed_dim / 2, .out_channels = embed_dim, .kernel_size = 3, .stride = 2, .padding = 1},
      gen));
  norm = register_module("norm", std::make_shared<LayerNorm>(LayerNormOptions{.dim = embed_dim}));
}

Tensor ConvTokenizer::forward(const Tensor& x) { return norm->forward(ops::permute(proj->forward(x), {0, 2, 3, 1})); }

ConvDownsampler::ConvDownsampler(int64_t dim, Generator& gen) : UnaryModule("ConvDownsampler") {
  reduction = register_module(
      "reduction",
      std::make_shared<Conv2d>(
          Conv2dOptions{
              .in_channels = dim, .out_channels = 2 * dim, .kernel_size = 3, .stride = 2, .padding = 1, .bias = false},
          gen));
  norm = register_module("norm", std::make_shared<LayerNorm>(LayerNormOptions{.dim = 2 * dim}));
}

Tensor ConvDownsampler::forward(const Tensor& x) {
  Tensor y = reduction->forward(ops::permute(x, {0, 3, 1, 2}));
  return norm->forward(ops::permute(y, {0, 2, 3, 1}));
}

// ~~~~~~ NATBlock ~~~~~~

NATBlock::NATBlock(const std::vector<NATLayerOptions>& layers, bool with_downsample, Generator& gen)
    : UnaryModule("NATBlock") {
  NAT_CHECK(!layers.empty(), "[NATBlock] needs at least one layer");
  blocks = register_module("blocks", std::make_shared<ModuleList>());
  for (const auto& o : layers) blocks->push_back(std::make_shared<NATLayer>(o, gen));
  if (with_downsample)
    downsample = register_module("downsample", std::make_shared<ConvDownsampler>(layers[0].dim, gen));
}

Tensor NATBlock::forward(const Tensor& x) {
  Tensor y = x;
  for (size_t i = 0; i < blocks->size(); ++i) y = layer(i)->forward(y);
  return downsample ? downsample->forward(y) : y;
}

// ~~~~~~ NAT ~~~~~~

std::vector<double> NatConfig::drop_path_schedule() const {
  int64_t n = 0;
  for (int64_t d : depths) n += d;
  std::vector<double> out(static_cast<size_t>(n), 0.0);
  for (int64_t i = 1; i < n; ++i) out[i] = drop_path_rate * static_cast<double>(i) / static_cast<double>(n - 1);
  return out;
}

void NatConfig::validate() const {
  // Upper bounds keep every derived size (channels, hidden sizes, layer counts) far from overflow and
  // turn an absurd spec into an error naming the field, not a multi-GB allocation.
  auto fail = [&](auto... parts) { NAT_THROW("[NAT config '", name, "'] ", parts...); };
  if (depths.empty()) fail("depths must not be empty");
  if (num_heads.size() != depths.size())
    fail("num_heads has ", num_heads.size(), " entries but depths has ", depths.size());
  if (embed_dim < 2 || embed_dim > 65536) fail("embed_dim must be in [2, 65536], got ", embed_dim);
  if (depths.size() > 16) fail("at most 16 levels, got ", depths.size());
  if ((embed_dim << (depths.size() - 1)) > (int64_t{1} << 20))
    fail("embed_dim ", embed_dim, " doubled over ", depths.size(), " levels exceeds 2^20 channels");
  int64_t layers = 0;
  for (size_t i = 0; i < depths.size(); ++i) {
    if (depths[i] < 1 || depths[i] > 1024) fail("depths[", i, "] must be in [1, 1024], got ", depths[i]);
    layers += depths[i];
    int64_t dim = embed_dim << i;
    if (num_heads[i] < 1 || num_heads[i] > dim || dim % num_heads[i] != 0)
      fail("level ", i, " has dim ", dim, ", not divisible by num_heads[", i, "] = ", num_heads[i]);
  }
  if (layers > 4096) fail("at most 4096 layers in all, got ", layers);
  if (kernel_size < 1 || kernel_size > 255 || kernel_size % 2 == 0)
    fail("kernel_size must be odd and in [1, 255], got ", kernel_size);
  if (!dilations.empty()) {
    if (dilations.size() != depths.size())
      fail("dilations has ", dilations.size(), " levels but depths has ", depths.size());
    for (size_t i = 0; i < depths.size(); ++i) {
      if (static_cast<int64_t>(dilations[i].size()) != depths[i])
        fail("dilations[", i, "] has ", dilations[i].size(), " entries but depths[", i, "] = ", depths[i]);
      for (int64_t d : dilations[i])
        if (d < 1 || d > 1024) fail("dilations[", i, "] has a value outside [1, 1024]: ", d);
    }
  }
  if (!(mlp_ratio > 0 && mlp_ratio <= 64)) fail("mlp_ratio must be in (0, 64], got ", mlp_ratio);
  if (static_cast<int64_t>(static_cast<double>(embed_dim) * mlp_ratio) < 1)
    fail("mlp_ratio ", mlp_ratio, " leaves the MLP of embed_dim ", embed_dim, " with no hidden unit");
  if (layer_scale && !(std::isfinite(*layer_scale) && std::fabs(*layer_scale) <= 1e6))
    fail("layer_scale must be finite and at most 1e6 in magnitude, got ", *layer_scale);
  if (!(drop_path_rate >= 0 && drop_path_rate < 1)) fail("drop_path_rate must be in [0, 1), got ", drop_path_rate);
  if (!(drop_rate >= 0 && drop_rate < 1)) fail("drop_rate must be in [0, 1), got ", drop_rate);
  if (!(attn_drop_rate >= 0 && attn_drop_rate < 1)) fail("attn_drop_rate must be in [0, 1), got ", attn_drop_rate);
  if (in_chans < 1 || in_chans > 1024) fail("in_chans must be in [1, 1024], got ", in_chans);
  if (num_classes < 0 || num_classes > 10000000) fail("num_classes must be in [0, 10^7], got ", num_classes);
}

NAT::NAT(const NatConfig& c, Generator& gen) : UnaryModule("NAT"), config(c) {
  config.validate();
  patch_embed = register_module("patch_embed", std::make_shared<ConvTokenizer>(c.in_chans, c.embed_dim, gen));
  pos_drop = register_module("pos_drop", std::make_shared<Dropout>(c.drop_rate));
  levels = register_module("levels", std::make_shared<ModuleList>());
  std::vector<double> dpr = c.drop_path_schedule();
  size_t n = 0;
  for (size_t i = 0; i < c.depths.size(); ++i) {
    std::vector<NATLayerOptions> layers;
    for (int64_t j = 0; j < c.depths[i]; ++j, ++n)
      layers.push_back({.dim = c.embed_dim << i,
                        .num_heads = c.num_heads[i],
                        .kernel_size = c.kernel_size,
                        .dilation = c.dilation(i, static_cast<size_t>(j)),
                        .mlp_ratio = c.mlp_ratio,
                        .qkv_bias = c.qkv_bias,
                        .drop = c.drop_rate,
                        .attn_drop = c.attn_drop_rate,
                        .drop_path = dpr[n],
                        .layer_scale = c.layer_scale});
    levels->push_back(std::make_shared<NATBlock>(layers, i + 1 < c.depths.size(), gen));
  }
  norm = register_module("norm", std::make_shared<LayerNorm>(LayerNormOptions{.dim = c.num_features()}));
  if (c.num_classes > 0)
    head = register_module(
        "head",
        std::make_shared<Linear>(LinearOptions{.in_features = c.num_features(), .out_features = c.num_classes}, gen));
  // NAT._init_weights: every Linear gets trunc_normal(0.02) weights and zero biases; LayerNorms are
  // already 1/0; convs, rpb and gamma keep their constructor initialisation.
  for (const auto& [name, m] : named_modules())
    if (const auto* lin = dynamic_cast<const Linear*>(m)) {
      init::trunc_normal(lin->weight, gen, 0.02);
      if (lin->bias.defined()) init::zeros(lin->bias);
    }
}

Tensor NAT::forward_features(const Tensor& x) {
  NAT_CHECK(x.dim() == 4 && x.size(1) == config.in_chans, "[NAT] expected images [B, ", config.in_chans,
            ", H, W], got ", shape_str(x.shape()));
  Tensor y = pos_drop->forward(patch_embed->forward(x));
  for (size_t i = 0; i < levels->size(); ++i) y = level(i)->forward(y);
  return ops::mean(norm->forward(y), {1, 2});  // LayerNorm, then the mean over all tokens
}

Tensor NAT::forward(const Tensor& x) {
  Tensor f = forward_features(x);
  return head ? head->forward(f) : f;
}

}  // namespace nat::nn
