// bf16/f16 conversions and dtype casts against independent references: each half format's values
// are decoded from the IEEE definition with ldexp, and "round to nearest, ties to even" is a search
// for the nearest representable value in double, not the bit tricks of core/half.h. Casts between all
// seven dtypes follow the documented rules (saturating float -> int, NaN -> 0, wrapping int -> int).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/half.h"
#include "core/tensor.h"
#include "support/expect_error.h"

namespace nat {
namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// A 16-bit float format: `mant_bits` stored mantissa bits, the rest exponent, IEEE layout.
struct HalfFormat {
  int mant_bits;  // 10 for f16, 7 for bf16
  int bias;       // 15 for f16, 127 for bf16
  uint16_t inf_code() const { return static_cast<uint16_t>(((1 << (15 - mant_bits)) - 1) << mant_bits); }

  // The value of a bit pattern from the format's definition.
  double value(uint16_t h) const {
    int e = (h & 0x7fff) >> mant_bits, m = h & ((1 << mant_bits) - 1);
    double mag;
    if ((h & 0x7fff) >= inf_code())
      mag = m ? NAN : INFINITY;
    else if (e == 0)
      mag = std::ldexp(m, 1 - bias - mant_bits);
    else
      mag = std::ldexp((1 << mant_bits) + m, e - bias - mant_bits);
    return (h & 0x8000) ? -mag : mag;
  }

  // Magnitudes of codes 0 .. inf_code; the last entry is the first power of two past the largest finite
  // value (the value the code would have with an unbounded exponent), so ties into it go to infinity.
  std::vector<double> magnitudes() const {
    std::vector<double> m(inf_code() + 1);
    for (uint16_t h = 0; h < inf_code(); ++h) m[h] = value(h);
    m[inf_code()] = std::ldexp(1.0, (1 << (15 - mant_bits)) - 1 - bias);  // 2^16 for f16, 2^128 for bf16
    return m;
  }

  // Nearest code to x (not NaN), ties to the even code.
  uint16_t round(double x, const std::vector<double>& mags) const {
    uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    double a = std::fabs(x);
    if (a >= mags.back()) return sign | inf_code();
    // lo: the largest code whose magnitude is <= a.
    size_t lo = std::upper_bound(mags.begin(), mags.end(), a) - mags.begin() - 1;
    if (mags[lo] == a) return static_cast<uint16_t>(sign | lo);
    double mid = (mags[lo] + mags[lo + 1]) / 2;  // exact: both have few significant bits
    size_t pick = a < mid ? lo : a > mid ? lo + 1 : (lo % 2 == 0 ? lo : lo + 1);
    return static_cast<uint16_t>(sign | pick);
  }
};

const HalfFormat kF16{10, 15};
const HalfFormat kBF16{7, 127};

const std::vector<double>& f16_mags() {
  static const std::vector<double> m = kF16.magnitudes();
  return m;
}
const std::vector<double>& bf16_mags() {
  static const std::vector<double> m = kBF16.magnitudes();
  return m;
}

TEST(CoreDTypeHalf, ReferenceTablesHaveTheKnownExtremes) {
  // Guards the reference itself.
  EXPECT_EQ(kF16.value(0x7bff), 65504.0);
  EXPECT_EQ(kF16.value(0x0001), std::ldexp(1.0, -24));
  EXPECT_EQ(kF16.value(0x0400), std::ldexp(1.0, -14));
  EXPECT_EQ(kF16.value(0x3c00), 1.0);
  EXPECT_EQ(kF16.value(0xc000), -2.0);
  EXPECT_EQ(f16_mags().back(), 65536.0);
  EXPECT_EQ(kBF16.value(0x3f80), 1.0);
  EXPECT_EQ(kBF16.value(0x7f7f), std::ldexp(255.0, 120));
  EXPECT_EQ(kBF16.value(0x0001), std::ldexp(1.0, -133));
  EXPECT_EQ(bf16_mags().back(), std::ldexp(1.0, 128));
  for (size_t i = 1; i < f16_mags().size(); ++i) ASSERT_LT(f16_mags()[i - 1], f16_mags()[i]);
  for (size_t i = 1; i < bf16_mags().size(); ++i) ASSERT_LT(bf16_mags()[i - 1], bf16_mags()[i]);
}

// ---------------------------------------------------------------- f16

TEST(CoreDTypeHalf, F16DecodesEveryBitPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float got = f16_bits_to_f32(static_cast<uint16_t>(h));
    double want = kF16.value(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << h;
      // Sign and payload are kept: the 10 payload bits land at the top of the f32 mantissa.
      ASSERT_EQ(bits_of(got), ((h & 0x8000u) << 16) | 0x7f800000u | ((h & 0x3ffu) << 13)) << std::hex << h;
    } else {
      ASSERT_EQ(static_cast<double>(got), want) << std::hex << h;
      ASSERT_EQ(std::signbit(got), std::signbit(want)) << std::hex << h;
    }
  }
}

