// The per-element decisions of dropout and drop_path, shared by the CPU and CUDA kernels
// (NAT_HOST_DEVICE) so both backends draw the same masks from the same Philox stream.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/macros.h"
#include "core/random_math.h"

namespace nat {

// Dropout keeps element i when its draw is below keep_prob: bernoulli_(keep_prob) at the same
// (seed, offset) produces exactly this mask.
NAT_HOST_DEVICE NAT_INLINE bool dropout_keeps(uint64_t seed, uint64_t offset, int64_t i, double keep_prob) {
  RandomParams p;
  p.kind = RandomKind::bernoulli;
  p.a = keep_prob;
  p.seed = seed;
  p.offset = offset;
  return random_element(p, i) != 0.0;
}

// drop_path's multiplier for sample b: floor(keep_prob + u_b) / keep_prob (0 or 1 / keep_prob), with
// u_b the uniform draw b of the stream, exactly as timm; 0 when keep_prob is 0.
NAT_HOST_DEVICE NAT_INLINE double drop_path_scale(uint64_t seed, uint64_t offset, int64_t b, double keep_prob) {
  RandomParams p;
  p.kind = RandomKind::uniform;
  p.seed = seed;
  p.offset = offset;
  const double mask = floor(keep_prob + random_element(p, b));
  return keep_prob > 0.0 ? mask / keep_prob : 0.0;
}

}  // namespace nat
