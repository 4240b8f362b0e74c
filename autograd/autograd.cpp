// The tape, grad mode, and the backward walk.
#include "autograd/autograd.h"

#include <atomic>
#include <sstream>
#include <unordered_map>

#include "core/backend.h"

namespace nat {

namespace {

thread_local bool tls_grad_enabled = true;
thread_local std::vector<std::shared_ptr<Node>> tls_tape;
std::atomic<uint64_t> g_next_id{1};

AutogradMeta& meta(const Tensor& t) {
  auto& impl = t.impl();
  if (!impl.autograd) {
    impl.autograd = std::make_shared<AutogradMeta>();
    impl.autograd->id = g_next_id++;
  }
  return *impl.autograd;
}

TensorDesc describe(const Tensor& t) { return TensorDesc{t.shape(), t.dtype(), t.device()}; }

}  // namespace

std::string TensorDesc::str() const { return nat::str(dtype_name(dtype), shape_str(shape)); }

bool grad_enabled() { return tls_grad_enabled; }
void set_grad_enabled(bool enabled) { tls_grad_enabled = enabled; }

bool requires_grad(const Tensor& t) { return t.defined() && t.impl().autograd && t.impl().autograd->requires_grad; }

const Tensor& set_requires_grad(const Tensor& t, bool on) {
  NAT_CHECK(t.defined(), "[set_requires_grad] undefined tensor");
  NAT_CHECK(!on || is_floating(t.dtype()), "[set_requires_grad] only floating tensors can require grad, got ",
            t.meta_str());
  AutogradMeta& m = meta(t);
  NAT_CHECK(!m.has_grad_fn || on, "[set_requires_grad] cannot turn off requires_grad on a non-leaf ",
            t.meta_str(), "; use detach()");
  m.requires_grad = on;
  return t;
}

bool is_leaf(const Tensor& t) { return !(t.impl().autograd && t.impl().autograd->has_grad_fn); }

Tensor grad(const Tensor& t) { return t.impl().autograd ? t.impl().autograd->grad : Tensor(); }

void set_grad(const Tensor& t, const Tensor& g) {
  NAT_CHECK(!g.defined() || g.shape() == t.shape(), "[set_grad] gradient shape ", shape_str(g.shape()),
            " does not match tensor shape ", shape_str(t.shape()));
  meta(t).grad = g;
}

void zero_grad(const Tensor& t) {
  if (t.impl().autograd) t.impl().autograd->grad = Tensor();
}

void retain_grad(const Tensor& t) { meta(t).retains_grad = true; }

Tensor detach(const Tensor& t) {
  auto impl = std::make_shared<TensorImpl>(t.impl());
  impl->autograd = nullptr;
  return Tensor(std::move(impl));
}

void set_autograd_name(const Tensor& t, const std::string& name) { meta(t).name = name; }

void add_grad_ready_hook(const Tensor& t, std::function<void(const Tensor&)> hook) {
  meta(t).grad_ready_hooks.push_back(std::move(hook));
}

void clear_grad_ready_hooks(const Tensor& t) {
  if (t.impl().autograd) t.impl().autograd->grad_ready_hooks.clear();
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!tls_grad_enabled) return false;
  for (const auto& t : inputs)
    if (requires_grad(t)) return true;
  return false;
}

bool needs_grad(std::initializer_list<Tensor> inputs) { return needs_grad(std::vector<Tensor>(inputs)); }

Node* record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
             BackwardFn backward, size_t saved_bytes) {
  auto node = std::make_shared<Node>();
  node->name = name;
  node->backward = std::move(backward);
  node->saved_bytes = saved_bytes;
  node->index = tls_tape.size();
  for (const auto& t : inputs) {
    node->inputs.push_back(requires_grad(t) ? t.impl().autograd : nullptr);
    node->input_descs.push_back(t.defined() ? describe(t) : TensorDesc{});
  }
  for (const auto& t : outputs) {
    AutogradMeta& m = meta(t);
    NAT_CHECK(!m.has_grad_fn, "[autograd] op ", name, " recorded an output that already has a history");
    m.requires_grad = true;
    m.has_grad_fn = true;
    m.grad_fn = node;
    node->output_ids.push_back(m.id);
    node->output_descs.push_back(describe(t));
  }
  tls_tape.push_back(node);
  return node.get();
}

size_t tape_size() { return tls_tape.size(); }
void clear_tape() { tls_tape.clear(); }
const std::vector<std::shared_ptr<Node>>& tape_nodes() { return tls_tape; }

std::string tape_str() {
  std::ostringstream os;
  os << "tape: " << tls_tape.size() << " node(s)\n";
  for (const auto& n : tls_tape) {
    os << "  #" << n->index << " " << n->name << "(";
    for (size_t i = 0; i < n->input_descs.size(); ++i)
      os << (i ? ", " : "") << n->input_descs[i].str() << (n->inputs[i] ? "*" : "");
    os << ") -> ";
    for (size_t i = 0; i < n->output_descs.size(); ++i) os << (i ? ", " : "") << n->output_descs[i].str();
    if (n->saved_bytes) os << "  saved " << human_bytes(static_cast<int64_t>(n->saved_bytes));
    os << "\n";
  }
  os << "  (* = input that receives a gradient)\n";
  return os.str();
}

