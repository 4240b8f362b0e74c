// Lets GCC vectorise loops that call erf, erfc and exp. glibc's libmvec (2.35+) has SIMD variants of both, but
// <math.h> only announces them under -ffast-math; these redeclarations announce them without changing any
// other floating-point semantics (libmvec's erf and exp are within 4 ulp). Include it in CPU kernel files
// whose `#pragma omp simd` loops call std::erf / std::exp (the exact GELU). Elsewhere it is a no-op.
#pragma once

#include <cmath>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
extern "C" {
__attribute__((__simd__("notinbranch"))) float erff(float) noexcept;
__attribute__((__simd__("notinbranch"))) double erf(double) noexcept;
__attribute__((__simd__("notinbranch"))) float erfcf(float) noexcept;
__attribute__((__simd__("notinbranch"))) double erfc(double) noexcept;
__attribute__((__simd__("notinbranch"))) float expf(float) noexcept;
__attribute__((__simd__("notinbranch"))) double exp(double) noexcept;
}
#endif
