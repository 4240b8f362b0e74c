// AdamW / SGD state and steps; the per-element work is in the kernel list (train/optim_kernels.h).
#include "train/optim.h"

#include <cmath>

#include "autograd/autograd.h"
#include "train/optim_kernels.h"

namespace nat::train {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_adamw(const std::string& kind) { return kind == "adamw"; }

Tensor contiguous_grad(const ParamState& p) {
  Tensor g = grad(p.param);
  if (!g.defined()) return g;
  NAT_CHECK(g.numel() == p.param.numel(), "[optimizer] gradient of ", p.name, " has shape ", shape_str(g.shape()),
            ", the parameter ", shape_str(p.param.shape()));
  return g.contiguous();
}

}  // namespace

bool no_weight_decay(const std::string& name, const Tensor& param, bool decay_rpb) {
  return param.dim() <= 1 || ends_with(name, ".bias") || (!decay_rpb && name.find("rpb") != std::string::npos);
}

Optimizer::Optimizer(const nn::NamedTensors& params, const OptimizerOptions& options) : options_(options) {
  NAT_CHECK(
      options.kind == "adamw" || options.kind == "sgd" || options.kind == "nesterov" || options.kind == "momentum",
      "[optimizer] unknown kind '", options.kind, "' (adamw, sgd, nesterov, momentum)");
  NAT_CHECK(!params.empty(), "[optimizer] no parameters to optimise");
  Device dev = params.front().second.device();
  for (const auto& [name, p] : params) {
    NAT_CHECK(p.device() == dev, "[optimizer] parameters on several devices: ", name, " is on ", p.device().str());
    NAT_CHECK(p.is_contiguous(), "[optimizer] parameter ", name, " is not contiguous");
    NAT_CHECK(p.dtype() == DType::f32 || p.dtype() == DType::bf16 || p.dtype() == DType::f16, "[optimizer] parameter ",
              name, " has dtype ", p.dtype(), " (f32, bf16 or f16 expected)");
    ParamState s;
    s.name = name;
    s.param = p;
    if (p.dtype() != DType::f32) s.master = p.to(DType::f32).contiguous();
    s.exp_avg = Tensor::zeros(p.shape(), DType::f32, dev);
    if (is_adamw(options.kind)) s.exp_avg_sq = Tensor::zeros(p.shape(), DType::f32, dev);
    s.weight_decay = no_weight_decay(name, p, options.decay_rpb) ? 0.0 : options.weight_decay;
    params_.push_back(std::move(s));
  }
  norm_scratch_ = Tensor::zeros({static_cast<int64_t>(params_.size()), kSumSquaresPartials + 1}, DType::f64, dev);
}

Tensor Optimizer::f32_value(size_t i) const {
  const ParamState& p = params_.at(i);
  return p.master.defined() ? p.master : p.param;
}

void Optimizer::step(double lr, double grad_scale, double clip_value) {
  for (auto& p : params_) {
    Tensor g = contiguous_grad(p);
    if (!g.defined()) continue;  // as PyTorch: a parameter without a gradient is not touched (nor decayed)
    ++p.step;
    float* w = (p.master.defined() ? p.master : p.param).data<float>();
    void* out = p.master.defined() ? p.param.data_ptr() : nullptr;
    Device dev = p.param.device();
    if (is_adamw(options_.kind)) {
      AdamWStep s;
      s.lr = static_cast<float>(lr);
      s.beta1 = static_cast<float>(options_.beta1);
      s.beta2 = static_cast<float>(options_.beta2);
      s.eps = static_cast<float>(options_.eps);
      s.weight_decay = static_cast<float>(p.weight_decay);
      s.bias_correction1 = static_cast<float>(1.0 - std::pow(options_.beta1, static_cast<double>(p.step)));
      s.bias_correction2_sqrt =
          static_cast<float>(std::sqrt(1.0 - std::pow(options_.beta2, static_cast<double>(p.step))));
      s.grad_scale = static_cast<float>(grad_scale);
      s.clip_value = static_cast<float>(clip_value);
      NAT_DISPATCH(dev, adamw_update, p.param.numel(), w, g.data_ptr(), g.dtype(), p.exp_avg.data<float>(),
                   p.exp_avg_sq.data<float>(), s, out, p.param.dtype(), dev.index);
    } else {
      SgdStep s;
      s.lr = static_cast<float>(lr);
      s.momentum = static_cast<float>(options_.momentum);
      s.weight_decay = static_cast<float>(p.weight_decay);
      s.nesterov = options_.kind != "momentum";
      s.first = p.step == 1;
      s.grad_scale = static_cast<float>(grad_scale);
      s.clip_value = static_cast<float>(clip_value);
      NAT_DISPATCH(dev, sgd_update, p.param.numel(), w, g.data_ptr(), g.dtype(), p.exp_avg.data<float>(), s, out,
                   p.param.dtype(), dev.index);
    }
  }
}

