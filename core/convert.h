// Element loads and stores by runtime dtype, shared by the CPU and CUDA cast/fill kernels.
// Floats travel as double, integers as int64; float -> int saturates and maps NaN to 0
// (C++ leaves those cases undefined), int -> u8 wraps modulo 256 as NumPy and PyTorch do.
// Every conversion to a floating type rounds once to nearest-even, as if from the exact value: the
// narrowing steps on the way (int64 -> double -> f32) round to odd, which cannot cause a double rounding.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/dtype.h"
#include "core/half.h"
#include "core/macros.h"

namespace nat {

NAT_HOST_DEVICE NAT_INLINE double load_as_double(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::f32: return static_cast<const float*>(p)[i];
    case DType::f64: return static_cast<const double*>(p)[i];
    case DType::bf16: return bf16_bits_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::f16: return f16_bits_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::i32: return static_cast<double>(static_cast<const int32_t*>(p)[i]);
    case DType::i64: return static_cast<double>(static_cast<const int64_t*>(p)[i]);
    case DType::u8: return static_cast<const uint8_t*>(p)[i];
  }
  return 0;
}

NAT_HOST_DEVICE NAT_INLINE int64_t load_as_int64(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::i32: return static_cast<const int32_t*>(p)[i];
    case DType::i64: return static_cast<const int64_t*>(p)[i];
    case DType::u8: return static_cast<const uint8_t*>(p)[i];
    default: return 0;  // not used for floating types
  }
}

// Truncates towards zero and clamps to [lo, hi]. For hi = INT64_MAX, double(hi) is 2^63, so every
// double below it converts without overflow and everything from 2^63 up saturates to INT64_MAX.
NAT_HOST_DEVICE NAT_INLINE int64_t saturate_to_int64(double v, int64_t lo, int64_t hi) {
  if (!(v == v)) return 0;  // NaN
  if (v <= static_cast<double>(lo)) return lo;
  if (v >= static_cast<double>(hi)) return hi;
  return static_cast<int64_t>(v);
}

// double -> f32 rounded to odd: the nearest f32 towards zero, with its last bit set when inexact.
// Rounding that to bf16/f16 (to nearest even) gives the correctly rounded value of the double;
// rounding the double to nearest first would misround values just past a half-way point.
NAT_HOST_DEVICE NAT_INLINE float f64_to_f32_round_odd(double v) {
  float f = static_cast<float>(v);
  if (static_cast<double>(f) == v || !(v == v)) return f;  // exact (infinities included) or NaN
  uint32_t b = f32_bits(f);
  if ((b & 1u) == 0) b = fabs(static_cast<double>(f)) > fabs(v) ? b - 1u : b + 1u;  // one step towards v
  return bits_f32(b);
}

// int64 -> double rounded to odd at a granularity of 2^11 (at least 43 significant bits, exact below
// 2^53), for a later single correct rounding to f32, bf16 or f16. int64 -> f64 itself uses a plain cast.
NAT_HOST_DEVICE NAT_INLINE double i64_to_f64_round_odd(int64_t x) {
  const int64_t exact = int64_t{1} << 53;
  if (x >= -exact && x <= exact) return static_cast<double>(x);
  uint64_t mag = x < 0 ? 0ull - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
  mag = (mag & ~0x7ffull) | ((mag & 0x7ffull) ? 0x800ull : 0ull);  // 53 significant bits at most: exact
  double d = static_cast<double>(mag);
  return x < 0 ? -d : d;
}

NAT_HOST_DEVICE NAT_INLINE void store_from_double(void* p, DType t, int64_t i, double v) {
  switch (t) {
    case DType::f32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
    case DType::f64: static_cast<double*>(p)[i] = v; break;
    case DType::bf16: static_cast<uint16_t*>(p)[i] = f32_to_bf16_bits(f64_to_f32_round_odd(v)); break;
    case DType::f16: static_cast<uint16_t*>(p)[i] = f32_to_f16_bits(f64_to_f32_round_odd(v)); break;
    case DType::i32:
      static_cast<int32_t*>(p)[i] = static_cast<int32_t>(saturate_to_int64(v, INT32_MIN, INT32_MAX));
      break;
    case DType::i64: static_cast<int64_t*>(p)[i] = saturate_to_int64(v, INT64_MIN, INT64_MAX); break;
    case DType::u8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(saturate_to_int64(v, 0, 255)); break;
  }
}

NAT_HOST_DEVICE NAT_INLINE void store_from_int64(void* p, DType t, int64_t i, int64_t v) {
  switch (t) {
    case DType::i32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(static_cast<uint32_t>(v)); break;
    case DType::i64: static_cast<int64_t*>(p)[i] = v; break;
    case DType::u8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(static_cast<uint64_t>(v) & 0xffu); break;
    case DType::f64: static_cast<double*>(p)[i] = static_cast<double>(v); break;
    default: store_from_double(p, t, i, i64_to_f64_round_odd(v)); break;
  }
}

// Element i of a cast from `st` to `dt`.
NAT_HOST_DEVICE NAT_INLINE void cast_element(void* dst, DType dt, const void* src, DType st, int64_t i) {
  if (st == DType::i32 || st == DType::i64 || st == DType::u8)
    store_from_int64(dst, dt, i, load_as_int64(src, st, i));
  else
    store_from_double(dst, dt, i, load_as_double(src, st, i));
}

// dst[i] += src[i] in the dtype's natural arithmetic (f32 for bf16/f16, int64 for integers).
NAT_HOST_DEVICE NAT_INLINE void accumulate_element(void* dst, const void* src, DType t, int64_t i) {
  if (t == DType::i32 || t == DType::i64 || t == DType::u8)
    store_from_int64(dst, t, i, load_as_int64(dst, t, i) + load_as_int64(src, t, i));
  else if (t == DType::f64)
    static_cast<double*>(dst)[i] += static_cast<const double*>(src)[i];
  else
    store_from_double(dst, t, i, static_cast<float>(load_as_double(dst, t, i)) + static_cast<float>(load_as_double(src, t, i)));
}

}  // namespace nat
