// Element types. f64 exists for gradient checks on the CPU; bf16/f16 are storage types whose
// arithmetic happens in f32. Integer types carry labels and indices; u8 carries images and masks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/half.h"

namespace nat {

enum class DType : uint8_t { f32, f64, bf16, f16, i32, i64, u8 };

constexpr int kNumDTypes = 7;

size_t dtype_size(DType t);
const char* dtype_name(DType t);       // "f32", "bf16", ...
DType dtype_from_name(const std::string& name);  // throws nat::Error for an unknown name
bool is_floating(DType t);
bool is_integer(DType t);

// C++ type <-> DType.
template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<bf16> { static constexpr DType value = DType::bf16; };
template <> struct dtype_of<f16> { static constexpr DType value = DType::f16; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::u8; };
template <typename T> inline constexpr DType dtype_v = dtype_of<T>::value;

// Calls f(T{}) with the C++ type of `t`, e.g. NAT_DISPATCH over all seven types.
template <typename F>
decltype(auto) dispatch_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    case DType::bf16: return f(bf16{});
    case DType::f16: return f(f16{});
    case DType::i32: return f(int32_t{});
    case DType::i64: return f(int64_t{});
    case DType::u8: return f(uint8_t{});
  }
  return f(float{});
}

std::ostream& operator<<(std::ostream& os, DType t);

}  // namespace nat