double Optimizer::grad_sum_squares() const {
  const int64_t row = kSumSquaresPartials + 1;
  double* base = norm_scratch_.data<double>();
  std::vector<bool> has(params_.size(), false);
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = contiguous_grad(params_[i]);
    if (!g.defined()) continue;
    has[i] = true;
    double* r = base + static_cast<int64_t>(i) * row;
    NAT_DISPATCH(g.device(), sum_squares, g.numel(), g.data_ptr(), g.dtype(), r, r + kSumSquaresPartials,
                 g.device().index);
  }
  Tensor host = norm_scratch_.is_cpu() ? norm_scratch_ : norm_scratch_.cpu();
  const double* h = host.data<double>();
  double total = 0;
  for (size_t i = 0; i < params_.size(); ++i)
    if (has[i]) total += h[static_cast<int64_t>(i) * row + kSumSquaresPartials];
  return total;
}

void Optimizer::zero_grad() {
  for (auto& p : params_) nat::zero_grad(p.param);
}

nn::NamedTensors Optimizer::state_tensors() const {
  nn::NamedTensors out;
  const std::string buf = is_adamw(options_.kind) ? ".exp_avg" : ".momentum_buffer";
  for (const auto& p : params_) {
    out.emplace_back("optim." + p.name + buf, p.exp_avg.cpu());
    if (p.exp_avg_sq.defined()) out.emplace_back("optim." + p.name + ".exp_avg_sq", p.exp_avg_sq.cpu());
    out.emplace_back("optim." + p.name + ".step", Tensor::from_vector<int64_t>({p.step}, {}));
  }
  return out;
}

void Optimizer::load_state(const std::function<const Tensor*(const std::string&)>& find, const std::string& origin) {
  const std::string buf = is_adamw(options_.kind) ? ".exp_avg" : ".momentum_buffer";
  auto need = [&](const std::string& key, const Shape& shape) -> const Tensor& {
    const Tensor* t = find(key);
    NAT_CHECK(t != nullptr, "[checkpoint] ", origin, " has no '", key, "' (saved by another optimizer? opt is '",
              options_.kind, "'; resume with no_resume_opt to start the optimizer afresh)");
    NAT_CHECK(t->shape() == shape, "[checkpoint] ", origin, ": '", key, "' has shape ", shape_str(t->shape()),
              ", expected ", shape_str(shape));
    return *t;
  };
  for (auto& p : params_) {
    p.exp_avg.copy_(need("optim." + p.name + buf, p.param.shape()));
    if (p.exp_avg_sq.defined()) p.exp_avg_sq.copy_(need("optim." + p.name + ".exp_avg_sq", p.param.shape()));
    p.step = static_cast<int64_t>(need("optim." + p.name + ".step", {}).item());
  }
}

void Optimizer::sync_masters_from_params() {
  for (auto& p : params_)
    if (p.master.defined()) p.master.copy_(p.param);
}

GroupSummary Optimizer::decay_group() const {
  GroupSummary g;
  for (const auto& p : params_)
    if (!no_weight_decay(p.name, p.param, options_.decay_rpb)) ++g.tensors, g.elements += p.param.numel();
  return g;
}

GroupSummary Optimizer::no_decay_group() const {
  GroupSummary g;
  for (const auto& p : params_)
    if (no_weight_decay(p.name, p.param, options_.decay_rpb)) ++g.tensors, g.elements += p.param.numel();
  return g;
}

}  // namespace nat::train
