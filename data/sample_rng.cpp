// SampleRng draws, on top of core's Philox element math (core/random_math.h).
#include "data/sample_rng.h"

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
  RandomParams p;
  p.kind = RandomKind::normal;
  p.a = 0.0;
  p.b = 1.0;
  p.seed = gen_.seed();
  p.offset = gen_.advance(2 * static_cast<uint64_t>(n));
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(random_element(p, i));
}

uint64_t stream_seed(uint64_t seed, SeedTag tag, uint64_t a, uint64_t b, uint64_t c) {
  return derive_seed(derive_seed(seed, static_cast<uint64_t>(tag)), a, b, c);
}

}  // namespace nat::data
