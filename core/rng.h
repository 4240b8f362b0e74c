// Counter-based random numbers. A Generator is just (seed, offset): each fill of n elements takes
// words [offset, offset + 2n) of the Philox stream keyed by seed and advances the offset, so
// - the same (seed, offset) gives the same numbers on the CPU and on CUDA, whatever the thread count;
// - saving (seed, offset) is a complete checkpoint of the generator;
// - independent streams (per data-loader sample, per dropout call) are derived with derive_seed().
#pragma once

#include <cstdint>
#include <mutex>

#include "core/tensor.h"

namespace nat {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset);
  // Reserves `words` words of the stream and returns the first one's offset.
  uint64_t advance(uint64_t words);

 private:
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
  std::mutex mu_;
};

Generator& default_generator();
void manual_seed(uint64_t seed);  // resets the default generator to (seed, 0)

// A well-mixed seed for a sub-stream, e.g. derive_seed(seed, epoch, sample_index).
uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0);

// In-place fills of floating tensors (bernoulli: any dtype). `gen` defaults to the default generator.
Tensor& uniform_(Tensor& t, double lo = 0.0, double hi = 1.0, Generator* gen = nullptr);
Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0, Generator* gen = nullptr);
// Normal(mean, std) restricted to the absolute interval [lo, hi] (timm's trunc_normal_).
Tensor& trunc_normal_(Tensor& t, double mean = 0.0, double std = 1.0, double lo = -2.0, double hi = 2.0,
                      Generator* gen = nullptr);
Tensor& bernoulli_(Tensor& t, double p, Generator* gen = nullptr);

Tensor rand(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu(), Generator* gen = nullptr);
Tensor randn(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu(), Generator* gen = nullptr);

}  // namespace nat