void accumulate_into(Tensor& dst, const Tensor& src) {
  NAT_CHECK(dst.shape() == src.shape() && dst.dtype() == src.dtype() && dst.device() == src.device(),
            "[autograd] cannot accumulate a gradient ", src.meta_str(), " into ", dst.meta_str());
  Tensor s = src.contiguous();
  NAT_CHECK(dst.is_contiguous(), "[autograd] gradient buffers must be contiguous");
  backend(dst.device()).accumulate(dst.data_ptr(), s.data_ptr(), dst.dtype(), dst.numel(), dst.device().index);
}

void backward(const Tensor& root, const Tensor& grad_output, BackwardOptions opts) {
  NAT_CHECK(root.defined(), "[backward] undefined tensor");
  NAT_CHECK(requires_grad(root), "[backward] tensor ", root.meta_str(),
            " does not require grad (no input of the ops that produced it requires grad)");
  Tensor seed = grad_output;
  if (!seed.defined()) {
    NAT_CHECK(root.numel() == 1, "[backward] needs a scalar (one element) or an explicit gradient, got ",
              root.meta_str());
    seed = Tensor::ones(root.shape(), root.dtype(), root.device());
  }
  NAT_CHECK(seed.shape() == root.shape(), "[backward] gradient shape ", shape_str(seed.shape()),
            " does not match output shape ", shape_str(root.shape()));
  AutogradMeta& rm = *root.impl().autograd;
  if (!rm.has_grad_fn) {  // a leaf: its gradient is the seed
    if (rm.grad.defined()) accumulate_into(rm.grad, seed);
    else rm.grad = seed.contiguous().clone();
    for (auto& h : rm.grad_ready_hooks) h(rm.grad);
    return;
  }
  std::shared_ptr<Node> root_node = rm.grad_fn.lock();
  NAT_CHECK(root_node && root_node->index < tls_tape.size() && tls_tape[root_node->index] == root_node,
            "[backward] the tape that produced ", root.meta_str(),
            " was already freed by an earlier backward (pass retain_graph to run backward twice)");

  NoGradGuard no_grad;
  // Where each leaf's gradient becomes final: the earliest tape node that uses it.
  std::unordered_map<AutogradMeta*, size_t> last_use;
  for (size_t i = 0; i <= root_node->index; ++i)
    for (const auto& in : tls_tape[i]->inputs)
      if (in && !in->has_grad_fn) {
        auto it = last_use.find(in.get());
        if (it == last_use.end()) last_use[in.get()] = i;
      }
  std::unordered_map<size_t, std::vector<AutogradMeta*>> ready_at;
  for (auto& [m, i] : last_use) ready_at[i].push_back(m);

  std::unordered_map<uint64_t, Tensor> grads;  // pending gradients of non-leaf tensors, by id
  grads[rm.id] = seed.contiguous().clone();
  if (rm.retains_grad) rm.grad = grads[rm.id];

  std::vector<bool> used(root_node->index + 1, false);
  for (size_t idx = root_node->index + 1; idx-- > 0;) {
    Node& node = *tls_tape[idx];
    std::vector<Tensor> gouts;
    bool any = false;
    for (size_t o = 0; o < node.output_ids.size(); ++o) {
      auto it = grads.find(node.output_ids[o]);
      if (it != grads.end()) {
        gouts.push_back(it->second);
        grads.erase(it);
        any = true;
      } else {
        const TensorDesc& d = node.output_descs[o];
        gouts.push_back(Tensor::zeros(d.shape, d.dtype, d.device));
      }
    }
    if (any) {
      used[idx] = true;
      std::vector<Tensor> gins = node.backward(gouts);
      NAT_CHECK(gins.size() == node.inputs.size(), "[backward] op ", node.name, " returned ", gins.size(),
                " gradients for ", node.inputs.size(), " inputs");
      for (size_t i = 0; i < gins.size(); ++i) {
        const auto& in = node.inputs[i];
        if (!in || !gins[i].defined()) continue;
        const TensorDesc& d = node.input_descs[i];
        NAT_CHECK(gins[i].shape() == d.shape, "[backward] op ", node.name, " returned a gradient of shape ",
                  shape_str(gins[i].shape()), " for input ", i, " of shape ", shape_str(d.shape));
        Tensor g = gins[i].dtype() == d.dtype ? gins[i] : gins[i].to(d.dtype);
        if (!in->has_grad_fn || in->retains_grad) {
          if (in->grad.defined()) accumulate_into(in->grad, g);
          else in->grad = g.contiguous().clone();
        }
        if (in->has_grad_fn) {
          auto it = grads.find(in->id);
          if (it == grads.end()) grads[in->id] = g.contiguous().clone();
          else accumulate_into(it->second, g);
        }
      }
    }
    auto r = ready_at.find(idx);
    if (r != ready_at.end())
      for (AutogradMeta* m : r->second)
        if (m->grad.defined())
          for (auto& h : m->grad_ready_hooks) h(m->grad);
  }
  if (!opts.retain_graph) {
    // Free the nodes this backward went through; nodes of other, independent graphs stay.
    std::vector<std::shared_ptr<Node>> kept;
    for (size_t i = 0; i < tls_tape.size(); ++i)
      if (i >= used.size() || !used[i]) {
        tls_tape[i]->index = kept.size();
        kept.push_back(std::move(tls_tape[i]));
      }
    tls_tape.swap(kept);
  }
}

}  // namespace nat
