// Analytic shape and MAC propagation through a NAT, one row per module.
#include "nn/summary.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <sstream>

namespace nat::nn {

namespace {

class Tracer {
 public:
  explicit Tracer(ModelSummary& s) : s_(s) {}

  // Adds a row for `m`, runs `body` (which traces the children and counts MACs), and fills the row's
  // output shape and the MACs counted meanwhile.
  Shape module(const std::string& name, const Module& m, const std::function<Shape()>& body) {
    size_t row = s_.rows.size();
    int depth = name.empty() ? 0 : 1 + static_cast<int>(std::count(name.begin(), name.end(), '.'));
    s_.rows.push_back({name, m.type_name(), {}, m.num_parameters(), 0, depth});
    int64_t before = s_.macs.total();
    Shape out = body();
    s_.rows[row].output = out;
    s_.rows[row].macs = s_.macs.total() - before;
    return out;
  }

  Shape linear(const std::string& name, const Linear& m, const Shape& in) {
    return module(name, m, [&] {
      Shape out = in;
      out.back() = m.options.out_features;
      s_.macs.linear += numel(in) / in.back() * m.options.in_features * m.options.out_features;
      return out;
    });
  }

  Shape conv(const std::string& name, const Conv2d& m, const Shape& in) {  // in: [N, C, H, W]
    return module(name, m, [&] {
      const auto& o = m.options;
      Shape out = {in[0], o.out_channels, m.output_size(in[2]), m.output_size(in[3])};
      s_.macs.conv += numel(out) * o.in_channels * o.kernel_size * o.kernel_size;
      return out;
    });
  }

  Shape layer_norm(const std::string& name, const LayerNorm& m, const Shape& in) {
    return module(name, m, [&] {
      s_.macs.norm += numel(in) * (m.options.affine ? 5 : 4);
      return in;
    });
  }

  Shape attention(const std::string& name, const NeighborhoodAttention2D& m, const Shape& in) {  // [B, H, W, C]
    return module(name, m, [&] {
      const auto& o = m.options;
      Shape padded = {in[0], m.padded(in[1]), m.padded(in[2]), in[3]};
      linear(name + ".qkv", *m.qkv, padded);
      int64_t kk = o.kernel_size * o.kernel_size;
      int64_t queries = padded[0] * o.num_heads * padded[1] * padded[2];
      s_.macs.na_qk += queries * m.head_dim * kk + queries * kk;
      s_.macs.na_av += queries * m.head_dim * kk;
      return linear(name + ".proj", *m.proj, in);
    });
  }

  Shape layer(const std::string& name, const NATLayer& m, const Shape& in) {
    return module(name, m, [&] {
      attention(name + ".attn", *m.attn, layer_norm(name + ".norm1", *m.norm1, in));
      Shape x = layer_norm(name + ".norm2", *m.norm2, in);
      module(name + ".mlp", *m.mlp,
             [&] { return linear(name + ".mlp.fc2", *m.mlp->fc2, linear(name + ".mlp.fc1", *m.mlp->fc1, x)); });
      return in;
    });
  }

  Shape nat(const NAT& m, const Shape& in) {
    return module("", m, [&] {
      Shape x = module("patch_embed", *m.patch_embed, [&] {
        const auto& seq = *m.patch_embed->proj;
        Shape y = module("patch_embed.proj", seq, [&] {
          Shape z = in;
          for (size_t i = 0; i < seq.size(); ++i)
            z = conv("patch_embed.proj." + std::to_string(i), dynamic_cast<const Conv2d&>(*seq[i]), z);
          return z;
        });
        return layer_norm("patch_embed.norm", *m.patch_embed->norm, {y[0], y[2], y[3], y[1]});
      });
      x = module("levels", *m.levels, [&] {
        for (size_t i = 0; i < m.levels->size(); ++i) {
          std::string ln = "levels." + std::to_string(i);
          auto lvl = m.level(i);
          x = module(ln, *lvl, [&] {
            x = module(ln + ".blocks", *lvl->blocks, [&] {
              for (size_t j = 0; j < lvl->blocks->size(); ++j)
                x = layer(ln + ".blocks." + std::to_string(j), *lvl->layer(j), x);
              return x;
            });
            if (!lvl->downsample) return x;
            return module(ln + ".downsample", *lvl->downsample, [&] {
              Shape y = conv(ln + ".downsample.reduction", *lvl->downsample->reduction, {x[0], x[3], x[1], x[2]});
              return layer_norm(ln + ".downsample.norm", *lvl->downsample->norm, {y[0], y[2], y[3], y[1]});
            });
          });
        }
        return x;
      });
      x = layer_norm("norm", *m.norm, x);
      Shape pooled = {x[0], x[3]};
      return m.head ? linear("head", *m.head, pooled) : pooled;
    });
  }

 private:
  ModelSummary& s_;
};

std::string group(int64_t n) {  // 27901582 -> "27,901,582"
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

ModelSummary summarize(const NAT& model, int64_t batch, int64_t height, int64_t width) {
  NAT_CHECK(batch >= 1 && height >= 1 && width >= 1, "[summary] input size must be positive, got batch ", batch, ", ",
            height, "x", width);
  ModelSummary s;
  s.input = {batch, model.config.in_chans, height, width};
  Tracer(s).nat(model, s.input);
  s.params = model.num_parameters();
  // Keep rows that carry parameters or MACs (dropouts, GELU, identity drop paths add neither).
  std::erase_if(s.rows, [](const SummaryRow& r) { return r.params == 0 && r.macs == 0; });
  return s;
}

std::string format_summary(const ModelSummary& s, int max_depth) {
  std::ostringstream os;
  char line[512];
  std::snprintf(line, sizeof line, "%-36s %-24s %-22s %14s %12s\n", "module", "type", "output", "params", "GMACs");
  os << line;
  for (const auto& r : s.rows) {
    if (r.depth > max_depth) continue;
    std::string name = std::string(2 * static_cast<size_t>(r.depth), ' ') + (r.name.empty() ? "(model)" : r.name);
    std::snprintf(line, sizeof line, "%-36s %-24s %-22s %14s %12.4f\n", name.c_str(), r.type.c_str(),
                  shape_str(r.output).c_str(), group(r.params).c_str(), static_cast<double>(r.macs) / 1e9);
    os << line;
  }
  const MacBreakdown& m = s.macs;
  auto g = [](int64_t v) { return static_cast<double>(v) / 1e9; };
  std::snprintf(line, sizeof line,
                "\ninput        : %s\nparameters   : %s\nFLOPs        : %.3f G (fvcore convention: multiply-adds)\n"
                "real FLOPs   : %.3f G (2 x multiply-adds)\n",
                shape_str(s.input).c_str(), group(s.params).c_str(), g(m.total()), 2 * g(m.total()));
  os << line;
  std::snprintf(line, sizeof line,
                "MAC breakdown: conv %.4f G, linear %.4f G, LayerNorm %.4f G, NA QK+RPB %.4f G, NA AV %.4f G\n",
                g(m.conv), g(m.linear), g(m.norm), g(m.na_qk), g(m.na_av));
  os << line;
  return os.str();
}

}  // namespace nat::nn
