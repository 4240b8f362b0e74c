// From two Philox words to one random value, for every distribution nat.cpp draws.
// All arithmetic is in double and rounded once to the output type, on both the CPU and CUDA,
// so the two backends agree bit for bit on uniform and bernoulli draws and to within rounding of
// log/cos/erf (at most 1 ulp of f32) on normal and truncated-normal draws.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/backend.h"
#include "core/convert.h"
#include "core/macros.h"
#include "core/philox.h"

namespace nat {

// 53-bit uniform in [0, 1) from two words.
NAT_HOST_DEVICE NAT_INLINE double uniform53(uint32_t w0, uint32_t w1) {
  uint64_t bits = (static_cast<uint64_t>(w0) << 21) ^ (static_cast<uint64_t>(w1) >> 11);
  bits &= (1ull << 53) - 1;
  return static_cast<double>(bits) * (1.0 / 9007199254740992.0);
}

// Inverse error function: Giles' polynomial start ("Approximating the erfinv function", GPU Gems 2012),
// refined by two Newton steps on erf in double.
NAT_HOST_DEVICE NAT_INLINE double nat_erfinv(double y) {
  if (y <= -1.0) return -INFINITY;
  if (y >= 1.0) return INFINITY;
  double w = -log((1.0 - y) * (1.0 + y));
  double x;
  if (w < 5.0) {
    w -= 2.5;
    double p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
    x = p * y;
  } else {
    w = sqrt(w) - 3.0;
    double p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
    x = p * y;
  }
  const double two_over_sqrt_pi = 1.1283791670955126;
  for (int i = 0; i < 2; ++i) x -= (erf(x) - y) / (two_over_sqrt_pi * exp(-x * x));
  return x;
}

// a + b * c with two roundings on both backends: nvcc would contract it into one fma (one rounding)
// and uniform draws would then differ from the CPU's in the last bit.
NAT_HOST_DEVICE NAT_INLINE double mul_add_unfused(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, __dmul_rn(b, c));
#else
  return a + b * c;
#endif
}

NAT_HOST_DEVICE NAT_INLINE double normal_cdf(double x) { return 0.5 * (1.0 + erf(x * 0.7071067811865476)); }

// The value of element i of a fill with parameters p (words offset+2i, offset+2i+1).
NAT_HOST_DEVICE NAT_INLINE double random_element(const RandomParams& p, int64_t i) {
  uint64_t w = p.offset + 2 * static_cast<uint64_t>(i);
  uint32_t w0 = philox_word(p.seed, w), w1 = philox_word(p.seed, w + 1);
  switch (p.kind) {
    case RandomKind::uniform:
      return mul_add_unfused(p.a, p.b - p.a, uniform53(w0, w1));
    case RandomKind::bernoulli:
      return uniform53(w0, w1) < p.a ? 1.0 : 0.0;
    case RandomKind::normal: {
      // Box-Muller: u1 in (0, 1] so the log is finite.
      double u1 = (static_cast<double>(w0) + 1.0) * (1.0 / 4294967296.0);
      double u2 = static_cast<double>(w1) * (1.0 / 4294967296.0);
      return mul_add_unfused(p.a, p.b * sqrt(-2.0 * log(u1)), cos(6.283185307179586 * u2));
    }
    case RandomKind::trunc_normal: {
      // Inverse-CDF sampling inside [lo, hi] (timm's trunc_normal_ method), then clamp.
      double l = normal_cdf((p.lo - p.a) / p.b), h = normal_cdf((p.hi - p.a) / p.b);
      double u = mul_add_unfused(l, h - l, uniform53(w0, w1));
      double v = mul_add_unfused(p.a, p.b * 1.4142135623730951, nat_erfinv(2.0 * u - 1.0));
      return v < p.lo ? p.lo : (v > p.hi ? p.hi : v);
    }
  }
  return 0.0;
}

// Stores element i of a fill as `type`. A uniform draw just below b can round up to b in the output
// type (1 - 2^-9 is 1.0 in bf16, 1 - 2^-25 is 1.0f); it is folded back to a so the range stays [a, b).
NAT_HOST_DEVICE NAT_INLINE void store_random_element(void* dst, DType type, int64_t i, const RandomParams& p) {
  store_from_double(dst, type, i, random_element(p, i));
  if (p.kind == RandomKind::uniform && p.a < p.b && load_as_double(dst, type, i) >= p.b)
    store_from_double(dst, type, i, p.a);
}

}  // namespace nat
