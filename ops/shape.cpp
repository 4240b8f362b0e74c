// Shape ops: validate (naming the op and the shapes), build the result from the core Tensor view
// methods or Tensor::copy_, and record one tape node. No kernels of their own: every element copy
// (contiguous, cat, pad, and the scatter in slice/select backward) is a strided copy_ of the backend.
// A recorded output always gets a handle of its own (never the input's impl), so it gets its own history.
#include "ops/shape.h"

#include <algorithm>
#include <string>

#include "autograd/autograd.h"
#include "ops/op_util.h"

namespace nat::ops {

namespace {

void check_defined(const char* op, const Tensor& x) { NAT_CHECK(x.defined(), "[", op, "] undefined input tensor"); }

// Normalises `dim` for a tensor of `ndim` dims; the error names the op and the input's shape.
int64_t wrap_dim(const char* op, int64_t dim, int64_t ndim, const Tensor& x) {
  int64_t n = std::max<int64_t>(ndim, 1);
  NAT_CHECK(dim >= -n && dim < n, "[", op, "] dim ", dim, " is out of range for input ", x.meta_str(), " (expected ",
            -n, "..", n - 1, ")");
  return dim < 0 ? dim + n : dim;
}

// Records `name` for a single-input, single-output op whose input gradient is grad_fn(output gradient).
template <typename GradFn>
Tensor record_unary(const char* name, const Tensor& x, Tensor out, GradFn grad_fn) {
  if (!needs_grad({x})) return out;
  if (out.impl_ptr() == x.impl_ptr()) out = detach(out);  // e.g. squeeze of a dim whose size is not 1
  record(name, {x}, {out}, [grad_fn](const std::vector<Tensor>& g) -> std::vector<Tensor> { return {grad_fn(g[0])}; });
  return out;
}

std::string describe_all(const std::vector<Tensor>& xs) {
  std::string s;
  for (size_t i = 0; i < xs.size(); ++i) s += (i ? ", " : "") + xs[i].meta_str();
  return s;
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  check_defined("reshape", x);
  return record_unary("reshape", x, x.reshape(shape), [xs = x.shape()](const Tensor& g) { return g.reshape(xs); });
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  check_defined("permute", x);
  NAT_CHECK(static_cast<int64_t>(dims.size()) == x.dim(), "[permute] got ", dims.size(), " dims ", shape_str(dims),
            " for input ", x.meta_str());
  std::vector<int64_t> inv(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim("permute", dims[i], x.dim(), x);
    NAT_CHECK(inv[d] < 0, "[permute] dim ", d, " repeated in ", shape_str(dims), " for input ", x.meta_str());
    inv[d] = static_cast<int64_t>(i);
  }
  return record_unary("permute", x, x.permute(dims), [inv](const Tensor& g) { return g.permute(inv); });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  check_defined("transpose", x);
  d0 = wrap_dim("transpose", d0, x.dim(), x);
  d1 = wrap_dim("transpose", d1, x.dim(), x);
  if (x.dim() == 0) return record_unary("transpose", x, x.view({}), [](const Tensor& g) { return g; });
  return record_unary("transpose", x, x.transpose(d0, d1), [d0, d1](const Tensor& g) { return g.transpose(d0, d1); });
}

Tensor contiguous(const Tensor& x) {
  check_defined("contiguous", x);
  if (x.is_contiguous()) return x;  // same tensor, same autograd identity: nothing to record
  return record_unary("contiguous", x, x.contiguous(), [](const Tensor& g) { return g; });
}

Tensor flatten(const Tensor& x, int64_t start, int64_t end) {
  check_defined("flatten", x);
  if (x.dim() > 0) {
    int64_t s = wrap_dim("flatten", start, x.dim(), x), e = wrap_dim("flatten", end, x.dim(), x);
    NAT_CHECK(s <= e, "[flatten] start dim ", start, " comes after end dim ", end, " for input ", x.meta_str());
  }
  return record_unary("flatten", x, x.flatten(start, end), [xs = x.shape()](const Tensor& g) { return g.reshape(xs); });
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  check_defined("unsqueeze", x);
  NAT_CHECK(dim >= -(x.dim() + 1) && dim <= x.dim(), "[unsqueeze] dim ", dim, " is out of range for input ",
            x.meta_str(), " (expected ", -(x.dim() + 1), "..", x.dim(), ")");
  return record_unary("unsqueeze", x, x.unsqueeze(dim), [xs = x.shape()](const Tensor& g) { return g.reshape(xs); });
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  check_defined("squeeze", x);
  dim = wrap_dim("squeeze", dim, x.dim(), x);
  Tensor out = x.dim() == 0 ? x.view({}) : x.squeeze(dim);  // a 0-d tensor has nothing to squeeze
  return record_unary("squeeze", x, out, [xs = x.shape()](const Tensor& g) { return g.reshape(xs); });
}

Tensor expand(const Tensor& x, const Shape& shape) {
  check_defined("expand", x);
  return record_unary("expand", x, x.expand(shape),
                      [xs = x.shape()](const Tensor& g) { return detail::sum_to_shape(g, xs); });
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  check_defined("slice", x);
  NAT_CHECK(x.dim() > 0, "[slice] cannot slice a 0-d tensor ", x.meta_str());
  dim = wrap_dim("slice", dim, x.dim(), x);
  NAT_CHECK(step > 0, "[slice] step must be positive, got ", step, " for input ", x.meta_str());
  // Backward scatters the gradient into zeros through the same view (same clamping of the bounds).
  return record_unary("slice", x, x.slice(dim, start, end, step),
                      [xs = x.shape(), dim, start, end, step](const Tensor& g) {
                        Tensor gx = Tensor::zeros(xs, g.dtype(), g.device());
                        gx.slice(dim, start, end, step).copy_(g);
                        return gx;
                      });
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  check_defined("select", x);
  NAT_CHECK(x.dim() > 0, "[select] cannot select from a 0-d tensor ", x.meta_str());
  dim = wrap_dim("select", dim, x.dim(), x);
  int64_t n = x.size(dim);
  NAT_CHECK(index >= -n && index < n, "[select] index ", index, " is out of range for dim ", dim, " of size ", n,
            " (input ", x.meta_str(), ")");
  if (index < 0) index += n;
  return record_unary("select", x, x.select(dim, index), [xs = x.shape(), dim, index](const Tensor& g) {
    Tensor gx = Tensor::zeros(xs, g.dtype(), g.device());
    gx.select(dim, index).copy_(g);
    return gx;
  });
}

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  NAT_CHECK(!xs.empty(), "[cat] needs at least one tensor");
  for (size_t i = 0; i < xs.size(); ++i) NAT_CHECK(xs[i].defined(), "[cat] input ", i, " is undefined");
  const Tensor& first = xs[0];
  NAT_CHECK(first.dim() > 0, "[cat] 0-d tensors cannot be concatenated, got ", describe_all(xs));
  int64_t n = first.dim();
  NAT_CHECK(dim >= -n && dim < n, "[cat] dim ", dim, " is out of range for inputs of ", n, " dims: ", describe_all(xs));
  if (dim < 0) dim += n;
  Shape out_shape = first.shape();
  out_shape[dim] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    NAT_CHECK(x.dtype() == first.dtype(), "[cat] inputs have different dtypes: ", describe_all(xs));
    NAT_CHECK(x.device() == first.device(), "[cat] inputs are on different devices: ", describe_all(xs));
    NAT_CHECK(x.dim() == n, "[cat] inputs have different numbers of dims: ", describe_all(xs));
    for (int64_t d = 0; d < n; ++d)
      NAT_CHECK(d == dim || x.size(d) == first.size(d), "[cat] sizes must match except in dim ", dim, ", but input ", i,
                " differs in dim ", d, ": ", describe_all(xs));
    out_shape[dim] += x.size(dim);
  }
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
  std::vector<int64_t> offsets(xs.size() + 1, 0);
  for (size_t i = 0; i < xs.size(); ++i) {
    offsets[i + 1] = offsets[i] + xs[i].size(dim);
    if (xs[i].numel() > 0) out.slice(dim, offsets[i], offsets[i + 1]).copy_(xs[i]);
  }
  if (needs_grad(xs)) {
    std::vector<bool> want(xs.size());
    for (size_t i = 0; i < xs.size(); ++i) want[i] = requires_grad(xs[i]);
    record("cat", xs, {out}, [dim, offsets, want](const std::vector<Tensor>& g) -> std::vector<Tensor> {
      std::vector<Tensor> gx(want.size());
      for (size_t i = 0; i < want.size(); ++i)
        if (want[i]) gx[i] = g[0].slice(dim, offsets[i], offsets[i + 1]);
      return gx;
    });
  }
  return out;
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value) {
  check_defined("pad", x);
  NAT_CHECK(pads.size() % 2 == 0, "[pad] pads must come in (left, right) pairs, got ", pads.size(), " values ",
            shape_str(pads), " for input ", x.meta_str());
  int64_t npairs = static_cast<int64_t>(pads.size() / 2);
  NAT_CHECK(npairs <= x.dim(), "[pad] pads ", shape_str(pads), " cover ", npairs, " dims but input ", x.meta_str(),
            " has ", x.dim());
  for (int64_t p : pads)
    NAT_CHECK(p >= 0, "[pad] pads must be >= 0 (cropping is not supported), got ", shape_str(pads), " for input ",
              x.meta_str());
  Shape out_shape = x.shape();
  for (int64_t i = 0; i < npairs; ++i) out_shape[x.dim() - 1 - i] += pads[2 * i] + pads[2 * i + 1];
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  // Fill only the borders (corners may be filled twice), then copy x into the interior: each element is
  // written once or twice, never read.
  Tensor interior = out;
  for (int64_t i = 0; i < npairs; ++i) {
    int64_t d = x.dim() - 1 - i, lo = pads[2 * i], hi = pads[2 * i + 1], size = x.size(d);
    if (lo > 0) out.slice(d, 0, lo).fill_(value);
    if (hi > 0) out.slice(d, lo + size, lo + size + hi).fill_(value);
    interior = interior.slice(d, lo, lo + size);
  }
  if (x.numel() > 0) interior.copy_(x);
  if (needs_grad({x})) {
    int64_t ndim = x.dim();
    record("pad", {x}, {out}, [pads, npairs, ndim](const std::vector<Tensor>& g) -> std::vector<Tensor> {
      Tensor gx = g[0];
      for (int64_t i = 0; i < npairs; ++i) {
        int64_t d = ndim - 1 - i, lo = pads[2 * i], hi = pads[2 * i + 1];
        gx = gx.slice(d, lo, gx.size(d) - hi);
      }
      return {gx};
    });
  }
  return out;
}

}  // namespace nat::ops
