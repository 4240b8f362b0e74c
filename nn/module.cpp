// Module registration, traversal, state dicts, modes and placement.
#include "nn/module.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "autograd/autograd.h"
#include "nn/safetensors.h"

namespace nat::nn {

namespace {

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Rewrites t's storage/layout in place so every handle onto t sees `src` (same autograd identity).
void rebind(const Tensor& t, const Tensor& src) {
  TensorImpl& impl = t.impl();
  impl.storage = src.storage();
  impl.shape = src.shape();
  impl.strides = src.strides();
  impl.offset = src.offset();
  impl.dtype = src.dtype();
}

// Lists at most `limit` entries, then "... and N more".
std::string list_keys(const std::vector<std::string>& keys, size_t limit = 20) {
  std::ostringstream os;
  for (size_t i = 0; i < keys.size() && i < limit; ++i) os << "\n    " << keys[i];
  if (keys.size() > limit) os << "\n    ... and " << keys.size() - limit << " more";
  return os.str();
}

// Whether every value of `from` is exactly representable in `to`: the widenings a load may apply
// silently. Narrowing (f64 -> f32, f32 -> bf16) and any integer <-> float change are refused, since a
// checkpoint whose I32 bytes are read as weights gives garbage, not an error, once cast.
bool lossless(DType from, DType to) {
  if (from == to) return true;
  switch (from) {
    case DType::f16:
    case DType::bf16:
      return to == DType::f32 || to == DType::f64;
    case DType::f32:
      return to == DType::f64;
    case DType::u8:
      return to == DType::i32 || to == DType::i64;
    case DType::i32:
      return to == DType::i64;
    default:
      return false;
  }
}

}  // namespace

template <typename F>
void Module::visit_tensors(const std::string& prefix, const F& fn) const {
  // Own parameters, then own buffers, then children: PyTorch's state_dict order.
  for (const auto& e : tensors_)
    if (e.is_parameter) fn(join(prefix, e.name), e);
  for (const auto& e : tensors_)
    if (!e.is_parameter) fn(join(prefix, e.name), e);
  for (const auto& [name, child] : children_) child->visit_tensors(join(prefix, name), fn);
}

void Module::check_new_name(const std::string& name) const {
  NAT_CHECK(!name.empty(), "[", type_name_, "] a parameter, buffer or child name must not be empty");
  NAT_CHECK(name.find('.') == std::string::npos, "[", type_name_, "] name '", name,
            "' must not contain a dot (dots separate the levels of a dotted name)");
  bool taken = std::any_of(tensors_.begin(), tensors_.end(), [&](const Entry& e) { return e.name == name; }) ||
               std::any_of(children_.begin(), children_.end(), [&](const auto& c) { return c.first == name; });
  NAT_CHECK(!taken, "[", type_name_, "] name '", name, "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  check_new_name(name);
  NAT_CHECK(value.defined(), "[", type_name_, "] parameter '", name, "' is undefined");
  if (requires_grad) set_requires_grad(value);
  tensors_.push_back({name, value, true, true});
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value, bool persistent) {
  check_new_name(name);
  NAT_CHECK(value.defined(), "[", type_name_, "] buffer '", name, "' is undefined");
  tensors_.push_back({name, value, false, persistent});
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name);
  NAT_CHECK(module != nullptr, "[", type_name_, "] child '", name, "' is null");
  children_.emplace_back(name, std::move(module));
}

NamedTensors Module::named_parameters(const std::string& prefix) const {
  NamedTensors out;
  visit_tensors(prefix, [&](const std::string& n, const Entry& e) {
    if (e.is_parameter) out.emplace_back(n, e.tensor);
  });
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  visit_tensors("", [&](const std::string&, const Entry& e) {
    if (e.is_parameter) out.push_back(e.tensor);
  });
  return out;
}

NamedTensors Module::named_buffers(const std::string& prefix) const {
  NamedTensors out;
  visit_tensors(prefix, [&](const std::string& n, const Entry& e) {
    if (!e.is_parameter) out.emplace_back(n, e.tensor);
  });
  return out;
}

std::vector<std::pair<std::string, const Module*>> Module::named_modules(const std::string& prefix) const {
  std::vector<std::pair<std::string, const Module*>> out = {{prefix, this}};
  for (const auto& [name, child] : children_) {
    auto sub = child->named_modules(join(prefix, name));
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::shared_ptr<Module> Module::child(const std::string& name) const {
  for (const auto& [n, c] : children_)
    if (n == name) return c;
  return nullptr;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  visit_tensors("", [&](const std::string& n, const Entry& e) {
    if (e.is_parameter || e.persistent) out.emplace_back(n, detach(e.tensor));
  });
  return out;
}

LoadReport Module::load_state_dict(const NamedTensors& state, bool strict) {
  std::map<std::string, const Tensor*> given;
  std::vector<std::string> duplicates;
  for (const auto& [n, t] : state)
    if (!given.emplace(n, &t).second) duplicates.push_back(n);
  NAT_CHECK(duplicates.empty(), "[load_state_dict] duplicate keys in the state dict:", list_keys(duplicates));

  LoadReport report;
  std::vector<std::string> mismatched, dtype_mismatched;
  std::vector<std::pair<Tensor, const Tensor*>> copies;
  std::set<std::string> known;
  visit_tensors("", [&](const std::string& n, const Entry& e) {
    if (!e.is_parameter && !e.persistent) return;
    known.insert(n);
    auto it = given.find(n);
    if (it == given.end()) {
      report.missing.push_back(str(n, " ", shape_str(e.tensor.shape())));
      return;
    }
    const Tensor& src = *it->second;
    if (!src.defined() || src.shape() != e.tensor.shape()) {
      mismatched.push_back(str(n, ": checkpoint ", src.defined() ? shape_str(src.shape()) : "undefined", ", model ",
                               shape_str(e.tensor.shape())));
      return;
    }
    if (!lossless(src.dtype(), e.tensor.dtype())) {
      dtype_mismatched.push_back(
          str(n, ": checkpoint ", dtype_name(src.dtype()), ", model ", dtype_name(e.tensor.dtype())));
      return;
    }
    copies.emplace_back(e.tensor, &src);
  });
  for (const auto& [n, t] : state)
    if (!known.count(n)) report.unexpected.push_back(str(n, " ", t.defined() ? shape_str(t.shape()) : "undefined"));

  bool fail = !mismatched.empty() || !dtype_mismatched.empty() ||
              (strict && (!report.missing.empty() || !report.unexpected.empty()));
  if (fail) {
    std::ostringstream os;
    os << "[load_state_dict] the state dict does not match this " << type_name_ << " ("
       << (strict ? "strict" : "non-strict") << " load):";
    if (!report.missing.empty() && strict)
      os << "\n  missing keys (" << report.missing.size() << "):" << list_keys(report.missing);
    if (!report.unexpected.empty() && strict)
      os << "\n  unexpected keys (" << report.unexpected.size() << "):" << list_keys(report.unexpected);
    if (!mismatched.empty()) os << "\n  shape mismatches (" << mismatched.size() << "):" << list_keys(mismatched);
    if (!dtype_mismatched.empty())
      os << "\n  dtype mismatches (" << dtype_mismatched.size()
         << "; only lossless widenings such as f16 -> f32 or f32 -> f64 are converted):" << list_keys(dtype_mismatched);
    NAT_THROW(os.str());
  }
  NoGradGuard no_grad;
  for (auto& [dst, src] : copies) dst.copy_(*src);
  return report;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::to(Device device) {
  visit_tensors("", [&](const std::string&, const Entry& e) {
    if (e.tensor.device() == device) return;
    Tensor g = grad(e.tensor);
    rebind(e.tensor, e.tensor.to(device));
    if (g.defined()) set_grad(e.tensor, g.to(device));
  });
}

void Module::to(DType dtype) {
  visit_tensors("", [&](const std::string&, const Entry& e) {
    if (!is_floating(e.tensor.dtype()) || e.tensor.dtype() == dtype) return;
    Tensor g = grad(e.tensor);
    rebind(e.tensor, e.tensor.to(dtype));
    if (g.defined()) set_grad(e.tensor, g.to(dtype));
  });
}

void Module::zero_grad() {
  for (const Tensor& p : parameters()) nat::zero_grad(p);
}

void save_state_dict(const Module& module, const std::string& path,
                     const std::map<std::string, std::string>& metadata) {
  save_safetensors(path, module.state_dict(), metadata);
}

LoadReport load_state_dict(Module& module, const std::string& path, bool strict) {
  TensorFile file = load_safetensors(path);
  try {
    return module.load_state_dict(file.tensors, strict);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());  // keeps the original location suffix
  }
}

}  // namespace nat::nn
