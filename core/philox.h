// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a counter-based
// generator, so word w of the stream keyed by `seed` is a pure function of (seed, w). The CPU and CUDA
// backends call the same code, which is what makes their streams identical.
// Word w lives in block w/4 (the 128-bit counter, high 64 bits zero), lane w%4.
#pragma once

#include <cstdint>

#include "core/macros.h"

namespace nat {

struct PhiloxOut {
  uint32_t v[4];
};

NAT_HOST_DEVICE NAT_INLINE void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// The raw generator: 10 rounds on a 4x32 counter with a 2x32 key.
NAT_HOST_DEVICE NAT_INLINE PhiloxOut philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                                                   uint32_t k1) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(M0, c0, hi0, lo0);
    philox_mulhilo(M1, c2, hi1, lo1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += W0;
    k1 += W1;
  }
  return {{c0, c1, c2, c3}};
}

// The four words of block `block` of the stream keyed by `seed`.
NAT_HOST_DEVICE NAT_INLINE PhiloxOut philox_block(uint64_t seed, uint64_t block) {
  return philox4x32_10(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0u, 0u,
                       static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

NAT_HOST_DEVICE NAT_INLINE uint32_t philox_word(uint64_t seed, uint64_t w) { return philox_block(seed, w >> 2).v[w & 3]; }

}  // namespace nat
