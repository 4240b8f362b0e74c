// gradcheck: analytic gradients by backward() against central differences.
#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/autograd.h"
#include "core/rng.h"

namespace nat {

namespace {

double projected(const Tensor& y, const std::vector<double>& w) {
  std::vector<double> v = y.to_double_vector();
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += v[i] * w[i];
  return s;
}

// Pointer to logical element `linear` of a (possibly strided) f64 tensor.
double* element_ptr(const Tensor& t, int64_t linear) {
  int64_t off = 0;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    int64_t idx = linear % t.shape()[d];
    linear /= t.shape()[d];
    off += idx * t.strides()[d];
  }
  return static_cast<double*>(t.data_ptr()) + off;
}

std::string index_str(const Shape& shape, int64_t linear) {
  Shape idx(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = linear % shape[d];
    linear /= shape[d];
  }
  return shape_str(idx);
}

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& opts) {
  for (const auto& t : inputs)
    NAT_CHECK(!t.defined() || (t.dtype() == DType::f64 && t.is_cpu()) || !requires_grad(t),
              "[gradcheck] inputs that require grad must be f64 CPU tensors, got ", t.meta_str());
  GradcheckResult res;
  clear_tape();
  for (const auto& t : inputs)
    if (t.defined() && requires_grad(t)) zero_grad(t);

  Tensor y = f(inputs);
  Generator g(opts.seed);
  std::vector<double> wv = rand(y.shape(), DType::f64, Device::cpu(), &g).to_double_vector();
  for (auto& x : wv) x = 2 * x - 1;  // weights in [-1, 1)
  Tensor wt = Tensor::from_vector(wv, y.shape());
  backward(y, wt.to(y.dtype()));

  std::ostringstream report;
  int mismatches = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !requires_grad(x)) continue;
    if (!opts.check_input.empty() && (k >= opts.check_input.size() || !opts.check_input[k])) continue;
    Tensor ga = grad(x);
    std::vector<double> analytic = ga.defined() ? ga.to_double_vector() : std::vector<double>(x.numel(), 0.0);
    for (int64_t j = 0; j < x.numel(); ++j) {
      double* p = element_ptr(x, j);
      double orig = *p;
      double lp, lm;
      {
        NoGradGuard ng;
        *p = orig + opts.eps;
        lp = projected(f(inputs), wv);
        *p = orig - opts.eps;
        lm = projected(f(inputs), wv);
        *p = orig;
      }
      double numeric = (lp - lm) / (2 * opts.eps);
      double err = std::fabs(analytic[j] - numeric);
      res.max_abs_error = std::max(res.max_abs_error, err);
      if (err > opts.atol + opts.rtol * std::fabs(numeric)) {
        res.ok = false;
        if (mismatches++ < 8)
          report << "input " << k << " element " << index_str(x.shape(), j) << ": analytic " << analytic[j]
                 << " numeric " << numeric << "\n";
      }
    }
  }
  if (mismatches > 8) report << "... " << mismatches - 8 << " more mismatches\n";
  res.report = report.str();
  clear_tape();
  return res;
}

}  // namespace nat
