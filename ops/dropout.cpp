// dropout / drop_path: reserve words of the generator's Philox stream, run the kernel, and record one
// tape node that keeps only (seed, offset): its backward regenerates the same mask.
#include "ops/dropout.h"

#include "autograd/autograd.h"
#include "ops/dropout_kernels.h"
#include "ops/op_util.h"

namespace nat::ops {

namespace {

struct Stream {
  uint64_t seed, offset;
};

// Reserves `draws` draws (two words each) of the generator's stream.
Stream reserve(Generator* gen, int64_t draws) {
  Generator& g = gen ? *gen : default_generator();
  const uint64_t seed = g.seed();
  return {seed, g.advance(2 * static_cast<uint64_t>(draws))};
}

void check_p(const char* op, double p) { NAT_CHECK(p >= 0 && p <= 1, "[", op, "] p must be in [0, 1], got ", p); }

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  detail::check_float_same("dropout", {x});
  check_p("dropout", p);
  if (!training || p == 0) return x;
  const int64_t n = x.numel();
  const double keep = 1.0 - p;
  const Stream s = reserve(gen, n);
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  NAT_DISPATCH(x.device(), dropout_forward, x.dtype(), n, keep, s.seed, s.offset, xc.data_ptr(), y.data_ptr(),
               x.device().index);
  if (needs_grad({x})) {
    record("dropout", {x}, {y}, [n, keep, s](const std::vector<Tensor>& g) -> std::vector<Tensor> {
      Tensor gy = g[0].contiguous();
      Tensor gx = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
      NAT_DISPATCH(gy.device(), dropout_backward, gy.dtype(), n, keep, s.seed, s.offset, gy.data_ptr(), gx.data_ptr(),
                   gy.device().index);
      return {gx};
    });
  }
  return y;
}

Tensor drop_path(const Tensor& x, double p, bool training, Generator* gen) {
  detail::check_float_same("drop_path", {x});
  check_p("drop_path", p);
  NAT_CHECK(x.dim() >= 1, "[drop_path] needs a batch dim (dim 0), got ", x.meta_str());
  if (!training || p == 0) return x;
  const int64_t batch = x.size(0);
  const int64_t inner = batch == 0 ? 0 : x.numel() / batch;
  const double keep = 1.0 - p;
  const Stream s = reserve(gen, batch);
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  NAT_DISPATCH(x.device(), drop_path_forward, x.dtype(), batch, inner, keep, s.seed, s.offset, xc.data_ptr(),
               y.data_ptr(), x.device().index);
  if (needs_grad({x})) {
    record("drop_path", {x}, {y}, [batch, inner, keep, s](const std::vector<Tensor>& g) -> std::vector<Tensor> {
      Tensor gy = g[0].contiguous();
      Tensor gx = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
      NAT_DISPATCH(gy.device(), drop_path_backward, gy.dtype(), batch, inner, keep, s.seed, s.offset, gy.data_ptr(),
                   gx.data_ptr(), gy.device().index);
      return {gx};
    });
  }
  return y;
}

}  // namespace nat::ops
