// Module: the base of every layer. A module owns, in registration order, named parameters (tensors that
// require grad), named buffers (state that is saved but not trained) and named child modules. Every
// derived view — named_parameters(), state_dict(), load_state_dict(), train()/eval(), to() — is computed
// from those three lists, so a dotted name like "levels.2.blocks.5.attn.rpb" is simply the path of
// registrations. Ordering follows PyTorch: a module's own tensors first, then its children, recursively.
// Parameters keep their identity (autograd id, grad-ready hooks) across to() and load_state_dict():
// both rewrite the tensor's storage in place, so handles held by layers and optimizers stay valid.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace nat::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// What a non-strict load_state_dict() skipped (a strict load throws instead).
struct LoadReport {
  std::vector<std::string> missing;     // in the module, not in the state dict
  std::vector<std::string> unexpected;  // in the state dict, not in the module
};

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& type_name() const { return type_name_; }  // "Linear", "NATLayer", ...

  // ---- traversal (dotted names; `prefix` is prepended as "prefix.name") ----
  NamedTensors named_parameters(const std::string& prefix = "") const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers(const std::string& prefix = "") const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  // This module (named `prefix`, "" at the root) and every descendant, pre-order.
  std::vector<std::pair<std::string, const Module*>> named_modules(const std::string& prefix = "") const;
  std::shared_ptr<Module> child(const std::string& name) const;  // nullptr when absent
  int64_t num_parameters() const;                                // elements, not tensors

  // ---- state dicts ----
  // Parameters and persistent buffers, own first then children's, as detached handles (no copy).
  NamedTensors state_dict() const;
  // Copies values into the registered tensors (converting device as needed). Strict: any missing or
  // unexpected key is an error; a shape mismatch is always an error, and so is a dtype that does not
  // convert losslessly (f16/bf16 -> f32/f64, f32 -> f64, u8 -> i32/i64, i32 -> i64 are converted; f64 -> f32
  // and any integer <-> float change are refused). The error lists every offending key (missing,
  // unexpected, mis-shaped, mis-typed) with shapes and dtypes. Nothing is modified unless the whole
  // dict is accepted.
  LoadReport load_state_dict(const NamedTensors& state, bool strict = true);

  // ---- modes and placement ----
  void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void to(Device device);  // moves every parameter, gradient and buffer in place
  void to(DType dtype);    // converts floating parameters, gradients and buffers in place
  void zero_grad();        // drops every parameter's gradient

 protected:
  // Names must be non-empty, dot-free and unique within this module (parameters, buffers and
  // children share one namespace). The returned handle shares the registered tensor.
  Tensor register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor value, bool persistent = true);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  struct Entry {
    std::string name;
    Tensor tensor;
    bool is_parameter;
    bool persistent;
  };
  void check_new_name(const std::string& name) const;
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  template <typename F>
  void visit_tensors(const std::string& prefix, const F& fn) const;

  std::string type_name_;
  bool training_ = true;
  std::vector<Entry> tensors_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// A module with a single-tensor forward: what Sequential chains.
class UnaryModule : public Module {
 public:
  using Module::Module;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

// Saves state_dict() as safetensors (f32 as stored; metadata is an optional string map).
void save_state_dict(const Module& module, const std::string& path,
                     const std::map<std::string, std::string>& metadata = {});
// Loads a safetensors file into `module` (see Module::load_state_dict).
LoadReport load_state_dict(Module& module, const std::string& path, bool strict = true);

}  // namespace nat::nn
