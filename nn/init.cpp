// Parameter initialisers.
#include "nn/init.h"

#include "autograd/autograd.h"

namespace nat::nn::init {

namespace {
thread_local bool tls_enabled = true;

// Random fills write through a handle; a parameter's handle shares its storage, so the fill lands in it.
Tensor writable(const Tensor& t) {
  NAT_CHECK(t.defined(), "[init] tensor is undefined");
  NAT_CHECK(is_floating(t.dtype()), "[init] needs a floating tensor, got ", t.meta_str());
  return detach(t);
}
}  // namespace

NoInitGuard::NoInitGuard() : prev_(tls_enabled) { tls_enabled = false; }
NoInitGuard::~NoInitGuard() { tls_enabled = prev_; }
bool enabled() { return tls_enabled; }

void trunc_normal(const Tensor& t, Generator& gen, double std, double mean, double lo, double hi) {
  Tensor w = writable(t);
  if (!tls_enabled) return;
  trunc_normal_(w, mean, std, lo, hi, &gen);
}

void normal(const Tensor& t, Generator& gen, double mean, double std) {
  Tensor w = writable(t);
  if (!tls_enabled) return;
  normal_(w, mean, std, &gen);
}

void uniform(const Tensor& t, Generator& gen, double lo, double hi) {
  Tensor w = writable(t);
  if (!tls_enabled) return;
  uniform_(w, lo, hi, &gen);
}

void constant(const Tensor& t, double value) {
  Tensor w = writable(t);
  if (tls_enabled) w.fill_(value);
}

int64_t fan_in(const Tensor& weight) {
  NAT_CHECK(weight.dim() >= 2, "[init] fan_in needs a weight with >= 2 dims, got ", weight.meta_str());
  return weight.numel() / weight.size(0);
}

void kaiming_uniform(const Tensor& weight, Generator& gen, double a) {
  double bound = std::sqrt(6.0 / ((1.0 + a * a) * static_cast<double>(fan_in(weight))));
  uniform(weight, gen, -bound, bound);
}

void pytorch_default(const Tensor& weight, const Tensor& bias, Generator& gen) {
  kaiming_uniform(weight, gen);
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt(static_cast<double>(fan_in(weight)));
    uniform(bias, gen, -bound, bound);
  }
}

}  // namespace nat::nn::init
