// layer_norm: validate, view x as contiguous [rows, C], run the fused kernel (which saves mean and
// rstd), and record one tape node whose backward produces dx, dweight and dbias in one call.
#include "ops/norm.h"

#include "autograd/autograd.h"
#include "ops/norm_kernels.h"
#include "ops/op_util.h"

namespace nat::ops {

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  NAT_CHECK(x.defined(), "[layer_norm] undefined input");
  std::vector<Tensor> params = {x};
  if (weight.defined()) params.push_back(weight);
  if (bias.defined()) params.push_back(bias);
  auto describe_all = [&] {
    std::string s;
    for (const auto& t : params) s += (s.empty() ? "" : ", ") + t.meta_str();
    return s;
  };
  for (const auto& t : params) {
    NAT_CHECK(t.device() == x.device(), "[layer_norm] inputs are on different devices: ", describe_all());
    NAT_CHECK(is_floating(t.dtype()) && t.dtype() == x.dtype(),
              "[layer_norm] expects floating inputs of one dtype, got ", describe_all());
  }
  NAT_CHECK(x.dim() >= 1 && x.shape().back() > 0, "[layer_norm] x must have a non-empty last dim, got ", x.meta_str());
  const int64_t cols = x.shape().back();
  for (size_t i = 1; i < params.size(); ++i)
    NAT_CHECK(params[i].shape() == Shape{cols}, "[layer_norm] weight and bias must be [", cols,
              "] (the last dim of x), got ", describe_all());
  NAT_CHECK(eps >= 0, "[layer_norm] eps must be >= 0, got ", eps);

  const int64_t rows = x.numel() / cols;
  const Device dev = x.device();
  Tensor xc = x.contiguous();
  Tensor wc = weight.defined() ? weight.contiguous() : Tensor();
  Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), dev);
  Tensor mean = Tensor::empty({rows}, acc_dtype(x.dtype()), dev);
  Tensor rstd = Tensor::empty({rows}, acc_dtype(x.dtype()), dev);
  if (rows > 0)
    NAT_DISPATCH(dev, layer_norm_forward, x.dtype(), rows, cols, eps, xc.data_ptr(),
                 wc.defined() ? wc.data_ptr() : nullptr, bc.defined() ? bc.data_ptr() : nullptr, y.data_ptr(),
                 mean.data_ptr(), rstd.data_ptr(), dev.index);

  if (needs_grad({x, weight, bias})) {
    const bool gx = requires_grad(x), gw = weight.defined() && requires_grad(weight),
               gb = bias.defined() && requires_grad(bias);
    Tensor xs = detach(xc), ws = wc.defined() ? detach(wc) : Tensor();
    Shape wshape = {cols};
    record(
        "layer_norm", {x, weight, bias}, {y},
        [xs, ws, mean, rstd, rows, cols, gx, gw, gb, wshape](const std::vector<Tensor>& g) -> std::vector<Tensor> {
          Tensor gy = g[0].contiguous();
          const Device d = xs.device();
          Tensor dx = gx ? Tensor::empty(xs.shape(), xs.dtype(), d) : Tensor();
          Tensor dw = gw ? Tensor::empty(wshape, xs.dtype(), d) : Tensor();
          Tensor db = gb ? Tensor::empty(wshape, xs.dtype(), d) : Tensor();
          NAT_DISPATCH(d, layer_norm_backward, xs.dtype(), rows, cols, gy.data_ptr(), xs.data_ptr(), mean.data_ptr(),
                       rstd.data_ptr(), ws.defined() ? ws.data_ptr() : nullptr, gx ? dx.data_ptr() : nullptr,
                       gw ? dw.data_ptr() : nullptr, gb ? db.data_ptr() : nullptr, d.index);
          return {dx, dw, db};
        },
        x.nbytes() + mean.nbytes() + rstd.nbytes());
  }
  return y;
}

}  // namespace nat::ops