TEST(CoreDTypeHalf, F16RoundTripsEveryBitPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    uint16_t back = f32_to_f16_bits(f16_bits_to_f32(static_cast<uint16_t>(h)));
    bool nan = (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu);
    if (nan) {
      ASSERT_EQ(back & 0x7c00u, 0x7c00u) << std::hex << h;
      ASSERT_NE(back & 0x200u, 0u) << "NaN must come back quiet, h=" << std::hex << h;
      ASSERT_EQ(back & 0x8000u, h & 0x8000u) << std::hex << h;
      ASSERT_EQ(back & 0x1ffu, h & 0x1ffu) << "payload kept, h=" << std::hex << h;
    } else {
      ASSERT_EQ(back, h) << std::hex << h;
    }
  }
}

// Every f32 that sits on or next to a rounding boundary of f16: each representable value, each
// half-way point between neighbours, and the f32s one and two ulps either side of those.
std::vector<float> boundary_floats(const std::vector<double>& mags) {
  std::vector<float> xs;
  for (size_t h = 0; h + 1 < mags.size(); ++h) {
    for (double base : {mags[h], (mags[h] + mags[h + 1]) / 2}) {
      float f = static_cast<float>(base);
      if (static_cast<double>(f) != base) continue;  // not an f32 (cannot happen for f16 and bf16)
      float lo = f, hi = f;
      xs.push_back(f);
      for (int k = 0; k < 2; ++k) {
        lo = std::nextafter(lo, -INFINITY);
        hi = std::nextafter(hi, INFINITY);
        xs.push_back(lo);
        xs.push_back(hi);
      }
    }
  }
  return xs;
}

TEST(CoreDTypeHalf, F32ToF16RoundsToNearestEvenAtEveryBoundary) {
  std::vector<float> xs = boundary_floats(f16_mags());
  ASSERT_GT(xs.size(), 300000u);
  for (float x : xs) {
    for (float s : {x, -x}) {
      uint16_t want = kF16.round(s, f16_mags());
      ASSERT_EQ(f32_to_f16_bits(s), want) << std::hexfloat << s;
    }
  }
}

TEST(CoreDTypeHalf, F32ToF16MatchesReferenceOnRandomAndStridedBits) {
  std::mt19937 rng(1234);
  std::vector<uint32_t> patterns;
  for (uint64_t b = 0; b < (1ull << 32); b += 65521) patterns.push_back(static_cast<uint32_t>(b));
  for (int i = 0; i < 300000; ++i) patterns.push_back(rng());
  // Concentrate on the exponents f16 can represent, where rounding is non-trivial.
  for (int i = 0; i < 300000; ++i) patterns.push_back((rng() & 0x80ffffffu) | ((100u + rng() % 45u) << 23));
  for (uint32_t u : patterns) {
    float x = float_of(u);
    uint16_t got = f32_to_f16_bits(x);
    if (std::isnan(x)) {
      ASSERT_EQ(got & 0x7e00u, 0x7e00u) << std::hex << u;
      ASSERT_EQ(got & 0x8000u, (u >> 16) & 0x8000u) << std::hex << u;
    } else {
      ASSERT_EQ(got, kF16.round(x, f16_mags())) << std::hex << u << " = " << std::hexfloat << x;
    }
  }
}

