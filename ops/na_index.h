// Neighborhood Attention index rules, per axis (docs/na.md §2–§4, §7).
// These are the only definitions of windows, rpb offsets and inverse neighbourhoods in nat.cpp:
// the CPU and CUDA kernels and the `nat explain na` drawings all call them.
//
// An axis of length L is split by dilation d into d residue classes (i mod d); class r has
// L_r = ceil((L - r) / d) members. Inside its class, query i' = i / d attends the k consecutive
// class members starting at s'(i') = clamp(i' - k/2, 0, L_r - k): border windows shift inward,
// never pad or mask. Requires L >= k * d, so every class has at least k members.
#pragma once

#include <cstdint>

#include "core/macros.h"

namespace nat {

NAT_HOST_DEVICE NAT_INLINE int64_t na_class_len(int64_t L, int64_t d, int64_t r) { return (L - r + d - 1) / d; }

// Index (along the axis) of the first key of query i's window; key t is start + t * d.
NAT_HOST_DEVICE NAT_INLINE int64_t na_window_start(int64_t i, int64_t L, int64_t k, int64_t d) {
  int64_t r = i % d, ip = i / d, Lr = na_class_len(L, d, r);
  int64_t s = ip - k / 2;
  s = s < 0 ? 0 : s;
  s = s > Lr - k ? Lr - k : s;
  return r + d * s;
}

// rpb index of query i's first key: (k - 1) + (key - query) / d for t = 0. Range [0, 2k - 2].
NAT_HOST_DEVICE NAT_INLINE int64_t na_pb_start(int64_t i, int64_t L, int64_t k, int64_t d) {
  return (k - 1) + (na_window_start(i, L, k, d) - i) / d;
}

// The queries whose windows contain key j: first, first + d, ..., first + (count - 1) * d.
// Key j sits in slot (j - na_window_start(query)) / d of each of them.
NAT_HOST_DEVICE NAT_INLINE void na_inverse_range(int64_t j, int64_t L, int64_t k, int64_t d, int64_t& first,
                                                 int64_t& count) {
  int64_t r = j % d, jp = j / d, Lr = na_class_len(L, d, r), ns = k / 2;
  int64_t lo = jp < k ? 0 : jp - ns;
  int64_t hi = jp >= Lr - k ? Lr - 1 : jp + ns;
  first = r + d * lo;
  count = hi - lo + 1;
}

}  // namespace nat
