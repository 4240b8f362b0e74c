// Elementwise ops with NumPy broadcasting and autograd: arithmetic, unary math, GELU (exact erf form),
// clamp, where. All return new tensors; inputs are never modified.
#pragma once

#include "core/tensor.h"

namespace nat::ops {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double s);  // a + s
Tensor mul(const Tensor& a, double s);  // a * s
Tensor affine(const Tensor& a, double scale, double shift);  // scale * a + shift

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);              // x * Phi(x), exact (erf) form, as nn.GELU()
Tensor pow(const Tensor& x, double p);     // x^p
Tensor clamp(const Tensor& x, double lo, double hi);
// cond: u8 (nonzero = take a); all three broadcast together. Gradients flow to a and b.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

}  // namespace nat::ops

// Operators for readable model and test code.
inline nat::Tensor operator+(const nat::Tensor& a, const nat::Tensor& b) { return nat::ops::add(a, b); }
inline nat::Tensor operator-(const nat::Tensor& a, const nat::Tensor& b) { return nat::ops::sub(a, b); }
inline nat::Tensor operator*(const nat::Tensor& a, const nat::Tensor& b) { return nat::ops::mul(a, b); }
inline nat::Tensor operator/(const nat::Tensor& a, const nat::Tensor& b) { return nat::ops::div(a, b); }
inline nat::Tensor operator-(const nat::Tensor& a) { return nat::ops::neg(a); }
inline nat::Tensor operator*(const nat::Tensor& a, double s) { return nat::ops::mul(a, s); }
inline nat::Tensor operator*(double s, const nat::Tensor& a) { return nat::ops::mul(a, s); }
inline nat::Tensor operator+(const nat::Tensor& a, double s) { return nat::ops::add(a, s); }
