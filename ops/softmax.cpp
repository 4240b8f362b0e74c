// softmax / log_softmax: view the input as contiguous [rows, C], run the fused row kernel, and record
// one tape node whose backward uses only the saved output y.
#include "ops/softmax.h"

#include "autograd/autograd.h"
#include "ops/op_util.h"
#include "ops/softmax_kernels.h"

namespace nat::ops {

namespace {

enum class Kind { softmax, log_softmax };

Tensor softmax_impl(Kind kind, const char* name, const Tensor& x) {
  detail::check_float_same(name, {x});
  NAT_CHECK(x.dim() >= 1, "[", name, "] needs at least 1 dim (softmax runs over the last), got ", x.meta_str());
  const int64_t cols = x.shape().back();
  const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const int dev = x.device().index;
  if (x.numel() > 0) {
    if (kind == Kind::softmax)
      NAT_DISPATCH(x.device(), softmax_forward, x.dtype(), rows, cols, xc.data_ptr(), y.data_ptr(), dev);
    else
      NAT_DISPATCH(x.device(), log_softmax_forward, x.dtype(), rows, cols, xc.data_ptr(), y.data_ptr(), dev);
  }
  if (needs_grad({x})) {
    Tensor ys = detach(y);
    record(
        name, {x}, {y},
        [kind, ys, rows, cols](const std::vector<Tensor>& g) -> std::vector<Tensor> {
          Tensor gy = g[0].contiguous();
          Tensor gx = Tensor::empty(ys.shape(), ys.dtype(), ys.device());
          const int d = ys.device().index;
          if (gx.numel() > 0) {
            if (kind == Kind::softmax)
              NAT_DISPATCH(ys.device(), softmax_backward, ys.dtype(), rows, cols, ys.data_ptr(), gy.data_ptr(),
                           gx.data_ptr(), d);
            else
              NAT_DISPATCH(ys.device(), log_softmax_backward, ys.dtype(), rows, cols, ys.data_ptr(), gy.data_ptr(),
                           gx.data_ptr(), d);
          }
          return {gx};
        },
        y.nbytes());
  }
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x) { return softmax_impl(Kind::softmax, "softmax", x); }
Tensor log_softmax(const Tensor& x) { return softmax_impl(Kind::log_softmax, "log_softmax", x); }

}  // namespace nat::ops
