// Elementwise ops: validate, allocate, dispatch to the kernel list, record one tape node.
// Binary backward is composed from forward ops (mul, div, neg) and sum_to_shape.
#include "ops/elementwise.h"

#include "autograd/autograd.h"
#include "ops/op_util.h"

namespace nat::ops {

using detail::broadcast_layout;
using detail::check_float_same;
using detail::sum_to_shape;

namespace {

Tensor binary(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  check_float_same(name, {a, b});
  Shape shape = broadcast_shapes(a.shape(), b.shape());
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  BroadcastLayout l = broadcast_layout(shape, {a, b}, name);
  if (out.numel() > 0) NAT_DISPATCH(a.device(), binary_forward, op, a.dtype(), l, a.data_ptr(), b.data_ptr(), out.data_ptr(), a.device().index);
  if (needs_grad({a, b})) {
    bool ga = requires_grad(a), gb = requires_grad(b);
    Shape sa = a.shape(), sb = b.shape();
    // Save the operands only when the derivative needs them.
    Tensor sa_t = (op == BinaryOp::mul || op == BinaryOp::div) ? detach(a) : Tensor();
    Tensor sb_t = (op == BinaryOp::mul || op == BinaryOp::div) ? detach(b) : Tensor();
    record(name, {a, b}, {out},
           [op, ga, gb, sa, sb, sa_t, sb_t](const std::vector<Tensor>& g) -> std::vector<Tensor> {
             const Tensor& go = g[0];
             Tensor da, db;
             switch (op) {
               case BinaryOp::add:
                 if (ga) da = sum_to_shape(go, sa);
                 if (gb) db = sum_to_shape(go, sb);
                 break;
               case BinaryOp::sub:
                 if (ga) da = sum_to_shape(go, sa);
                 if (gb) db = sum_to_shape(neg(go), sb);
                 break;
               case BinaryOp::mul:
                 if (ga) da = sum_to_shape(mul(go, sb_t), sa);
                 if (gb) db = sum_to_shape(mul(go, sa_t), sb);
                 break;
               case BinaryOp::div:
                 if (ga) da = sum_to_shape(div(go, sb_t), sa);
                 if (gb) db = sum_to_shape(neg(div(mul(go, sa_t), mul(sb_t, sb_t))), sb);
                 break;
             }
             return {da, db};
           },
           (sa_t.defined() ? a.nbytes() + b.nbytes() : 0));
  }
  return out;
}

Tensor unary(UnaryOp op, const char* name, const Tensor& x, double p0 = 0, double p1 = 0) {
  check_float_same(name, {x});
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (y.numel() > 0)
    NAT_DISPATCH(x.device(), unary_forward, op, p0, p1, x.dtype(), y.numel(), xc.data_ptr(), y.data_ptr(), x.device().index);
  if (needs_grad({x})) {
    Tensor xs = detach(xc), ys = detach(y);
    record(name, {x}, {y},
           [op, p0, p1, xs, ys](const std::vector<Tensor>& g) -> std::vector<Tensor> {
             Tensor go = g[0].contiguous();
             Tensor gx = Tensor::empty(xs.shape(), xs.dtype(), xs.device());
             if (gx.numel() > 0)
               NAT_DISPATCH(xs.device(), unary_backward, op, p0, p1, xs.dtype(), gx.numel(), xs.data_ptr(),
                            ys.data_ptr(), go.data_ptr(), gx.data_ptr(), xs.device().index);
             return {gx};
           },
           x.nbytes() * 2);
  }
  return y;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::add, "add", a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::sub, "sub", a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::mul, "mul", a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::div, "div", a, b); }
Tensor add(const Tensor& a, double s) { return unary(UnaryOp::affine, "add_scalar", a, 1.0, s); }
Tensor mul(const Tensor& a, double s) { return unary(UnaryOp::affine, "mul_scalar", a, s, 0.0); }
Tensor affine(const Tensor& a, double scale, double shift) { return unary(UnaryOp::affine, "affine", a, scale, shift); }

Tensor neg(const Tensor& x) { return unary(UnaryOp::neg, "neg", x); }
Tensor exp(const Tensor& x) { return unary(UnaryOp::exp, "exp", x); }
Tensor log(const Tensor& x) { return unary(UnaryOp::log, "log", x); }
Tensor sqrt(const Tensor& x) { return unary(UnaryOp::sqrt, "sqrt", x); }
Tensor rsqrt(const Tensor& x) { return unary(UnaryOp::rsqrt, "rsqrt", x); }
Tensor tanh(const Tensor& x) { return unary(UnaryOp::tanh, "tanh", x); }
Tensor erf(const Tensor& x) { return unary(UnaryOp::erf, "erf", x); }
Tensor abs(const Tensor& x) { return unary(UnaryOp::abs, "abs", x); }
Tensor relu(const Tensor& x) { return unary(UnaryOp::relu, "relu", x); }
Tensor gelu(const Tensor& x) { return unary(UnaryOp::gelu, "gelu", x); }
Tensor pow(const Tensor& x, double p) { return unary(UnaryOp::pow_scalar, "pow", x, p); }
Tensor clamp(const Tensor& x, double lo, double hi) {
  NAT_CHECK(lo <= hi, "[clamp] needs lo <= hi, got lo=", lo, " hi=", hi);
  return unary(UnaryOp::clamp, "clamp", x, lo, hi);
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_float_same("where", {a, b});
  detail::check_same_device("where", {cond, a});
  NAT_CHECK(cond.dtype() == DType::u8, "[where] condition must be u8, got ", cond.meta_str());
  Shape shape = broadcast_shapes(cond.shape(), broadcast_shapes(a.shape(), b.shape()));
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  BroadcastLayout l = broadcast_layout(shape, {cond, a, b}, "where");
  if (out.numel() > 0)
    NAT_DISPATCH(a.device(), where_forward, a.dtype(), l, static_cast<const uint8_t*>(cond.data_ptr()), a.data_ptr(),
                 b.data_ptr(), out.data_ptr(), a.device().index);
  if (needs_grad({a, b})) {
    Tensor c = detach(cond);
    Shape sa = a.shape(), sb = b.shape();
    bool ga = requires_grad(a), gb = requires_grad(b);
    record("where", {cond, a, b}, {out}, [c, sa, sb, ga, gb](const std::vector<Tensor>& g) -> std::vector<Tensor> {
      Tensor zero = Tensor::zeros({}, g[0].dtype(), g[0].device());
      Tensor da = ga ? sum_to_shape(where(c, g[0], zero), sa) : Tensor();
      Tensor db = gb ? sum_to_shape(where(c, zero, g[0]), sb) : Tensor();
      return {Tensor(), da, db};
    }, cond.nbytes());
  }
  return out;
}

}  // namespace nat::ops
