// matmul and linear: validate, describe each operand to the strided-batched GEMM kernel without copying
// when its strides allow, dispatch, record one tape node. Backward is composed from matmul itself
// (dA = dC op(B)^T, dB = op(A)^T dC) and the bias/activation epilogue kernel.
#include "ops/linalg.h"

#include <algorithm>

#include "autograd/autograd.h"
#include "ops/op_util.h"

namespace nat::ops {

namespace {

// One GEMM operand as the kernel sees it. `data` keeps the viewed (or copied) storage alive.
struct GemmOperand {
  Tensor data;
  bool trans = false;        // the kernel transposes the stored matrix
  int64_t ld = 0;            // leading dimension of the stored matrix
  int64_t batch_stride = 0;  // elements between consecutive batch entries (0: broadcast)
};

// Stored matrix [r, c] with strides (s0, s1): row-major (unit column stride) or column-major (unit row
// stride, i.e. the transpose of a row-major matrix). Size-1 dims accept any stride.
bool describe_matrix(int64_t r, int64_t c, int64_t s0, int64_t s1, bool trans, GemmOperand& op) {
  if ((c <= 1 || s1 == 1) && (r <= 1 || s0 >= c)) {
    op.trans = trans;
    op.ld = r <= 1 ? std::max<int64_t>(c, 1) : s0;
    return true;
  }
  if ((r <= 1 || s0 == 1) && (c <= 1 || s1 >= r)) {
    op.trans = !trans;
    op.ld = c <= 1 ? std::max<int64_t>(r, 1) : s1;
    return true;
  }
  return false;
}

// The batch dims [0, nb) of `t` flattened in row-major order are at offsets b * stride for one stride.
bool describe_batch(const Tensor& t, int64_t nb, int64_t& stride) {
  stride = 0;
  bool have = false;
  int64_t span = 1;  // number of batch entries inside the current dim
  for (int64_t d = nb - 1; d >= 0; --d) {
    if (t.size(d) == 1) continue;
    if (!have) {
      stride = t.stride(d);
      have = true;
    } else if (t.stride(d) != stride * span) {
      return false;
    }
    span *= t.size(d);
  }
  return true;
}

// `t` expanded to batch + its last two dims; copies only when no (ld, batch stride) description exists.
GemmOperand gemm_operand(const Tensor& t, bool trans, const Shape& batch) {
  Shape full = batch;
  full.push_back(t.size(-2));
  full.push_back(t.size(-1));
  Tensor e = t.expand(full);
  auto nb = static_cast<int64_t>(batch.size());
  GemmOperand op;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (describe_matrix(e.size(nb), e.size(nb + 1), e.stride(nb), e.stride(nb + 1), trans, op) &&
        describe_batch(e, nb, op.batch_stride)) {
      op.data = e;
      return op;
    }
    e = e.contiguous();  // always describable
  }
  NAT_THROW("[matmul] internal error: no GEMM layout for ", e.meta_str());
}

// NumPy broadcast of the batch dims (all but the last two) of a and b.
Shape matmul_batch_shape(const Tensor& a, const Tensor& b) {
  Shape sa(a.shape().begin(), a.shape().end() - 2), sb(b.shape().begin(), b.shape().end() - 2);
  try {
    return broadcast_shapes(sa, sb);
  } catch (const Error&) {
    NAT_THROW("[matmul] batch dims ", shape_str(sa), " and ", shape_str(sb), " do not broadcast (a ", a.meta_str(),
              ", b ", b.meta_str(), ")");
  }
}

// matmul without autograd.
Tensor matmul_forward(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  detail::check_float_same("matmul", {a, b});
  NAT_CHECK(a.dim() >= 2 && b.dim() >= 2, "[matmul] needs tensors with at least 2 dims, got a ", a.meta_str(), ", b ",
            b.meta_str());
  int64_t M = a.size(trans_a ? -1 : -2), Ka = a.size(trans_a ? -2 : -1);
  int64_t Kb = b.size(trans_b ? -1 : -2), N = b.size(trans_b ? -2 : -1);
  NAT_CHECK(Ka == Kb, "[matmul] inner dims differ: op(a) is [", M, ", ", Ka, "], op(b) is [", Kb, ", ", N, "] (a ",
            a.meta_str(), ", b ", b.meta_str(), ", trans_a=", trans_a, ", trans_b=", trans_b, ")");
  Shape batch = matmul_batch_shape(a, b);
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  if (numel(out_shape) == 0) return Tensor::empty(out_shape, a.dtype(), a.device());
  if (Ka == 0) return Tensor::zeros(out_shape, a.dtype(), a.device());

  Tensor c = Tensor::empty(out_shape, a.dtype(), a.device());
  GemmOperand A = gemm_operand(a, trans_a, batch), B = gemm_operand(b, trans_b, batch);
  int64_t nbatch = numel(batch), rows = M;
  // Rows of consecutive batch entries of A follow each other and B is shared: one GEMM with batch * M rows.
  if (nbatch > 1 && !A.trans && A.batch_stride == M * A.ld && B.batch_stride == 0) {
    rows = nbatch * M;
    nbatch = 1;
  }
  NAT_DISPATCH(a.device(), gemm, A.trans, B.trans, rows, N, Ka, 1.0, A.data.data_ptr(), A.ld, A.batch_stride,
               B.data.data_ptr(), B.ld, B.batch_stride, 0.0, c.data_ptr(), N, M * N, nbatch, a.dtype(),
               a.device().index);
  return c;
}

// Gradient of b for a b-operand with no batch dims and an a with some: fold a's batch into its rows so the
// batch sum happens inside one GEMM (the [B, M, K] x [K, N] case) instead of a [B, K, N] temporary.
Tensor grad_b_folded(const Tensor& a, const Tensor& g, bool trans_b) {
  Tensor a2 = a.reshape({-1, a.size(-1)}), g2 = g.reshape({-1, g.size(-1)});
  return trans_b ? matmul_forward(g2, a2, true, false) : matmul_forward(a2, g2, true, false);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  Tensor c = matmul_forward(a, b, trans_a, trans_b);
  if (needs_grad({a, b})) {
    Tensor sa = detach(a), sb = detach(b);
    bool ga = requires_grad(a), gb = requires_grad(b);
    record(
        "matmul", {a, b}, {c},
        [sa, sb, trans_a, trans_b, ga, gb](const std::vector<Tensor>& grads) -> std::vector<Tensor> {
          const Tensor& g = grads[0];
          Tensor da, db;
          // With A-bar = op(a), B-bar = op(b): dA-bar = g B-bar^T, dB-bar = A-bar^T g; a transposed
          // operand takes the transpose of its gradient.
          if (ga) {
            da = trans_a ? matmul(sb, g, trans_b, true) : matmul(g, sb, false, !trans_b);
            da = detail::sum_to_shape(da, sa.shape());
          }
          if (gb) {
            if (sb.dim() == 2 && sa.dim() > 2 && !trans_a) {
              db = grad_b_folded(sa, g, trans_b);
            } else {
              db = trans_b ? matmul(g, sa, true, trans_a) : matmul(sa, g, !trans_a, false);
              db = detail::sum_to_shape(db, sb.shape());
            }
          }
          return {da, db};
        },
        a.nbytes() + b.nbytes());
  }
  return c;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act) {
  if (bias.defined())
    detail::check_float_same("linear", {x, weight, bias});
  else
    detail::check_float_same("linear", {x, weight});
  NAT_CHECK(x.dim() >= 1 && weight.dim() == 2, "[linear] needs x [..., in] and weight [out, in], got x ", x.meta_str(),
            ", weight ", weight.meta_str());
  int64_t out = weight.size(0), in = weight.size(1);
  NAT_CHECK(x.size(-1) == in, "[linear] x has ", x.size(-1), " features, weight expects ", in, " (x ", x.meta_str(),
            ", weight ", weight.meta_str(), ")");
  NAT_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == out), "[linear] bias must be [", out, "], got ",
            bias.defined() ? bias.meta_str() : std::string());
  Shape out_shape = x.shape();
  out_shape.back() = out;
  int64_t rows = numel(Shape(x.shape().begin(), x.shape().end() - 1));

  Tensor x2 = x.reshape({rows, in}).contiguous(), w = weight.contiguous();
  Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = Tensor::empty({rows, out}, x.dtype(), x.device());
  Tensor pre = act == Activation::none ? Tensor() : Tensor::empty({rows, out}, x.dtype(), x.device());
  const void* bptr = b.defined() ? b.data_ptr() : nullptr;
  void* pre_ptr = pre.defined() ? pre.data_ptr() : nullptr;
  if (rows > 0 && out > 0) {
    if (in > 0) {
      NAT_DISPATCH(x.device(), linear_forward, act, rows, in, out, x2.data_ptr(), w.data_ptr(), bptr, pre_ptr,
                   y.data_ptr(), x.dtype(), x.device().index);
    } else {  // an empty product: the output is act(bias)
      Tensor z = pre.defined() ? pre : y;
      z.zero_();
      NAT_DISPATCH(x.device(), bias_act_forward, act, rows, out, 1, bptr, z.data_ptr(),
                   pre.defined() ? y.data_ptr() : nullptr, x.dtype(), x.device().index);
    }
  }
  y = y.view(out_shape);

  if (needs_grad({x, weight, bias})) {
    Tensor sx = detach(x2), sw = detach(w), spre = pre.defined() ? detach(pre) : Tensor();
    bool gx = requires_grad(x), gw = requires_grad(weight), gb = requires_grad(bias);
    const Shape& x_shape = x.shape();
    record(
        "linear", {x, weight, bias}, {y},
        [sx, sw, spre, act, gx, gw, gb, x_shape, rows, out](const std::vector<Tensor>& grads) -> std::vector<Tensor> {
          Tensor g = grads[0].reshape({rows, out}).contiguous();
          Tensor gz = act == Activation::none ? g : Tensor::empty(g.shape(), g.dtype(), g.device());
          Tensor db = gb ? Tensor::empty({out}, g.dtype(), g.device()) : Tensor();
          if (g.numel() > 0 && (act != Activation::none || gb)) {
            NAT_DISPATCH(g.device(), bias_act_backward, act, rows, out, 1, spre.defined() ? spre.data_ptr() : nullptr,
                         g.data_ptr(), act == Activation::none ? nullptr : gz.data_ptr(), gb ? db.data_ptr() : nullptr,
                         g.dtype(), g.device().index);
          } else if (gb) {
            db.zero_();
          }
          Tensor dx = gx ? matmul(gz, sw).view(x_shape) : Tensor();
          Tensor dw = gw ? matmul(gz, sx, true, false) : Tensor();
          return {dx, dw, db};
        },
        x2.nbytes() + w.nbytes() + (pre.defined() ? pre.nbytes() : 0));
  }
  return y;
}

}  // namespace nat::ops
