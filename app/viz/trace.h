// `nat trace`: one forward and backward of a NAT with the autograd tape laid out for a student — every node
// (op name, input and output shapes, bytes its backward keeps alive, time in its backward closure) under the
// module call that recorded it, level by level, with totals.
//
// What is timed, honestly: ops do not time themselves, so the forward is run module by module (the same
// calls, in the same order, as NAT::forward and NATLayer::forward; a test checks the logits are identical)
// and each call's wall time is its span's forward time. Backward times are per node: each node's backward
// closure is wrapped with a clock before backward() runs; what backward() does between closures (routing and
// accumulating gradients) is reported separately. On CUDA every clock read synchronises the device. With
// several repeats every time is the minimum over the steps (the usual defence against a busy machine).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "nn/nat.h"

namespace nat::viz {

struct TraceOp {
  size_t index = 0;  // position on the tape
  std::string name;
  std::vector<TensorDesc> inputs, outputs;
  std::vector<bool> input_gets_grad;  // the input requires a gradient from this node
  size_t saved_bytes = 0;
  double backward_ms = 0;
};

struct TraceSpan {
  std::string module;  // "levels.0.blocks.1.attn", "levels.0.blocks.1 residual", ...
  std::string group;   // "patch_embed", "levels.0", ..., "head"
  double forward_ms = 0;
  std::vector<TraceOp> ops;
  size_t saved_bytes() const;
  double backward_ms() const;
};

struct Trace {
  std::string model;
  int64_t parameters = 0;
  TensorDesc input;
  bool training = true;
  double loss = 0;
  std::vector<TraceSpan> spans;  // in forward order; their ops are the whole tape, in order
  size_t tape_nodes = 0;         // nodes on the tape when backward started
  int repeats = 1;
  double forward_ms = 0;      // the sum of the spans' times
  double backward_ms = 0;     // the whole backward() call
  double bookkeeping_ms = 0;  // backward() minus its node closures
  Tensor logits;              // what the traced forward produced
  size_t saved_bytes() const;
  double backward_closure_ms() const;  // the sum over nodes
};

// Clears this thread's tape, runs model(images) span by span, cross-entropy against `labels`, and backward,
// `repeats` times (times: the minimum over the steps; shapes and bytes: the last step). The model's mode
// (train/eval) is used as it is. Parameter gradients are left accumulated.
Trace trace_step(nn::NAT& model, const Tensor& images, const Tensor& labels, int repeats = 1);

// The report: a header saying what is measured, one block per group with its spans and (with `ops`) every
// node, then totals by group and by op name.
std::string format_trace(const Trace& t, bool ops = true);

}  // namespace nat::viz
