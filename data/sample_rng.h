// SampleRng: scalar draws for the data pipeline from a nat::Generator (core/rng.h), i.e. the same
// counter-based Philox stream, so a sample's augmentation is a pure function of its key:
//   SampleRng rng(stream_seed(seed, SeedTag::sample, epoch, position));  // the loader's per-sample key
// Each scalar draw takes two words of the stream (like one element of nat::uniform_/normal_);
// fill_normal() is the bulk path (random erasing's noise): float Box-Muller, four values per block.
#pragma once

#include <cstdint>

#include "core/rng.h"

namespace nat::data {

class SampleRng {
 public:
  explicit SampleRng(uint64_t seed) : gen_(seed) {}
  SampleRng(const SampleRng&) = delete;
  SampleRng& operator=(const SampleRng&) = delete;

  double uniform();                         // [0, 1)
  double uniform(double lo, double hi);     // [lo, hi)
  int64_t randint(int64_t lo, int64_t hi);  // lo..hi inclusive (Python's random.randint)
  bool bernoulli(double p) { return uniform() < p; }
  double normal(double mean = 0.0, double std = 1.0);
  double gamma(double alpha);               // Gamma(alpha, 1), Marsaglia-Tsang
  double beta(double a, double b);          // via two gammas, as NumPy does
  void fill_normal(float* out, int64_t n);  // n N(0, 1) floats (fast; not the values nat::normal_ gives)

  const Generator& generator() const { return gen_; }

 private:
  Generator gen_;
};

// Stream keys: each kind of randomness has its own tag, so no two kinds share a stream.
enum class SeedTag : uint64_t {
  shuffle = 0x5348554646ull,
  sample = 0x53414d504cull,
  mixup = 0x4d49585550ull,
  erase = 0x4552415345ull,
};

// derive_seed(derive_seed(seed, tag), a, b, c): the per-(epoch, position) or per-(epoch, batch, rank) key.
uint64_t stream_seed(uint64_t seed, SeedTag tag, uint64_t a, uint64_t b = 0, uint64_t c = 0);

}  // namespace nat::data
