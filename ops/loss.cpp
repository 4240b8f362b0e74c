// Fused losses: validate, run the per-row loss kernel (which saves each row's log-sum-exp), take the
// mean of the rows with the reduction kernel, and record one tape node whose backward calls the
// loss's _backward kernel with the incoming gradient left on the device.
#include "ops/loss.h"

#include "autograd/autograd.h"
#include "ops/loss_kernels.h"
#include "ops/op_util.h"
#include "ops/reduce_kernels.h"

namespace nat::ops {

namespace {

// The mean of per-row losses [n] (acc dtype) as a scalar in `dtype`.
Tensor mean_of_rows(const Tensor& rows, DType dtype) {
  Tensor m = Tensor::empty({}, rows.dtype(), rows.device());
  NAT_DISPATCH(rows.device(), reduce_last, ReduceOp::mean, rows.dtype(), 1, rows.numel(), rows.data_ptr(), m.data_ptr(),
               rows.device().index);
  return m.dtype() == dtype ? m : m.to(dtype);
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, double label_smoothing) {
  detail::check_float_same("cross_entropy", {logits});
  detail::check_same_device("cross_entropy", {logits, target});
  NAT_CHECK(target.dtype() == DType::i64, "[cross_entropy] target must be i64 class indices, got ", target.meta_str());
  NAT_CHECK(logits.dim() == 2 && logits.size(1) > 0 && target.dim() == 1 && target.size(0) == logits.size(0),
            "[cross_entropy] expects logits [N, C] with C >= 1 and target [N], got logits ", logits.meta_str(),
            ", target ", target.meta_str());
  NAT_CHECK(label_smoothing >= 0 && label_smoothing <= 1, "[cross_entropy] label_smoothing must be in [0, 1], got ",
            label_smoothing);
  const int64_t n = logits.size(0), c = logits.size(1);
  const Device dev = logits.device();
  const DType acc = acc_dtype(logits.dtype());
  Tensor x = logits.contiguous(), t = target.contiguous();
  Tensor rows = Tensor::empty({n}, acc, dev), lse = Tensor::empty({n}, acc, dev);
  NAT_DISPATCH(dev, cross_entropy_forward, x.dtype(), n, c, label_smoothing, x.data_ptr(),
               static_cast<const int64_t*>(t.data_ptr()), rows.data_ptr(), lse.data_ptr(), dev.index);
  Tensor loss = mean_of_rows(rows, logits.dtype());
  if (needs_grad({logits})) {
    Tensor xs = detach(x), ts = detach(t);
    record(
        "cross_entropy", {logits, target}, {loss},
        [xs, ts, lse, n, c, label_smoothing, acc](const std::vector<Tensor>& g) -> std::vector<Tensor> {
          Tensor gl = g[0].to(acc).contiguous();
          Tensor dx = Tensor::empty(xs.shape(), xs.dtype(), xs.device());
          NAT_DISPATCH(xs.device(), cross_entropy_backward, xs.dtype(), n, c, label_smoothing,
                       1.0 / static_cast<double>(n), xs.data_ptr(), static_cast<const int64_t*>(ts.data_ptr()),
                       lse.data_ptr(), gl.data_ptr(), dx.data_ptr(), xs.device().index);
          return {dx, Tensor()};
        },
        x.nbytes() + t.nbytes() + lse.nbytes());
  }
  return loss;
}

Tensor soft_target_cross_entropy(const Tensor& logits, const Tensor& target) {
  detail::check_float_same("soft_target_cross_entropy", {logits, target});
  NAT_CHECK(logits.dim() == 2 && logits.size(1) > 0 && target.shape() == logits.shape(),
            "[soft_target_cross_entropy] expects logits [N, C] with C >= 1 and target of the same shape, got logits ",
            logits.meta_str(), ", target ", target.meta_str());
  const int64_t n = logits.size(0), c = logits.size(1);
  const Device dev = logits.device();
  const DType acc = acc_dtype(logits.dtype());
  Tensor x = logits.contiguous(), t = target.contiguous();
  Tensor rows = Tensor::empty({n}, acc, dev), lse = Tensor::empty({n}, acc, dev);
  NAT_DISPATCH(dev, soft_cross_entropy_forward, x.dtype(), n, c, x.data_ptr(), t.data_ptr(), rows.data_ptr(),
               lse.data_ptr(), dev.index);
  Tensor loss = mean_of_rows(rows, logits.dtype());
  if (needs_grad({logits, target})) {
    const bool gx = requires_grad(logits), gt = requires_grad(target);
    Tensor xs = detach(x), ts = detach(t);
    record(
        "soft_target_cross_entropy", {logits, target}, {loss},
        [xs, ts, lse, n, c, acc, gx, gt](const std::vector<Tensor>& g) -> std::vector<Tensor> {
          Tensor gl = g[0].to(acc).contiguous();
          Tensor dx = gx ? Tensor::empty(xs.shape(), xs.dtype(), xs.device()) : Tensor();
          Tensor dt = gt ? Tensor::empty(ts.shape(), ts.dtype(), ts.device()) : Tensor();
          NAT_DISPATCH(xs.device(), soft_cross_entropy_backward, xs.dtype(), n, c, 1.0 / static_cast<double>(n),
                       xs.data_ptr(), ts.data_ptr(), lse.data_ptr(), gl.data_ptr(), gx ? dx.data_ptr() : nullptr,
                       gt ? dt.data_ptr() : nullptr, xs.device().index);
          return {dx, dt};
        },
        x.nbytes() + t.nbytes() + lse.nbytes());
  }
  return loss;
}

}  // namespace nat::ops
