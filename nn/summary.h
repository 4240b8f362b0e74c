// A NAT model table: every module's output shape, parameters and FLOPs for a given input size, computed
// analytically (no forward pass), so `nat info` is instant even for NAT-Base.
//
// FLOPs follow fvcore's convention, in which one "FLOP" is one multiply-add (MAC) — the numbers the NAT
// papers report (docs/model.md §5): conv Cin*Cout*k*k*Hout*Wout*B, linear in*out*tokens (biases not counted),
// LayerNorm 5*numel (4 without affine), NA QK+RPB B*heads*H*W*hd*k^2 + B*heads*H*W*k^2 and AV
// B*heads*H*W*hd*k^2 (on the padded map when padding applies); elementwise ops, softmax and pooling count 0.
// Real floating-point operations are twice the MACs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/nat.h"

namespace nat::nn {

struct MacBreakdown {
  int64_t conv = 0, linear = 0, norm = 0, na_qk = 0, na_av = 0;
  int64_t total() const { return conv + linear + norm + na_qk + na_av; }
};

struct SummaryRow {
  std::string name;  // dotted module name; "" is the whole model
  std::string type;  // "Linear", "NATLayer", ...
  Shape output;
  int64_t params = 0;  // parameter elements in this module and its children
  int64_t macs = 0;    // multiply-adds in this module and its children
  int depth = 0;       // number of dotted components (0 for the root)
};

struct ModelSummary {
  Shape input;
  std::vector<SummaryRow> rows;  // pre-order, modules with neither parameters nor MACs omitted
  int64_t params = 0;
  MacBreakdown macs;
};

ModelSummary summarize(const NAT& model, int64_t batch, int64_t height, int64_t width);

// The table, rows down to `max_depth` (root = 0), then totals: exact parameter count, GMACs (fvcore
// "FLOPs") and real GFLOPs, and the MAC breakdown by kind.
std::string format_summary(const ModelSummary& summary, int max_depth = 4);

}  // namespace nat::nn
