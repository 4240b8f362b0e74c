// The Neighborhood Attention Transformer family (docs/model.md): NeighborhoodAttention2D, NATLayer, NATBlock (one
// level), ConvTokenizer, ConvDownsampler and NAT, with the official module names, so named_parameters()
// and state_dict() give exactly the keys of the released checkpoints ("levels.2.blocks.5.attn.rpb").
// Tokens are channels-last, [B, H, W, C], between blocks; the model takes NCHW images, [B, 3, H, W].
//
// Padding policy (docs/na.md §5, as NATTEN v0.14 and the released checkpoints): when a feature map is smaller
// than kernel_size * dilation on an axis, NeighborhoodAttention2D zero-pads x at the bottom/right before the
// qkv projection, runs NA on the padded map (the padded tokens carry qkv = bias and are attended to), and
// crops back before proj. At 224x224 this never triggers for NAT; it does at e.g. 192 (a 6x6 last stage).
#pragma once

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/layers.h"

namespace nat::nn {

// ~~~~~~ NeighborhoodAttention2D ~~~~~~
struct NeighborhoodAttentionOptions {
  int64_t dim = 0;
  int64_t num_heads = 1;
  int64_t kernel_size = 7;
  int64_t dilation = 1;
  bool qkv_bias = true;
  double attn_drop = 0.0;  // > 0 runs the unfused na2d_qk -> softmax -> dropout -> na2d_av path
  double proj_drop = 0.0;
};

// x [B, H, W, C] -> qkv Linear(C, 3C) -> q, k, v [B, heads, H, W, C/heads] -> na2d (q scaled by hd^-0.5, rpb
// [heads, 2k-1, 2k-1] added unscaled) -> [B, H, W, C] -> proj Linear(C, C). forward() runs qkv as three GEMMs
// on row blocks of qkv.weight (q, k, v), the same numbers as one, with a cheaper backward.
class NeighborhoodAttention2D : public UnaryModule {
 public:
  explicit NeighborhoodAttention2D(const NeighborhoodAttentionOptions& options, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  // Padded spatial size used for a map of `size` (the padding policy above).
  int64_t padded(int64_t size) const { return std::max(size, options.kernel_size * options.dilation); }
  NeighborhoodAttentionOptions options;
  int64_t head_dim;
  std::shared_ptr<Linear> qkv;
  Tensor rpb;
  std::shared_ptr<Dropout> attn_drop;
  std::shared_ptr<Linear> proj;
  std::shared_ptr<Dropout> proj_drop;
  // Set keep_attention to have forward() also store its softmax probabilities in `attention`, [B, heads, Hp,
  // Wp, k*k], recomputed without autograd by the unfused ops (the fused na2d keeps them internal). For
  // visualisation (`nat attn`); off by default, and the output is the same either way.
  bool keep_attention = false;
  Tensor attention;
};

// ~~~~~~ NATLayer ~~~~~~
struct NATLayerOptions {
  int64_t dim = 0;
  int64_t num_heads = 1;
  int64_t kernel_size = 7;
  int64_t dilation = 1;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  double drop = 0.0;
  double attn_drop = 0.0;
  double drop_path = 0.0;
  std::optional<double> layer_scale;  // set: gamma1, gamma2 parameters [dim] initialised to this value
};

// Pre-norm block: x += DropPath([gamma1 *] attn(norm1(x))); x += DropPath([gamma2 *] mlp(norm2(x))).
class NATLayer : public UnaryModule {
 public:
  explicit NATLayer(const NATLayerOptions& options, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  NATLayerOptions options;
  Tensor gamma1, gamma2;  // undefined without layer scale
  std::shared_ptr<LayerNorm> norm1;
  std::shared_ptr<NeighborhoodAttention2D> attn;
  std::shared_ptr<DropPath> drop_path;
  std::shared_ptr<LayerNorm> norm2;
  std::shared_ptr<Mlp> mlp;
};

// ~~~~~~ ConvTokenizer / ConvDownsampler ~~~~~~
// [B, in_chans, H, W] -> Conv 3x3/2 (in -> C/2) -> Conv 3x3/2 (C/2 -> C) -> NHWC -> LayerNorm: [B, H/4, W/4, C].
class ConvTokenizer : public UnaryModule {
 public:
  ConvTokenizer(int64_t in_chans, int64_t embed_dim, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Sequential> proj;  // "proj.0", "proj.1"
  std::shared_ptr<LayerNorm> norm;
};

// [B, H, W, D] -> NCHW -> Conv 3x3/2 (D -> 2D, no bias) -> NHWC -> LayerNorm(2D): [B, ceil(H/2), ceil(W/2), 2D].
class ConvDownsampler : public UnaryModule {
 public:
  explicit ConvDownsampler(int64_t dim, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> reduction;
  std::shared_ptr<LayerNorm> norm;
};

// ~~~~~~ NATBlock: one level ~~~~~~
class NATBlock : public UnaryModule {
 public:
  NATBlock(const std::vector<NATLayerOptions>& layers, bool downsample, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<ModuleList> blocks;           // NATLayer each
  std::shared_ptr<ConvDownsampler> downsample;  // null on the last level
  std::shared_ptr<NATLayer> layer(size_t i) const { return blocks->at<NATLayer>(i); }
};

// ~~~~~~ NAT ~~~~~~
struct NatConfig {
  std::string name = "custom";
  int64_t embed_dim = 64;
  std::vector<int64_t> depths = {3, 4, 6, 5};
  std::vector<int64_t> num_heads = {2, 4, 8, 16};
  int64_t kernel_size = 7;
  std::vector<std::vector<int64_t>> dilations;  // empty: 1 everywhere; else one list per level, one entry per layer
  double mlp_ratio = 3.0;
  double drop_path_rate = 0.2;
  std::optional<double> layer_scale;
  int64_t in_chans = 3;
  int64_t num_classes = 1000;  // 0: no head (forward returns the pooled features)
  double drop_rate = 0.0;
  double attn_drop_rate = 0.0;
  bool qkv_bias = true;

