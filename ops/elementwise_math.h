// The scalar math of each elementwise op and its derivative, shared by the CPU and CUDA kernels
// (NAT_HOST_DEVICE), so the two backends compute the same formulas.
#pragma once

#include <cmath>

#include "core/macros.h"
#include "ops/elementwise_kernels.h"

namespace nat {

// Host code must find std:: overloads for float (device code has them in the global namespace).
#if !defined(__CUDA_ARCH__)
using std::erf;
using std::erfc;
using std::exp;
using std::log;
using std::pow;
using std::sqrt;
using std::tanh;
#endif

template <typename T>
NAT_HOST_DEVICE NAT_INLINE T unary_value(UnaryOp op, T x, T p0, T p1) {
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return exp(x);
    case UnaryOp::log: return log(x);
    case UnaryOp::sqrt: return sqrt(x);
    case UnaryOp::rsqrt: return T(1) / sqrt(x);
    case UnaryOp::tanh: return tanh(x);
    case UnaryOp::erf: return erf(x);
    case UnaryOp::abs: return x < T(0) ? -x : x;
    // Phi(x) as 0.5 erfc(-x / sqrt 2): same value as 0.5 (1 + erf(x / sqrt 2)) without its cancellation for x < 0.
    case UnaryOp::gelu: return T(0.5) * x * erfc(x * T(-0.70710678118654752440));
    case UnaryOp::pow_scalar: return pow(x, p0);
    case UnaryOp::clamp: return x < p0 ? p0 : (x > p1 ? p1 : x);
    case UnaryOp::affine: return p0 * x + p1;
    case UnaryOp::relu: return x > T(0) ? x : T(0);
  }
  return x;
}

// d op(x) / dx, given x and y = op(x).
template <typename T>
NAT_HOST_DEVICE NAT_INLINE T unary_derivative(UnaryOp op, T x, T y, T p0, T p1) {
  switch (op) {
    case UnaryOp::neg: return T(-1);
    case UnaryOp::exp: return y;
    case UnaryOp::log: return T(1) / x;
    case UnaryOp::sqrt: return T(0.5) / y;
    case UnaryOp::rsqrt: return T(-0.5) * y * y * y;
    case UnaryOp::tanh: return T(1) - y * y;
    case UnaryOp::erf: return T(1.12837916709551257390) * exp(-x * x);
    case UnaryOp::abs: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::gelu: {
      T cdf = T(0.5) * erfc(x * T(-0.70710678118654752440));
      T pdf = T(0.39894228040143267794) * exp(T(-0.5) * x * x);
      return cdf + x * pdf;
    }
    case UnaryOp::pow_scalar: return p0 == T(0) ? T(0) : p0 * pow(x, p0 - T(1));
    case UnaryOp::clamp: return (x >= p0 && x <= p1) ? T(1) : T(0);
    case UnaryOp::affine: return p0;
    case UnaryOp::relu: return x > T(0) ? T(1) : T(0);
  }
  return T(0);
}

template <typename T>
NAT_HOST_DEVICE NAT_INLINE T binary_value(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
  }
  return a;
}

}  // namespace nat
