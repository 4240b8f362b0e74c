// Element loads and stores by runtime dtype, shared by the CPU and CUDA cast/fill kernels.
// Floats travel as double, integers as int64; float -> int saturates and maps NaN to 0
// (C++ leaves those cases undefined), int -> u8 wraps modulo 256 as NumPy and PyTorch do.
#pragma once

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

NAT_HOST_DEVICE NAT_INLINE int64_t saturate_to_int64(double v, double lo, double hi) {
  if (!(v == v)) return 0;  // NaN
  if (v <= lo) return static_cast<int64_t>(lo);
  if (v >= hi) return static_cast<int64_t>(hi);
  return static_cast<int64_t>(v);
}

NAT_HOST_DEVICE NAT_INLINE void store_from_double(void* p, DType t, int64_t i, double v) {
  switch (t) {
    case DType::f32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
    case DType::f64: static_cast<double*>(p)[i] = v; break;
    case DType::bf16: static_cast<uint16_t*>(p)[i] = f32_to_bf16_bits(static_cast<float>(v)); break;
    case DType::f16: static_cast<uint16_t*>(p)[i] = f32_to_f16_bits(static_cast<float>(v)); break;
    case DType::i32:
      static_cast<int32_t*>(p)[i] = static_cast<int32_t>(saturate_to_int64(v, -2147483648.0, 2147483647.0));
      break;
    case DType::i64:
      // 2^63 is not representable as int64; clamp just below it.
      static_cast<int64_t*>(p)[i] = saturate_to_int64(v, -9223372036854775808.0, 9223372036854774784.0);
      break;
    case DType::u8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(saturate_to_int64(v, 0.0, 255.0)); break;
  }
}

NAT_HOST_DEVICE NAT_INLINE void store_from_int64(void* p, DType t, int64_t i, int64_t v) {
  switch (t) {
    case DType::i32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(static_cast<uint32_t>(v)); break;
    case DType::i64: static_cast<int64_t*>(p)[i] = v; break;
    case DType::u8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(static_cast<uint64_t>(v) & 0xffu); break;
    default: store_from_double(p, t, i, static_cast<double>(v)); break;
  }
}

// Element i of a cast from `st` to `dt`.
NAT_HOST_DEVICE NAT_INLINE void cast_element(void* dst, DType dt, const void* src, DType st, int64_t i) {
  bool src_int = st == DType::i32 || st == DType::i64 || st == DType::u8;
  bool dst_int = dt == DType::i32 || dt == DType::i64 || dt == DType::u8;
  if (src_int && dst_int)
    store_from_int64(dst, dt, i, load_as_int64(src, st, i));
  else if (st == DType::f32 && (dt == DType::bf16 || dt == DType::f16))
    store_from_double(dst, dt, i, static_cast<const float*>(src)[i]);  // single rounding from f32
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
