// Reductions: move the reduced dims last, view as [outer, inner], run the kernel, restore the shape.
#include "ops/reduce.h"

#include <algorithm>

#include "autograd/autograd.h"
#include "ops/elementwise.h"
#include "ops/op_util.h"
#include "ops/reduce_kernels.h"

namespace nat::ops {

namespace {

struct Plan {
  std::vector<int64_t> dims;  // sorted, unique, normalised
  Shape out_keep;             // output shape with reduced dims kept as 1
  Shape out;                  // output shape as requested
  std::vector<int64_t> perm;  // kept dims then reduced dims
  int64_t outer = 1, inner = 1;
};

Plan plan(const Tensor& x, std::vector<int64_t> dims, bool keepdim, const char* op) {
  Plan p;
  for (auto& d : dims) d = normalize_dim(d, x.dim(), op);
  std::sort(dims.begin(), dims.end());
  dims.erase(std::unique(dims.begin(), dims.end()), dims.end());
  p.dims = dims;
  std::vector<bool> reduced(x.dim(), false);
  for (auto d : dims) reduced[d] = true;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (reduced[d]) {
      p.inner *= x.shape()[d];
      p.out_keep.push_back(1);
      if (keepdim) p.out.push_back(1);
    } else {
      p.outer *= x.shape()[d];
      p.perm.push_back(d);
      p.out_keep.push_back(x.shape()[d]);
      p.out.push_back(x.shape()[d]);
    }
  }
  for (auto d : dims) p.perm.push_back(d);
  return p;
}

Tensor as_rows(const Tensor& x, const Plan& p) { return x.permute(p.perm).contiguous().reshape({p.outer, p.inner}); }

Tensor reduce(ReduceOp op, const char* name, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_float_same(name, {x});
  Plan p = plan(x, dims, keepdim, name);
  NAT_CHECK(op != ReduceOp::max || p.inner > 0, "[", name, "] cannot reduce an empty dimension, shape ",
            shape_str(x.shape()));
  Tensor rows = as_rows(x, p);
  Tensor y = Tensor::empty(p.out, x.dtype(), x.device());
  if (p.outer > 0)
    NAT_DISPATCH(x.device(), reduce_last, op, x.dtype(), p.outer, p.inner, rows.data_ptr(), y.data_ptr(),
                 x.device().index);
  if (needs_grad({x})) {
    Shape xs = x.shape(), keep = p.out_keep;
    int64_t inner = p.inner;
    record(name, {x}, {y}, [op, xs, keep, inner](const std::vector<Tensor>& g) -> std::vector<Tensor> {
      Tensor ge = g[0].reshape(keep).expand(xs);
      if (op == ReduceOp::mean) return {mul(ge.contiguous(), 1.0 / static_cast<double>(inner))};
      return {ge.contiguous()};
    });
  }
  return y;
}

std::vector<int64_t> all_dims(const Tensor& x) {
  std::vector<int64_t> d(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) d[i] = i;
  return d;
}

}  // namespace

Tensor sum(const Tensor& x) { return reduce(ReduceOp::sum, "sum", x, all_dims(x), false); }
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduce(ReduceOp::sum, "sum", x, dims, keepdim);
}
Tensor mean(const Tensor& x) { return reduce(ReduceOp::mean, "mean", x, all_dims(x), false); }
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduce(ReduceOp::mean, "mean", x, dims, keepdim);
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  detail::check_float_same("argmax", {x});
  Plan p = plan(x, {dim}, keepdim, "argmax");
  NAT_CHECK(p.inner > 0, "[argmax] cannot reduce an empty dimension, shape ", shape_str(x.shape()));
  Tensor rows = as_rows(x, p);
  Tensor idx = Tensor::empty(p.out, DType::i64, x.device());
  if (p.outer > 0)
    NAT_DISPATCH(x.device(), argmax_last, x.dtype(), p.outer, p.inner, rows.data_ptr(),
                 static_cast<int64_t*>(idx.data_ptr()), x.device().index);
  return idx;
}

Tensor max(const Tensor& x, int64_t dim, bool keepdim) {
  detail::check_float_same("max", {x});
  Plan p = plan(x, {dim}, keepdim, "max");
  Tensor y = reduce(ReduceOp::max, "max", detach(x), {dim}, keepdim);
  if (needs_grad({x})) {
    Tensor idx = argmax(detach(x), dim, /*keepdim=*/false);
    Shape xs = x.shape();
    std::vector<int64_t> perm = p.perm;
    int64_t outer = p.outer, inner = p.inner;
    Shape permuted;
    for (auto d : perm) permuted.push_back(xs[d]);
    y = detach(y);
    record("max", {x}, {y}, [idx, xs, perm, permuted, outer, inner](const std::vector<Tensor>& g) -> std::vector<Tensor> {
      Tensor gc = g[0].contiguous();
      Tensor rows = Tensor::empty({outer, inner}, gc.dtype(), gc.device());
      NAT_DISPATCH(gc.device(), scatter_last, gc.dtype(), outer, inner, static_cast<const int64_t*>(idx.data_ptr()),
                   gc.data_ptr(), rows.data_ptr(), gc.device().index);
      // rows is laid out in the permuted order: undo the permutation.
      std::vector<int64_t> inv(perm.size());
      for (size_t i = 0; i < perm.size(); ++i) inv[perm[i]] = static_cast<int64_t>(i);
      return {rows.reshape(permuted).permute(inv).contiguous()};
    }, idx.nbytes());
  }
  return y;
}

}  // namespace nat::ops
