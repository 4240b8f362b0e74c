// conv2d as im2col + GEMM, a chunk of images at a time: col [C*kh*kw, n*Ho*Wo] (ops/linalg_kernels.h),
// W [O, C*kh*kw] times col gives [O, n, Ho*Wo], permuted into NCHW. Backward recomputes col from the
// saved input instead of keeping it: dW = sum over chunks of dy col^T, dcol = W^T dy, dx = col2im(dcol).
#include <algorithm>
#include <atomic>

#include "autograd/autograd.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/op_util.h"

namespace nat::ops {

namespace {

// A chunk's column buffer stays under this size; larger batches run in several chunks.
std::atomic<int64_t> column_budget_bytes{int64_t{256} << 20};

int64_t images_per_chunk(const Conv2dShape& g, DType dtype) {
  int64_t per_image = g.C * g.kh * g.kw * g.Ho * g.Wo * static_cast<int64_t>(dtype_size(dtype));
  return std::clamp<int64_t>(column_budget_bytes.load() / std::max<int64_t>(per_image, 1), 1,
                             std::max<int64_t>(g.N, 1));
}

// The geometry of images [n0, n0 + count) of g.
Conv2dShape chunk_of(Conv2dShape g, int64_t n0, int64_t chunk) {
  g.N = std::min(chunk, g.N - n0);
  return g;
}

// col [C*kh*kw, g.N * Ho*Wo] of images [n0, n0 + g.N) of the contiguous x.
Tensor im2col(const Tensor& x, const Conv2dShape& g, int64_t n0) {
  Tensor col = Tensor::empty({g.C * g.kh * g.kw, g.N * g.Ho * g.Wo}, x.dtype(), x.device());
  NAT_DISPATCH(x.device(), im2col, g, x.slice(0, n0, n0 + g.N).data_ptr(), col.data_ptr(), x.dtype(), x.device().index);
  return col;
}

Conv2dShape conv2d_shape(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding) {
  if (bias.defined())
    detail::check_float_same("conv2d", {x, weight, bias});
  else
    detail::check_float_same("conv2d", {x, weight});
  NAT_CHECK(x.dim() == 4 && weight.dim() == 4, "[conv2d] needs x [N, C, H, W] and weight [O, C, kh, kw], got x ",
            x.meta_str(), ", weight ", weight.meta_str());
  Conv2dShape g{x.size(0), x.size(1), x.size(2), x.size(3), weight.size(2), weight.size(3), stride, padding};
  int64_t O = weight.size(0);
  NAT_CHECK(weight.size(1) == g.C, "[conv2d] x has C=", g.C, " channels, weight expects ", weight.size(1), " (x ",
            x.meta_str(), ", weight ", weight.meta_str(), ")");
  NAT_CHECK(O >= 1 && g.C >= 1 && g.kh >= 1 && g.kw >= 1,
            "[conv2d] weight needs at least one output channel, input channel and tap, got ", weight.meta_str());
  NAT_CHECK(stride >= 1 && padding >= 0, "[conv2d] needs stride >= 1 and padding >= 0, got stride=", stride,
            " padding=", padding);
  NAT_CHECK(g.H + 2 * padding >= g.kh && g.W + 2 * padding >= g.kw, "[conv2d] kernel ", g.kh, "x", g.kw,
            " is larger than the padded input ", g.H + 2 * padding, "x", g.W + 2 * padding, " (x ", x.meta_str(),
            ", padding=", padding, ")");
  NAT_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == O), "[conv2d] bias must be [", O, "], got ",
            bias.defined() ? bias.meta_str() : std::string());
  g.Ho = (g.H + 2 * padding - g.kh) / stride + 1;
  g.Wo = (g.W + 2 * padding - g.kw) / stride + 1;
  return g;
}

}  // namespace

int64_t detail::set_conv2d_column_budget(int64_t bytes) {
  NAT_CHECK(bytes > 0, "[conv2d] the column budget must be positive, got ", bytes);
  return column_budget_bytes.exchange(bytes);
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding) {
  Conv2dShape g = conv2d_shape(x, weight, bias, stride, padding);
  int64_t O = weight.size(0), CKK = g.C * g.kh * g.kw, P = g.Ho * g.Wo;
  Tensor xc = detach(x).contiguous(), w2 = detach(weight).contiguous().view({O, CKK});
  Tensor b = bias.defined() ? detach(bias).contiguous() : Tensor();
  Tensor y = Tensor::empty({g.N, O, g.Ho, g.Wo}, x.dtype(), x.device());
  int64_t chunk = images_per_chunk(g, x.dtype());
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    Conv2dShape gc = chunk_of(g, n0, chunk);
    Tensor yc = matmul(w2, im2col(xc, gc, n0));  // [O, n * Ho*Wo]
    y.slice(0, n0, n0 + gc.N).copy_(yc.view({O, gc.N, g.Ho, g.Wo}).permute({1, 0, 2, 3}));
  }
  if (b.defined() && y.numel() > 0)
    NAT_DISPATCH(x.device(), bias_act_forward, Activation::none, g.N, O, P, b.data_ptr(), y.data_ptr(), nullptr,
                 x.dtype(), x.device().index);

  if (needs_grad({x, weight, bias})) {
    bool gx = requires_grad(x), gw = requires_grad(weight), gb = requires_grad(bias);
    const Shape& w_shape = weight.shape();
    record(
        "conv2d", {x, weight, bias}, {y},
        [xc, w2, g, chunk, gx, gw, gb, w_shape](const std::vector<Tensor>& grads) -> std::vector<Tensor> {
          Tensor gy = grads[0].contiguous();  // [N, O, Ho, Wo]
          int64_t O = w2.size(0), P = g.Ho * g.Wo;
          Tensor dx = gx ? Tensor::empty({g.N, g.C, g.H, g.W}, gy.dtype(), gy.device()) : Tensor();
          Tensor dw, db;
          if (gb) {
            db = Tensor::empty({O}, gy.dtype(), gy.device());
            if (gy.numel() > 0)
              NAT_DISPATCH(gy.device(), bias_act_backward, Activation::none, g.N, O, P, nullptr, gy.data_ptr(), nullptr,
                           db.data_ptr(), gy.dtype(), gy.device().index);
            else
              db.zero_();
          }
          for (int64_t n0 = 0; n0 < g.N && (gx || gw); n0 += chunk) {
            Conv2dShape gc = chunk_of(g, n0, chunk);
            // dy of the chunk as [O, n * Ho*Wo], the layout of W col.
            Tensor gyc = gy.slice(0, n0, n0 + gc.N).view({gc.N, O, P}).permute({1, 0, 2}).reshape({O, gc.N * P});
            if (gw) {
              Tensor part = matmul(gyc, im2col(xc, gc, n0), false, true);  // [O, C*kh*kw]
              dw = dw.defined() ? dw + part : part;
            }
            if (gx) {
              Tensor dcol = matmul(w2, gyc, true, false);  // [C*kh*kw, n * Ho*Wo]
              NAT_DISPATCH(gy.device(), col2im, gc, dcol.data_ptr(), dx.slice(0, n0, n0 + gc.N).data_ptr(), gy.dtype(),
                           gy.device().index);
            }
          }
          if (gw) dw = dw.defined() ? dw.view(w_shape) : Tensor::zeros(w_shape, gy.dtype(), gy.device());
          return {dx, dw, db};
        },
        xc.nbytes() + w2.nbytes());
  }
  return y;
}

}  // namespace nat::ops