TEST(CoreDTypeHalf, F16SpecialValues) {
  EXPECT_EQ(f32_to_f16_bits(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16_bits(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  EXPECT_EQ(f32_to_f16_bits(65520.0f), 0x7c00);  // the tie goes to the even "2^16", i.e. inf
  EXPECT_EQ(f32_to_f16_bits(-65520.0f), 0xfc00);
  EXPECT_EQ(f32_to_f16_bits(1e30f), 0x7c00);
  EXPECT_EQ(f32_to_f16_bits(INFINITY), 0x7c00);
  EXPECT_EQ(f32_to_f16_bits(-INFINITY), 0xfc00);
  EXPECT_EQ(f32_to_f16_bits(0.0f), 0x0000);
  EXPECT_EQ(f32_to_f16_bits(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(1.0f, -24)), 0x0001);   // smallest subnormal
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(1.0f, -25)), 0x0000);   // tie between 0 and 2^-24: even
  EXPECT_EQ(f32_to_f16_bits(-std::ldexp(1.0f, -25)), 0x8000);  // ... keeping the sign
  EXPECT_EQ(f32_to_f16_bits(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(3.0f, -25)), 0x0002);         // 1.5 * 2^-24: tie to even 2
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(5.0f, -25)), 0x0002);         // 2.5 * 2^-24: tie to even 2
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(1023.5f, -24)), 0x0400);      // rounds up into the normals
  EXPECT_EQ(f32_to_f16_bits(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie, 1.0 is even
  EXPECT_EQ(f32_to_f16_bits(1.0f + std::ldexp(3.0f, -11)), 0x3c02);  // tie, 1 + 2^-9 is even
  EXPECT_EQ(f32_to_f16_bits(float_of(0x7fc00000u)), 0x7e00);
  EXPECT_EQ(f32_to_f16_bits(float_of(0xffc00000u)), 0xfe00);
  uint16_t snan = f32_to_f16_bits(float_of(0x7f800001u));  // payload only in the low bits: stays NaN
  EXPECT_EQ(snan & 0x7c00u, 0x7c00u);
  EXPECT_NE(snan & 0x3ffu, 0u);
  EXPECT_TRUE(std::isnan(static_cast<float>(f16(NAN))));
  EXPECT_EQ(static_cast<float>(f16(0.333333f)), static_cast<float>(kF16.value(0x3555)));
}

// ---------------------------------------------------------------- bf16

TEST(CoreDTypeHalf, BF16DecodesEveryBitPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float got = bf16_bits_to_f32(static_cast<uint16_t>(h));
    EXPECT_EQ(bits_of(got), h << 16);  // bf16 is the top half of an f32, NaN payloads included
    double want = kBF16.value(static_cast<uint16_t>(h));
    if (std::isnan(want))
      ASSERT_TRUE(std::isnan(got)) << std::hex << h;
    else
      ASSERT_EQ(static_cast<double>(got), want) << std::hex << h;
  }
}

TEST(CoreDTypeHalf, BF16RoundTripsEveryBitPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    uint16_t back = f32_to_bf16_bits(bf16_bits_to_f32(static_cast<uint16_t>(h)));
    bool nan = (h & 0x7f80u) == 0x7f80u && (h & 0x7fu);
    if (nan) {
      ASSERT_EQ(back, h | 0x40u) << "NaN comes back quiet with sign and payload, h=" << std::hex << h;
    } else {
      ASSERT_EQ(back, h) << std::hex << h;
    }
  }
}

