// Parameter initialisers (in place, without recording autograd), each drawing from an explicit
// Generator so a seeded model is reproducible: the same seed gives the same weights on every run.
// Conventions follow PyTorch / timm: fan_in of a [out, in, kh, kw] weight is in * kh * kw; the
// truncation bounds of trunc_normal are absolute values (timm's trunc_normal_), not multiples of std.
#pragma once

#include <cmath>

#include "core/rng.h"
#include "core/tensor.h"

namespace nat::nn::init {

// While a NoInitGuard lives (on this thread), every initialiser below is a no-op and new modules keep
// whatever their constructors allocated (uninitialised memory for weights). For building a model only to
// count its parameters, list its keys, or overwrite every tensor with load_state_dict right away.
class NoInitGuard {
 public:
  NoInitGuard();
  ~NoInitGuard();
  NoInitGuard(const NoInitGuard&) = delete;
  NoInitGuard& operator=(const NoInitGuard&) = delete;

 private:
  bool prev_;
};
bool enabled();  // false inside a NoInitGuard

// Normal(mean, std^2) restricted to [lo, hi] (timm trunc_normal_: std 0.02 with the default +-2 cut is
// in effect an untruncated N(0, 0.02^2)).
void trunc_normal(const Tensor& t, Generator& gen, double std = 1.0, double mean = 0.0, double lo = -2.0,
                  double hi = 2.0);
void normal(const Tensor& t, Generator& gen, double mean = 0.0, double std = 1.0);
void uniform(const Tensor& t, Generator& gen, double lo = 0.0, double hi = 1.0);
void constant(const Tensor& t, double value);
inline void zeros(const Tensor& t) { constant(t, 0.0); }
inline void ones(const Tensor& t) { constant(t, 1.0); }

// fan_in of a weight: size(1) * prod(size(2:)) (a Linear [out, in] -> in; a conv [O, C, kh, kw] -> C*kh*kw).
int64_t fan_in(const Tensor& weight);

// kaiming_uniform with leaky-relu slope a: U(-b, b), b = sqrt(6 / ((1 + a^2) * fan_in)). The default
// a = sqrt(5) is what nn.Linear and nn.Conv2d use in reset_parameters(), giving b = 1 / sqrt(fan_in).
void kaiming_uniform(const Tensor& weight, Generator& gen, double a = std::sqrt(5.0));

// PyTorch's default initialisation of a Linear or Conv2d: kaiming_uniform(a = sqrt(5)) on the weight
// and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) on the bias (when defined).
void pytorch_default(const Tensor& weight, const Tensor& bias, Generator& gen);

}  // namespace nat::nn::init
