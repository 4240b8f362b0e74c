// A vectorisable exp for the CPU softmax loops (f32 only; f64 keeps std::exp).
// exp(x) = 2^n * e^r with n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2]; e^r by its
// degree-6 Taylor polynomial (truncation error r^7/7! < 1.3e-7 relative, about 1 ulp); 2^n built
// in the exponent bits. Plain arithmetic, so `#pragma omp simd` loops compile to vector code
// (std::expf calls would stay scalar without -ffast-math).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace nat::kernels::cpu {

inline float exp_vec(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;  // ln 2 split hi + lo
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
  int32_t e = (static_cast<int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(e);
}

inline double exp_vec(double x) { return std::exp(x); }

}  // namespace nat::kernels::cpu