TEST(CoreDTypeHalf, F32ToBF16RoundsToNearestEvenAtEveryBoundary) {
  std::vector<float> xs = boundary_floats(bf16_mags());
  // Halfway points beyond FLT_MAX are skipped (not f32); add the values around the overflow edge.
  xs.push_back(std::numeric_limits<float>::max());
  xs.push_back(float_of(0x7f7f7fffu));
  xs.push_back(float_of(0x7f7f8000u));
  ASSERT_GT(xs.size(), 300000u);
  for (float x : xs) {
    for (float s : {x, -x}) ASSERT_EQ(f32_to_bf16_bits(s), kBF16.round(s, bf16_mags())) << std::hexfloat << s;
  }
}

TEST(CoreDTypeHalf, F32ToBF16MatchesReferenceOnRandomAndStridedBits) {
  std::mt19937 rng(99);
  std::vector<uint32_t> patterns;
  for (uint64_t b = 0; b < (1ull << 32); b += 65521) patterns.push_back(static_cast<uint32_t>(b));
  for (int i = 0; i < 300000; ++i) patterns.push_back(rng());
  for (int i = 0; i < 100000; ++i) patterns.push_back(rng() & 0x807fffffu);  // subnormals
  for (uint32_t u : patterns) {
    float x = float_of(u);
    uint16_t got = f32_to_bf16_bits(x);
    if (std::isnan(x)) {
      ASSERT_EQ(got, ((u >> 16) | 0x40u) & 0xffffu) << std::hex << u;
    } else {
      ASSERT_EQ(got, kBF16.round(x, bf16_mags())) << std::hex << u << " = " << std::hexfloat << x;
    }
  }
}

