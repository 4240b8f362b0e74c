// Tape-based reverse-mode autodiff (a Wengert list). Every op that runs with grad mode on and has an
// input that requires grad appends one Node to this thread's tape: its name, the shapes it saw, the
// autograd identities of its inputs, and a backward closure that maps output gradients to input
// gradients. backward() walks the tape in reverse — no graph sort is needed because the tape is
// already in execution order — and accumulates (+=) into leaf gradients. Zeroing is explicit.
//
// A parameter can carry grad-ready hooks; each fires once per backward pass, right after the last
// node that contributes to that parameter's gradient (the data-parallel reducer starts its
// all-reduces from them).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace nat {

struct Node;

struct AutogradMeta {
  uint64_t id = 0;             // unique per tensor identity, used to route gradients
  bool requires_grad = false;
  bool retains_grad = false;   // keep the gradient of a non-leaf after backward
  std::weak_ptr<Node> grad_fn; // the node that produced this tensor (empty for leaves)
  bool has_grad_fn = false;    // produced by an op (so not a leaf), even after the tape is freed
  Tensor grad;                 // accumulated gradient (leaves, and non-leaves that retain it)
  std::vector<std::function<void(const Tensor& grad)>> grad_ready_hooks;
  std::string name;            // optional, for tape dumps ("levels.0.blocks.0.attn.rpb")
};

// Describes a tensor in the tape without keeping its memory alive.
struct TensorDesc {
  Shape shape;
  DType dtype = DType::f32;
  Device device;
  std::string str() const;
};

using BackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grad_outputs)>;

struct Node {
  std::string name;
  std::vector<std::shared_ptr<AutogradMeta>> inputs;  // nullptr where the input needs no gradient
  std::vector<TensorDesc> input_descs;
  std::vector<uint64_t> output_ids;
  std::vector<TensorDesc> output_descs;
  BackwardFn backward;
  size_t saved_bytes = 0;   // memory the closure keeps alive for backward
  double forward_ms = 0;    // optional timing, filled by tracing tools
  size_t index = 0;         // position in the tape
};

// ---- grad mode ----
bool grad_enabled();
void set_grad_enabled(bool enabled);
class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// ---- tensor-level API ----
bool requires_grad(const Tensor& t);
// Marks a leaf as requiring a gradient (like PyTorch's requires_grad_); returns t.
const Tensor& set_requires_grad(const Tensor& t, bool on = true);
bool is_leaf(const Tensor& t);
Tensor grad(const Tensor& t);               // undefined until a backward pass reached t
void set_grad(const Tensor& t, const Tensor& g);
void zero_grad(const Tensor& t);            // drops the gradient (next backward starts from zero)
void retain_grad(const Tensor& t);          // keep a non-leaf's gradient after backward
Tensor detach(const Tensor& t);             // same data, no autograd history
void set_autograd_name(const Tensor& t, const std::string& name);
void add_grad_ready_hook(const Tensor& t, std::function<void(const Tensor& grad)> hook);
void clear_grad_ready_hooks(const Tensor& t);

struct BackwardOptions {
  bool retain_graph = false;  // keep the nodes so backward can run again (else the nodes it used are freed)
};
// Backward from a scalar `root` (error otherwise), or from any root with an explicit grad_output.
void backward(const Tensor& root, const Tensor& grad_output = Tensor(), BackwardOptions opts = {});

// ---- the tape ----
// True when an op with these inputs must be recorded.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);
// Appends a node for outputs = op(inputs); the outputs become non-leaf tensors requiring grad.
// `backward` receives one gradient per output (zeros where none arrived) and returns one per input
// (undefined where not needed). Returns the node (for saved-bytes bookkeeping).
Node* record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
             BackwardFn backward, size_t saved_bytes = 0);
size_t tape_size();
void clear_tape();               // drops every node (and what the closures saved)
std::string tape_str();          // one line per node: index, op, input and output shapes/dtypes
const std::vector<std::shared_ptr<Node>>& tape_nodes();

// Accumulation used by backward: dst += src (same shape, dtype, device).
void accumulate_into(Tensor& dst, const Tensor& src);

}  // namespace nat
