// SampleRng draws, on top of core's Philox element math (core/random_math.h).
#include "data/sample_rng.h"

#include <algorithm>
#include <cmath>

#include "core/random_math.h"

namespace nat::data {

double SampleRng::uniform() {
  uint64_t o = gen_.advance(2);
  return uniform53(philox_word(gen_.seed(), o), philox_word(gen_.seed(), o + 1));
}

double SampleRng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

int64_t SampleRng::randint(int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  auto span = static_cast<double>(hi - lo + 1);
  auto v = lo + static_cast<int64_t>(std::floor(uniform() * span));
  return v > hi ? hi : v;
}

double SampleRng::normal(double mean, double std) {
  RandomParams p;
  p.kind = RandomKind::normal;
  p.a = mean;
  p.b = std;
  p.seed = gen_.seed();
  p.offset = gen_.advance(2);
  return random_element(p, 0);
}

double SampleRng::gamma(double alpha) {
  if (alpha <= 0) return 0.0;
  if (alpha < 1.0) {
    // Gamma(a) = Gamma(a + 1) * U^(1/a)
    double u = uniform();
    return gamma(alpha + 1.0) * std::pow(1.0 - u, 1.0 / alpha);
  }
  const double d = alpha - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = normal(), v = 1.0 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    double u = 1.0 - uniform();  // (0, 1]
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

double SampleRng::beta(double a, double b) {
  double x = gamma(a), y = gamma(b);
  return x + y > 0 ? x / (x + y) : 0.5;
}

void SampleRng::fill_normal(float* out, int64_t n) {
  if (n <= 0) return;
  // Box-Muller in float on whole Philox blocks: each block's two word pairs give four normals (the cos
  // and sin branches). Two spare words are reserved so the blocks can start block-aligned.
  const uint64_t blocks = (static_cast<uint64_t>(n) + 3) / 4;
  const uint64_t first = (gen_.advance(4 * blocks + 2) + 3) / 4;
  const float two_pi = 6.2831853071795864769f, inv32 = 1.0f / 4294967296.0f;
  for (uint64_t b = 0; b < blocks; ++b) {
    PhiloxOut w = philox_block(gen_.seed(), first + b);
    float v[4];
    for (int p = 0; p < 2; ++p) {
      float u1 = (static_cast<float>(w.v[2 * p]) + 1.0f) * inv32;  // (0, 1]: finite log
      float u2 = static_cast<float>(w.v[2 * p + 1]) * inv32;
      float r = std::sqrt(-2.0f * std::log(std::min(u1, 1.0f)));
      v[2 * p] = r * std::cos(two_pi * u2);
      v[2 * p + 1] = r * std::sin(two_pi * u2);
    }
    const uint64_t i0 = 4 * b;
    for (uint64_t k = 0; k < 4 && i0 + k < static_cast<uint64_t>(n); ++k) out[i0 + k] = v[k];
  }
}

uint64_t stream_seed(uint64_t seed, SeedTag tag, uint64_t a, uint64_t b, uint64_t c) {
  return derive_seed(derive_seed(seed, static_cast<uint64_t>(tag)), a, b, c);
}

}  // namespace nat::data
