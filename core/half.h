// bf16 and f16 storage types with round-to-nearest-even conversion from f32.
// The conversions are plain bit manipulation marked NAT_HOST_DEVICE, so the CPU and CUDA
// backends round identically. NaN stays NaN (quiet, sign kept); overflow goes to +-inf.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/macros.h"

namespace nat {

NAT_HOST_DEVICE NAT_INLINE uint32_t f32_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}

NAT_HOST_DEVICE NAT_INLINE float bits_f32(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

// f32 -> bf16 bits, round to nearest, ties to even.
NAT_HOST_DEVICE NAT_INLINE uint16_t f32_to_bf16_bits(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
  uint32_t rounding_bias = 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>((u + rounding_bias) >> 16);
}

NAT_HOST_DEVICE NAT_INLINE float bf16_bits_to_f32(uint16_t h) { return bits_f32(static_cast<uint32_t>(h) << 16); }

// f32 -> IEEE binary16 bits, round to nearest, ties to even (subnormals included).
NAT_HOST_DEVICE NAT_INLINE uint16_t f32_to_f16_bits(float f) {
  uint32_t u = f32_bits(f);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));  // NaN
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {  // below the smallest f16 normal (2^-14): subnormal or zero
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);  // < 2^-25 rounds to zero
    uint32_t exp = abs >> 23;                 // 102..112
    uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - exp;               // bring to units of 2^-24
    uint32_t result = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (result & 1u))) ++result;
    return static_cast<uint16_t>(sign | result);
  }
  uint32_t r = abs - 0x38000000u;  // rebias exponent 127 -> 15, still with 23 mantissa bits
  uint32_t result = r >> 13;
  uint32_t rem = r & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (result & 1u))) ++result;  // may carry into the exponent: correct
  return static_cast<uint16_t>(sign | result);
}

NAT_HOST_DEVICE NAT_INLINE float f16_bits_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13));  // inf / NaN
  if (exp == 0) {
    if (mant == 0) return bits_f32(sign);
    // subnormal: value = mant * 2^-24, exact in f32
    float v = static_cast<float>(mant) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

// Storage types: 16 bits, explicit conversions only (no silent arithmetic in half precision).
struct bf16 {
  uint16_t bits = 0;
  bf16() = default;
  NAT_HOST_DEVICE explicit bf16(float f) : bits(f32_to_bf16_bits(f)) {}
  NAT_HOST_DEVICE explicit operator float() const { return bf16_bits_to_f32(bits); }
  NAT_HOST_DEVICE static bf16 from_bits(uint16_t b) { bf16 r; r.bits = b; return r; }
};

struct f16 {
  uint16_t bits = 0;
  f16() = default;
  NAT_HOST_DEVICE explicit f16(float f) : bits(f32_to_f16_bits(f)) {}
  NAT_HOST_DEVICE explicit operator float() const { return f16_bits_to_f32(bits); }
  NAT_HOST_DEVICE static f16 from_bits(uint16_t b) { f16 r; r.bits = b; return r; }
};

static_assert(sizeof(bf16) == 2 && sizeof(f16) == 2);

}  // namespace nat