  int64_t num_levels() const { return static_cast<int64_t>(depths.size()); }
  int64_t num_features() const { return embed_dim << (num_levels() - 1); }
  int64_t dilation(size_t level, size_t layer) const { return dilations.empty() ? 1 : dilations[level][layer]; }
  // Stochastic depth of every layer in order: linspace(0, drop_path_rate, sum(depths)) (docs/model.md §3).
  std::vector<double> drop_path_schedule() const;
  void validate() const;  // throws naming the offending field
  // Every field as a JSON object that parse_nat_spec() reads back to the same config (checkpoint metadata,
  // the PyTorch cross-check script).
  std::string to_json() const;
};

class NAT : public UnaryModule {
 public:
  // Builds the model and applies NAT._init_weights (docs/model.md §4): Linear weights trunc_normal(0.02), biases 0;
  // LayerNorm 1/0; convs keep PyTorch's default; rpb trunc_normal(0.02); gamma = layer_scale.
  explicit NAT(const NatConfig& config, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;  // [B, in_chans, H, W] -> [B, num_classes]
  Tensor forward_features(const Tensor& x);  // -> pooled [B, num_features]
  NatConfig config;
  std::shared_ptr<ConvTokenizer> patch_embed;
  std::shared_ptr<Dropout> pos_drop;
  std::shared_ptr<ModuleList> levels;  // NATBlock each
  std::shared_ptr<LayerNorm> norm;
  std::shared_ptr<Linear> head;  // null when num_classes == 0
  std::shared_ptr<NATBlock> level(size_t i) const { return levels->at<NATBlock>(i); }
};

// ~~~~~~ registry ~~~~~~
// nat_{mini,tiny,small,base} and dinat_{mini,tiny,small,base} (docs/model.md §5; DiNAT adds per-layer dilations and
// has no layer scale).
std::vector<std::string> nat_model_names();
NatConfig nat_config(const std::string& name);  // throws listing the known names
// A model spec: a registry name, or a JSON object of NatConfig fields (unlisted fields keep NatConfig's
// defaults), optionally starting from a registry model: {"base": "nat_mini", "num_classes": 10}.
NatConfig parse_nat_spec(const std::string& spec);
std::shared_ptr<NAT> create_nat(const NatConfig& config, Generator& gen);
std::shared_ptr<NAT> create_nat(const std::string& spec, uint64_t seed = 0);

}  // namespace nat::nn
