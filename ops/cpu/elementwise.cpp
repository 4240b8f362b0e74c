// CPU kernels for elementwise ops (ops/elementwise_kernels.h). The op is a template parameter so the
// switch in elementwise_math.h folds away and the inner loops vectorise (libmvec's erf/erfc/exp through
// ops/cpu/simd_math.h).
#include <cmath>

#include "ops/cpu/simd_math.h"
#include "ops/elementwise_math.h"

namespace nat::kernels::cpu {

namespace {

constexpr int64_t kGrain = 1 << 14;

template <typename T, UnaryOp OP>
void unary_loop(int64_t n, const T* x, T* y, T p0, T p1) {
#pragma omp parallel for simd schedule(static) if (n > kGrain)
  for (int64_t i = 0; i < n; ++i) y[i] = unary_value<T>(OP, x[i], p0, p1);
}

template <typename T, UnaryOp OP>
void unary_grad_loop(int64_t n, const T* x, const T* y, const T* gy, T* gx, T p0, T p1) {
#pragma omp parallel for simd schedule(static) if (n > kGrain)
  for (int64_t i = 0; i < n; ++i) gx[i] = gy[i] * unary_derivative<T>(OP, x[i], y[i], p0, p1);
}

// Calls f.template operator()<OP>() with the runtime op as a compile-time constant.
template <typename F>
void with_unary_op(UnaryOp op, F&& f) {
  switch (op) {
#define NAT_CASE(o) case UnaryOp::o: f.template operator()<UnaryOp::o>(); break;
    NAT_CASE(neg) NAT_CASE(exp) NAT_CASE(log) NAT_CASE(sqrt) NAT_CASE(rsqrt) NAT_CASE(tanh) NAT_CASE(erf)
    NAT_CASE(abs) NAT_CASE(gelu) NAT_CASE(pow_scalar) NAT_CASE(clamp) NAT_CASE(affine) NAT_CASE(relu)
#undef NAT_CASE
  }
}

template <typename F>
void with_float_type(DType t, const char* name, F&& f) {
  if (t == DType::f32) f(float{});
  else if (t == DType::f64) f(double{});
  else NAT_THROW("[", name, "] the CPU backend computes in f32 or f64, got ", dtype_name(t));
}

inline int64_t layout_numel(const BroadcastLayout& l) {
  int64_t n = 1;
  for (int d = 0; d < l.ndim; ++d) n *= l.shape[d];
  return n;
}

// Element offsets of output index i in each operand.
inline void operand_offsets(const BroadcastLayout& l, int64_t i, int nops, int64_t* off) {
  for (int k = 0; k < nops; ++k) off[k] = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    int64_t idx = i % l.shape[d];
    i /= l.shape[d];
    for (int k = 0; k < nops; ++k) off[k] += idx * l.strides[k][d];
  }
}

template <typename T, BinaryOp OP>
void binary_loop(const BroadcastLayout& l, const T* a, const T* b, T* out) {
  int64_t n = layout_numel(l);
  if (n == 0) return;
  int inner = l.ndim - 1;
  int64_t run = l.ndim ? l.shape[inner] : 1;
  int64_t sa = l.ndim ? l.strides[0][inner] : 0, sb = l.ndim ? l.strides[1][inner] : 0;
  int64_t rows = n / run;
#pragma omp parallel for schedule(static) if (n > kGrain)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t off[2];
    operand_offsets(l, r * run, 2, off);
    const T* pa = a + off[0];
    const T* pb = b + off[1];
    T* po = out + r * run;
    if (sa == 1 && sb == 1) {
#pragma omp simd
      for (int64_t j = 0; j < run; ++j) po[j] = binary_value<T>(OP, pa[j], pb[j]);
    } else if (sa == 1 && sb == 0) {
      T bv = pb[0];
#pragma omp simd
      for (int64_t j = 0; j < run; ++j) po[j] = binary_value<T>(OP, pa[j], bv);
    } else {
      for (int64_t j = 0; j < run; ++j) po[j] = binary_value<T>(OP, pa[j * sa], pb[j * sb]);
    }
  }
}

}  // namespace

void unary_forward(UnaryOp op, double p0, double p1, DType dtype, int64_t n, const void* x, void* y, int) {
  with_float_type(dtype, "unary", [&](auto zero) {
    using T = decltype(zero);
    with_unary_op(op, [&]<UnaryOp OP>() {
      unary_loop<T, OP>(n, static_cast<const T*>(x), static_cast<T*>(y), T(p0), T(p1));
    });
  });
}

void unary_backward(UnaryOp op, double p0, double p1, DType dtype, int64_t n, const void* x, const void* y,
                    const void* gy, void* gx, int) {
  with_float_type(dtype, "unary backward", [&](auto zero) {
    using T = decltype(zero);
    with_unary_op(op, [&]<UnaryOp OP>() {
      unary_grad_loop<T, OP>(n, static_cast<const T*>(x), static_cast<const T*>(y), static_cast<const T*>(gy),
                             static_cast<T*>(gx), T(p0), T(p1));
    });
  });
}

void binary_forward(BinaryOp op, DType dtype, const BroadcastLayout& l, const void* a, const void* b, void* out,
                    int) {
  with_float_type(dtype, "binary", [&](auto zero) {
    using T = decltype(zero);
    auto* pa = static_cast<const T*>(a);
    auto* pb = static_cast<const T*>(b);
    auto* po = static_cast<T*>(out);
    switch (op) {
      case BinaryOp::add: binary_loop<T, BinaryOp::add>(l, pa, pb, po); break;
      case BinaryOp::sub: binary_loop<T, BinaryOp::sub>(l, pa, pb, po); break;
      case BinaryOp::mul: binary_loop<T, BinaryOp::mul>(l, pa, pb, po); break;
      case BinaryOp::div: binary_loop<T, BinaryOp::div>(l, pa, pb, po); break;
    }
  });
}

void where_forward(DType dtype, const BroadcastLayout& l, const uint8_t* cond, const void* a, const void* b, void* out,
                   int) {
  with_float_type(dtype, "where", [&](auto zero) {
    using T = decltype(zero);
    auto* pa = static_cast<const T*>(a);
    auto* pb = static_cast<const T*>(b);
    auto* po = static_cast<T*>(out);
    int64_t n = layout_numel(l);
#pragma omp parallel for schedule(static) if (n > kGrain)
    for (int64_t i = 0; i < n; ++i) {
      int64_t off[3];
      operand_offsets(l, i, 3, off);
      po[i] = cond[off[0]] ? pa[off[1]] : pb[off[2]];
    }
  });
}

}  // namespace nat::kernels::cpu
