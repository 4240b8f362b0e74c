// Neighborhood Attention ops: validation, the rank-1/2/3 -> rank-3 mapping, dispatch, tape nodes.
#include "ops/na.h"

#include <cmath>

#include "autograd/autograd.h"
#include "ops/elementwise.h"
#include "ops/na_kernels.h"
#include "ops/op_util.h"
#include "ops/softmax.h"

namespace nat::ops {

namespace {

const char* axis_name(int rank, int a) {
  static const char* n1[] = {"L"};
  static const char* n2[] = {"H", "W"};
  static const char* n3[] = {"D", "H", "W"};
  return rank == 1 ? n1[a] : rank == 2 ? n2[a] : n3[a];
}

// Builds the rank-3 problem for a rank-`rank` NA on tokens `x` ([B, heads, spatial..., dim]).
NAProblem make_problem(const char* op, int rank, const Tensor& x, Size3 ks, Size3 dil, const char* what) {
  NAT_CHECK(x.dim() == rank + 3, "[", op, "] ", what, " must have ", rank + 3, " dims [B, heads, ",
            rank == 1 ? "L" : rank == 2 ? "H, W" : "D, H, W", ", dim], got shape ", shape_str(x.shape()));
  NAProblem p;
  p.batch = x.size(0);
  p.heads = x.size(1);
  p.dim = x.size(-1);
  for (int a = 0; a < rank; ++a) {
    int slot = 3 - rank + a;
    int64_t L = x.size(2 + a), k = ks[slot], d = dil[slot];
    NAT_CHECK(k >= 1 && k % 2 == 1, "[", op, "] kernel_size must be odd and >= 1, got ", k);
    NAT_CHECK(d >= 1, "[", op, "] dilation must be >= 1, got ", d);
    NAT_CHECK(L >= k * d, "[", op, "] kernel_size ", k, " with dilation ", d, " needs ", axis_name(rank, a), " >= ",
              k * d, ", got ", axis_name(rank, a), "=", L, " (", what, " shape ", shape_str(x.shape()), ")");
    p.size[slot] = L;
    p.kernel[slot] = k;
    p.dilation[slot] = d;
  }
  return p;
}

Shape rpb_shape(int rank, int64_t heads, Size3 ks) {
  Shape s{heads};
  for (int a = 3 - rank; a < 3; ++a) s.push_back(2 * ks[a] - 1);
  return s;
}

Shape attn_shape(const Tensor& q, const NAProblem& p) {
  Shape s(q.shape().begin(), q.shape().end() - 1);
  s.push_back(p.window());
  return s;
}

Tensor qk(const char* op, int rank, const Tensor& q, const Tensor& k, const Tensor& rpb, Size3 ks, Size3 dil) {
  if (rpb.defined()) detail::check_float_same(op, {q, k, rpb});
  else detail::check_float_same(op, {q, k});
  NAProblem p = make_problem(op, rank, q, ks, dil, "q");
  NAT_CHECK(k.shape() == q.shape(), "[", op, "] k shape ", shape_str(k.shape()), " differs from q shape ",
            shape_str(q.shape()));
  if (rpb.defined())
    NAT_CHECK(rpb.shape() == rpb_shape(rank, p.heads, ks), "[", op, "] rpb must have shape ",
              shape_str(rpb_shape(rank, p.heads, ks)), " for ", p.heads, " heads and kernel_size ", ks[2],
              ", got ", shape_str(rpb.shape()));
  Tensor qc = q.contiguous(), kc = k.contiguous(), rc = rpb.defined() ? rpb.contiguous() : Tensor();
  Tensor attn = Tensor::empty(attn_shape(q, p), q.dtype(), q.device());
  NAT_DISPATCH(q.device(), na_qk_forward, p, q.dtype(), qc.data_ptr(), kc.data_ptr(),
               rc.defined() ? rc.data_ptr() : nullptr, attn.data_ptr(), q.device().index);
  if (needs_grad({q, k, rpb})) {
    bool gq = requires_grad(q), gk = requires_grad(k), gr = requires_grad(rpb);
    Tensor qs = detach(qc), ksv = detach(kc);
    Shape rshape = rpb.defined() ? rpb.shape() : Shape{};
    record(op, {q, k, rpb}, {attn},
           [p, gq, gk, gr, qs, ksv, rshape](const std::vector<Tensor>& g) -> std::vector<Tensor> {
             Tensor ga = g[0].contiguous();
             Tensor dq = gq ? Tensor::empty(qs.shape(), qs.dtype(), qs.device()) : Tensor();
             Tensor dk = gk ? Tensor::empty(qs.shape(), qs.dtype(), qs.device()) : Tensor();
             Tensor dr = gr ? Tensor::empty(rshape, qs.dtype(), qs.device()) : Tensor();
             NAT_DISPATCH(qs.device(), na_qk_backward, p, qs.dtype(), ga.data_ptr(), qs.data_ptr(), ksv.data_ptr(),
                          gq ? dq.data_ptr() : nullptr, gk ? dk.data_ptr() : nullptr, gr ? dr.data_ptr() : nullptr,
                          qs.device().index);
             return {dq, dk, dr};
           },
           q.nbytes() + k.nbytes());
  }
  return attn;
}

Tensor av(const char* op, int rank, const Tensor& attn, const Tensor& v, Size3 ks, Size3 dil) {
  detail::check_float_same(op, {attn, v});
  NAProblem p = make_problem(op, rank, v, ks, dil, "v");
  NAT_CHECK(attn.shape() == attn_shape(v, p), "[", op, "] attn must have shape ", shape_str(attn_shape(v, p)),
            " for v ", shape_str(v.shape()), " and a window of ", p.window(), ", got ", shape_str(attn.shape()));
  Tensor ac = attn.contiguous(), vc = v.contiguous();
  Tensor out = Tensor::empty(v.shape(), v.dtype(), v.device());
  NAT_DISPATCH(v.device(), na_av_forward, p, v.dtype(), ac.data_ptr(), vc.data_ptr(), out.data_ptr(), v.device().index);
  if (needs_grad({attn, v})) {
    bool ga = requires_grad(attn), gv = requires_grad(v);
    Tensor as = detach(ac), vs = detach(vc);
    record(op, {attn, v}, {out},
           [p, ga, gv, as, vs](const std::vector<Tensor>& g) -> std::vector<Tensor> {
             Tensor go = g[0].contiguous();
             Tensor da = ga ? Tensor::empty(as.shape(), as.dtype(), as.device()) : Tensor();
             Tensor dv = gv ? Tensor::empty(vs.shape(), vs.dtype(), vs.device()) : Tensor();
             NAT_DISPATCH(vs.device(), na_av_backward, p, vs.dtype(), go.data_ptr(), as.data_ptr(), vs.data_ptr(),
                          ga ? da.data_ptr() : nullptr, gv ? dv.data_ptr() : nullptr, vs.device().index);
             return {da, dv};
           },
           attn.nbytes() + v.nbytes());
  }
  return out;
}

// scale -> QK + rpb -> softmax -> AV in one fused kernel; one tape node whose backward is the fused
// backward kernel. Windows larger than the CUDA fused kernel's 512 keys fall back to the composition.
Tensor attention(const char* op, int rank, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& rpb,
                 Size3 ks, Size3 dil) {
  NAT_CHECK(q.dim() == rank + 3, "[", op, "] q must have ", rank + 3, " dims, got shape ", shape_str(q.shape()));
  NAT_CHECK(v.shape() == q.shape(), "[", op, "] v shape ", shape_str(v.shape()), " differs from q shape ",
            shape_str(q.shape()));
  NAT_CHECK(k.shape() == q.shape(), "[", op, "] k shape ", shape_str(k.shape()), " differs from q shape ",
            shape_str(q.shape()));
  if (rpb.defined()) detail::check_float_same(op, {q, k, v, rpb});
  else detail::check_float_same(op, {q, k, v});
  double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  NAProblem p = make_problem(op, rank, q, ks, dil, "q");
  if (rpb.defined())
    NAT_CHECK(rpb.shape() == rpb_shape(rank, p.heads, ks), "[", op, "] rpb must have shape ",
              shape_str(rpb_shape(rank, p.heads, ks)), " for ", p.heads, " heads and kernel_size ", ks[2],
              ", got ", shape_str(rpb.shape()));
  if (q.is_cuda() && p.window() > 512) {
    Tensor logits = qk(op, rank, mul(q, scale), k, rpb, ks, dil);
    return av(op, rank, softmax(logits), v, ks, dil);
  }
  Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous(), rc = rpb.defined() ? rpb.contiguous() : Tensor();
  Tensor out = Tensor::empty(q.shape(), q.dtype(), q.device());
  Tensor P = Tensor::empty(attn_shape(q, p), q.dtype(), q.device());
  NAT_DISPATCH(q.device(), na_fused_forward, p, q.dtype(), scale, qc.data_ptr(), kc.data_ptr(), vc.data_ptr(),
               rc.defined() ? rc.data_ptr() : nullptr, out.data_ptr(), P.data_ptr(), q.device().index);
  if (needs_grad({q, k, v, rpb})) {
    bool gq = requires_grad(q), gk = requires_grad(k), gv = requires_grad(v), gr = requires_grad(rpb);
    Tensor qs = detach(qc), ksv = detach(kc), vs = detach(vc), Ps = detach(P);
    Shape rshape = rpb.defined() ? rpb.shape() : Shape{};
    record(op, {q, k, v, rpb}, {out},
           [p, scale, gq, gk, gv, gr, qs, ksv, vs, Ps, rshape](const std::vector<Tensor>& g) -> std::vector<Tensor> {
             Tensor go = g[0].contiguous();
             auto maybe = [&](bool need, const Shape& s) {
               return need ? Tensor::empty(s, qs.dtype(), qs.device()) : Tensor();
             };
             Tensor dq = maybe(gq, qs.shape()), dk = maybe(gk, qs.shape()), dv = maybe(gv, qs.shape()),
                    dr = maybe(gr, rshape);
             Tensor workspace = Tensor::empty(Ps.shape(), Ps.dtype(), Ps.device());
             auto ptr = [](const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; };
             NAT_DISPATCH(qs.device(), na_fused_backward, p, qs.dtype(), scale, go.data_ptr(), qs.data_ptr(),
                          ksv.data_ptr(), vs.data_ptr(), Ps.data_ptr(), ptr(dq), ptr(dk), ptr(dv), ptr(dr),
                          workspace.data_ptr(), qs.device().index);
             return {dq, dk, dv, dr};
           },
           q.nbytes() * 3 + P.nbytes());
  }
  return out;
}

Size3 last(int64_t k) { return {1, 1, k}; }
Size3 last2(int64_t k) { return {1, k, k}; }

}  // namespace

Tensor na1d_qk(const Tensor& q, const Tensor& k, const Tensor& rpb, int64_t ks, int64_t d) {
  return qk("na1d_qk", 1, q, k, rpb, last(ks), last(d));
}
Tensor na1d_av(const Tensor& attn, const Tensor& v, int64_t ks, int64_t d) {
  return av("na1d_av", 1, attn, v, last(ks), last(d));
}
Tensor na1d(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& rpb, int64_t ks, int64_t d) {
  return attention("na1d", 1, q, k, v, rpb, last(ks), last(d));
}

Tensor na2d_qk(const Tensor& q, const Tensor& k, const Tensor& rpb, int64_t ks, int64_t d) {
  return qk("na2d_qk", 2, q, k, rpb, last2(ks), last2(d));
}
Tensor na2d_av(const Tensor& attn, const Tensor& v, int64_t ks, int64_t d) {
  return av("na2d_av", 2, attn, v, last2(ks), last2(d));
}
Tensor na2d(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& rpb, int64_t ks, int64_t d) {
  return attention("na2d", 2, q, k, v, rpb, last2(ks), last2(d));
}

Tensor na3d_qk(const Tensor& q, const Tensor& k, const Tensor& rpb, Size3 ks, Size3 d) {
  return qk("na3d_qk", 3, q, k, rpb, ks, d);
}
Tensor na3d_av(const Tensor& attn, const Tensor& v, Size3 ks, Size3 d) { return av("na3d_av", 3, attn, v, ks, d); }
Tensor na3d(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& rpb, Size3 ks, Size3 d) {
  return attention("na3d", 3, q, k, v, rpb, ks, d);
}

}  // namespace nat::ops