TEST(CoreDTypeHalf, BF16SpecialValues) {
  EXPECT_EQ(f32_to_bf16_bits(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16_bits(float_of(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(f32_to_bf16_bits(float_of(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(f32_to_bf16_bits(float_of(0x3f808001u)), 0x3f81);
  EXPECT_EQ(f32_to_bf16_bits(std::numeric_limits<float>::max()), 0x7f80);  // rounds past the largest bf16
  EXPECT_EQ(f32_to_bf16_bits(float_of(0x7f7f7fffu)), 0x7f7f);
  EXPECT_EQ(f32_to_bf16_bits(-INFINITY), 0xff80);
  EXPECT_EQ(f32_to_bf16_bits(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_bf16_bits(float_of(0x00008000u)), 0x0000);  // subnormal tie to even zero
  EXPECT_EQ(f32_to_bf16_bits(float_of(0x00018000u)), 0x0002);
  EXPECT_EQ(f32_to_bf16_bits(float_of(0x7fc00000u)), 0x7fc0);
  EXPECT_EQ(f32_to_bf16_bits(float_of(0xff800001u)), 0xffc0);             // signalling -NaN: quiet, sign kept
  EXPECT_EQ(f32_to_bf16_bits(float_of(0x7f800001u)) & 0x7fffu, 0x7fc0u);  // never rounds to inf
}

// ---------------------------------------------------------------- casts between all dtypes

const DType kAll[] = {DType::f32, DType::f64, DType::bf16, DType::f16, DType::i32, DType::i64, DType::u8};

// Rounds an integer to `p` significant bits, ties to even, exactly (integer arithmetic).
double round_int_to_bits(int64_t v, int p) {
  uint64_t mag = v < 0 ? 0ull - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  int len = 0;
  while (len < 64 && (mag >> len)) ++len;
  if (len > p) {
    int drop = len - p;
    uint64_t q = mag >> drop, rem = mag & ((1ull << drop) - 1), half = 1ull << (drop - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    double r = std::ldexp(static_cast<double>(q), drop);
    return v < 0 ? -r : r;
  }
  return static_cast<double>(v);
}

// The expected value of a floating source value `v` (exact, as a double) converted to `dt`.
double expected_from_float(double v, DType dt) {
  switch (dt) {
    case DType::f64:
      return v;
    case DType::f32:
      return static_cast<float>(v);  // the C++ conversion rounds to nearest even
    case DType::bf16:
      return std::isnan(v) ? NAN : kBF16.value(kBF16.round(v, bf16_mags()));
    case DType::f16:
      return std::isnan(v) ? NAN : kF16.value(kF16.round(v, f16_mags()));
    default:
      break;
  }
  if (std::isnan(v)) return 0;
  double t = std::trunc(v);
  double lo = dt == DType::u8 ? 0 : dt == DType::i32 ? -2147483648.0 : -9223372036854775808.0;
  double hi = dt == DType::u8 ? 255 : dt == DType::i32 ? 2147483647.0 : 9223372036854775808.0;
  return std::clamp(t, lo, hi);  // hi for i64 stands for INT64_MAX, compared separately below
}

int64_t expected_int64_from_float(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9223372036854775808.0) return std::numeric_limits<int64_t>::max();
  if (v <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

// The expected value of an integer source value converted to `dt`.
double expected_from_int(int64_t v, DType dt) {
  switch (dt) {
    case DType::f64:
      return static_cast<double>(v);
    case DType::f32:
      return static_cast<double>(static_cast<float>(v));
    case DType::bf16:
      return round_int_to_bits(v, 8);
    case DType::f16: {
      double r = round_int_to_bits(v, 11);
      return std::fabs(r) >= 65536 ? std::copysign(INFINITY, r) : r;
    }
    case DType::i32:
      return static_cast<int32_t>(static_cast<uint32_t>(v));  // wraps
    case DType::u8:
      return static_cast<double>(static_cast<uint64_t>(v) & 0xff);
    case DType::i64:
      return static_cast<double>(v);
  }
  return 0;
}

// A tensor of dtype `t` holding exactly `vals` (which must be representable in t).
Tensor make_exact(const std::vector<double>& vals, DType t) {
  Tensor out = Tensor::empty({static_cast<int64_t>(vals.size())}, t);
  for (size_t i = 0; i < vals.size(); ++i) {
    double v = vals[i];
    switch (t) {
      case DType::f32:
        out.data<float>()[i] = static_cast<float>(v);
        break;
      case DType::f64:
        out.data<double>()[i] = v;
        break;
      case DType::bf16:
        out.data<bf16>()[i] = bf16::from_bits(std::isnan(v) ? 0x7fc0 : kBF16.round(v, bf16_mags()));
        break;
      case DType::f16:
        out.data<f16>()[i] = f16::from_bits(std::isnan(v) ? 0x7e00 : kF16.round(v, f16_mags()));
        break;
      default:
        ADD_FAILURE() << "make_exact is for floating types";
    }
  }
  return out;
}

// Floating source values: each is first rounded into the source type, so the test knows the exact input.
std::vector<double> float_sources(DType st) {
  std::vector<double> raw = {0.0,   -0.0,  1.0,   -1.0,  0.5,    1.5,       -1.5, 2.5,      -2.7,      127.0,   128.0,
                             255.0, 255.9, 256.0, 300.0, -129.0, 1.0 / 3.0, 1e-8, -6e-8,    65504.0,   65519.0, 65520.0,
                             1e10,  -1e10, 3e9,   -3e9,  9.3e18, -9.3e18,   1e30, INFINITY, -INFINITY, NAN};
  if (st == DType::f64) {
    // Just past a half-way point by less than half an f32 ulp: rounding through f32 first would tie
    // and round to even (down); the correct bf16 / f16 result rounds up.
    raw.push_back(1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30));
    raw.push_back(-(1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40)));
    raw.push_back(std::ldexp(1.0, -25) + std::ldexp(1.0, -60));  // just above half the smallest f16
    raw.push_back(9223372036854775807.0);                        // 2^63 as a double
    raw.push_back(1e300);
  }
  std::vector<double> out;
  out.reserve(raw.size());
  for (double v : raw) out.push_back(make_exact({v}, st).to_double_vector()[0]);
  return out;
}

std::vector<int64_t> int_sources(DType st) {
  std::vector<int64_t> raw = {0,
                              1,
                              -1,
                              127,
                              128,
                              255,
                              256,
                              257,
                              -129,
                              -256,
                              2049,
                              4097,
                              65519,
                              65520,
                              -70000,
                              2147483647,
                              -2147483647 - 1,
                              4294967297LL,
                              (1LL << 40) + 3,
                              -(1LL << 53) - 1,
                              (1LL << 62) + (1LL << 38) + 1,
                              (1LL << 60) + (1LL << 36) + 1,
                              std::numeric_limits<int64_t>::max(),
                              std::numeric_limits<int64_t>::min()};
  std::vector<int64_t> out;
  for (int64_t v : raw) {
    if (st == DType::u8 && (v < 0 || v > 255)) continue;
    if (st == DType::i32 && (v < INT32_MIN || v > INT32_MAX)) continue;
    out.push_back(v);
  }
  return out;
}

Tensor make_int(const std::vector<int64_t>& vals, DType t) {
  if (t == DType::i64) return Tensor::from_vector<int64_t>(vals, {static_cast<int64_t>(vals.size())});
  if (t == DType::i32)
    return Tensor::from_vector<int32_t>(std::vector<int32_t>(vals.begin(), vals.end()),
                                        {static_cast<int64_t>(vals.size())});
  return Tensor::from_vector<uint8_t>(std::vector<uint8_t>(vals.begin(), vals.end()),
                                      {static_cast<int64_t>(vals.size())});
}

void expect_same(double got, double want, const std::string& what) {
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << what << ": got " << got;
  } else {
    EXPECT_EQ(got, want) << what;
    EXPECT_EQ(std::signbit(got), std::signbit(want)) << what << " (sign of zero)";
  }
}

TEST(CoreDTypeCast, FloatingSourcesToEveryDType) {
  for (DType st : {DType::f32, DType::f64, DType::bf16, DType::f16}) {
    std::vector<double> src = float_sources(st);
    Tensor s = make_exact(src, st);
    for (DType dt : kAll) {
      Tensor d = s.to(dt);
      ASSERT_EQ(d.dtype(), dt);
      if (dt == DType::i64) {
        std::vector<int64_t> got = d.to_vector<int64_t>();
        for (size_t i = 0; i < src.size(); ++i)
          EXPECT_EQ(got[i], expected_int64_from_float(src[i])) << st << " " << src[i] << " -> i64";
        continue;
      }
      std::vector<double> got = d.to_double_vector();
      for (size_t i = 0; i < src.size(); ++i) {
        double want = expected_from_float(src[i], dt);
        if (is_integer(dt)) want += 0.0;  // integers have no -0
        expect_same(got[i], want, str(st, " ", std::hexfloat, src[i], " -> ", dt));
      }
    }
  }
}

TEST(CoreDTypeCast, IntegerSourcesToEveryDType) {
  for (DType st : {DType::i32, DType::i64, DType::u8}) {
    std::vector<int64_t> src = int_sources(st);
    Tensor s = make_int(src, st);
    for (DType dt : kAll) {
      Tensor d = s.to(dt);
      if (dt == DType::i64) {
        std::vector<int64_t> got = d.to_vector<int64_t>();
        for (size_t i = 0; i < src.size(); ++i) EXPECT_EQ(got[i], src[i]) << st << " -> i64";
        continue;
      }
      std::vector<double> got = d.to_double_vector();
      for (size_t i = 0; i < src.size(); ++i)
        EXPECT_EQ(got[i], expected_from_int(src[i], dt)) << st << " " << src[i] << " -> " << dt;
    }
  }
}

TEST(CoreDTypeCast, DocumentedExamples) {
  // Spot values of the rules, spelled out.
  Tensor f = Tensor::from_vector<float>({-1.7f, 2.9f, 300.0f, -5.0f, NAN, 3e9f, -INFINITY}, {7});
  EXPECT_EQ(f.to(DType::i32).to_vector<int32_t>(),
            (std::vector<int32_t>{-1, 2, 300, -5, 0, 2147483647, -2147483647 - 1}));
  EXPECT_EQ(f.to(DType::u8).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 2, 255, 0, 0, 255, 0}));
  Tensor i = Tensor::from_vector<int32_t>({-1, 256, 257, 511}, {4});
  EXPECT_EQ(i.to(DType::u8).to_vector<uint8_t>(), (std::vector<uint8_t>{255, 0, 1, 255}));
  Tensor big = Tensor::from_vector<int64_t>({(1LL << 32) + 5, -(1LL << 31) - 1}, {2});
  EXPECT_EQ(big.to(DType::i32).to_vector<int32_t>(), (std::vector<int32_t>{5, 2147483647}));
  Tensor huge = Tensor::from_vector<double>({1e19, -1e19, 9223372036854775807.0}, {3});
  EXPECT_EQ(huge.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{INT64_MAX, INT64_MIN, INT64_MAX}));
}

TEST(CoreDTypeCast, CastOfANonContiguousViewKeepsLogicalOrder) {
  Tensor a = Tensor::arange(6, DType::f64).view({2, 3}).transpose(0, 1);
  EXPECT_EQ(a.to(DType::i32).to_vector<int32_t>(), (std::vector<int32_t>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(a.to(DType::f64).impl_ptr(), a.impl_ptr());  // same dtype: no copy
}

TEST(CoreDTypeCast, TensorCastMatchesScalarConversionOnAllHalfPatterns) {
  // All 65536 patterns through the cast kernel (parallel above the OpenMP grain) and back.
  for (DType half : {DType::f16, DType::bf16}) {
    Tensor codes = Tensor::empty({65536}, half);
    auto* p = static_cast<uint16_t*>(codes.data_ptr());
    for (uint32_t h = 0; h < 65536; ++h) p[h] = static_cast<uint16_t>(h);
    Tensor wide = codes.to(DType::f32);
    const float* w = wide.data<float>();
    Tensor back = wide.to(half);
    const auto* b = static_cast<const uint16_t*>(back.data_ptr());
    for (uint32_t h = 0; h < 65536; ++h) {
      auto code = static_cast<uint16_t>(h);
      float want = half == DType::f16 ? f16_bits_to_f32(code) : bf16_bits_to_f32(code);
      if (std::isnan(want)) {
        // The kernel widens through double, which quiets NaNs and may drop payloads; NaN and sign stay.
        ASSERT_TRUE(std::isnan(w[h])) << half << " " << std::hex << h;
        ASSERT_EQ(std::signbit(w[h]), std::signbit(want)) << half << " " << std::hex << h;
        ASSERT_EQ(b[h] & 0x8000u, h & 0x8000u);
        ASSERT_TRUE(std::isnan(half == DType::f16 ? f16_bits_to_f32(b[h]) : bf16_bits_to_f32(b[h])));
        continue;
      }
      ASSERT_EQ(bits_of(w[h]), bits_of(want)) << half << " " << std::hex << h;
      ASSERT_EQ(b[h], code) << half << " " << std::hex << h;
    }
  }
}

TEST(CoreDTypeNames, NamesSizesAndParsing) {
  const char* names[] = {"f32", "f64", "bf16", "f16", "i32", "i64", "u8"};
  const size_t sizes[] = {4, 8, 2, 2, 4, 8, 1};
  for (int i = 0; i < kNumDTypes; ++i) {
    DType t = static_cast<DType>(i);
    EXPECT_STREQ(dtype_name(t), names[i]);
    EXPECT_EQ(dtype_size(t), sizes[i]);
    EXPECT_EQ(dtype_from_name(names[i]), t);
    EXPECT_EQ(is_floating(t), i < 4);
    EXPECT_EQ(is_integer(t), i >= 4);
  }
  EXPECT_EQ(dtype_from_name("bfloat16"), DType::bf16);
  EXPECT_EQ(dtype_from_name("half"), DType::f16);
  EXPECT_EQ(dtype_from_name("uint8"), DType::u8);
  NAT_EXPECT_ERROR(dtype_from_name("f8"), "unknown dtype 'f8'", "bf16");
  EXPECT_EQ(str(DType::bf16), "bf16");
}

}  // namespace
}  // namespace nat
