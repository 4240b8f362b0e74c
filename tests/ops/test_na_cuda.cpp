// CUDA Neighborhood Attention kernels against the CPU reference on random inputs, forward and every
// gradient, with poisoned outputs (label `cuda`; skips without a GPU).
#include <gtest/gtest.h>

#include "core/rng.h"
#include "ops/na.h"
#include "ops/na_kernels.h"
#include "ops/ops.h"
#include "support/test_util.h"

using namespace nat;
using nat::testing::max_abs_diff;
using nat::testing::poisoned;

namespace {
Tensor rnd(const Shape& s, uint64_t seed) {
  Generator g(seed);
  Tensor t = Tensor::empty(s);
  return uniform_(t, -1, 1, &g);
}

// A 2-D problem (axes 1 and 2) of B x heads x H x W tokens with head_dim C, kernel k, dilation d.
NAProblem problem_2d(int64_t B, int64_t heads, int64_t C, int64_t H, int64_t W, int64_t k, int64_t d) {
  NAProblem p;
  p.batch = B;
  p.heads = heads;
  p.dim = C;
  p.size[1] = H;
  p.size[2] = W;
  p.kernel[1] = p.kernel[2] = k;
  p.dilation[1] = p.dilation[2] = d;
  return p;
}
}  // namespace

TEST(OpsNaCuda, KernelsMatchCpuOnPoisonedOutputs) {
  NAT_SKIP_WITHOUT_CUDA();
  struct Cfg { int64_t B, heads, H, W, C, k, d; };
  for (Cfg c : {Cfg{2, 2, 14, 13, 32, 7, 1}, Cfg{1, 3, 10, 11, 8, 3, 3}, Cfg{2, 1, 7, 7, 32, 7, 1},
                Cfg{1, 2, 26, 28, 16, 13, 2}, Cfg{1, 1, 9, 9, 4, 9, 1}}) {
    SCOPED_TRACE(::testing::Message() << "H=" << c.H << " W=" << c.W << " k=" << c.k << " d=" << c.d);
    NAProblem p = problem_2d(c.B, c.heads, c.C, c.H, c.W, c.k, c.d);
    Shape ts{c.B, c.heads, c.H, c.W, c.C}, as{c.B, c.heads, c.H, c.W, c.k * c.k}, rs{c.heads, 2 * c.k - 1, 2 * c.k - 1};
    Tensor q = rnd(ts, 1), k = rnd(ts, 2), v = rnd(ts, 3), rpb = rnd(rs, 4), attn = rnd(as, 5), g = rnd(ts, 6),
           ga = rnd(as, 7);
    Device cu = Device::cuda(0);
    // forward QK
    Tensor a_cpu = Tensor::empty(as), a_cu = poisoned(as, DType::f32, cu);
    kernels::cpu::na_qk_forward(p, DType::f32, q.data_ptr(), k.data_ptr(), rpb.data_ptr(), a_cpu.data_ptr(), 0);
    Tensor qc = q.cuda(), kc = k.cuda(), vc = v.cuda(), rc = rpb.cuda(), ac = attn.cuda(), gc = g.cuda(), gac = ga.cuda();
    kernels::cuda::na_qk_forward(p, DType::f32, qc.data_ptr(), kc.data_ptr(), rc.data_ptr(), a_cu.data_ptr(), 0);
    EXPECT_LT(max_abs_diff(a_cpu, a_cu), 1e-4);
    // forward AV
    Tensor o_cpu = Tensor::empty(ts), o_cu = poisoned(ts, DType::f32, cu);
    kernels::cpu::na_av_forward(p, DType::f32, attn.data_ptr(), v.data_ptr(), o_cpu.data_ptr(), 0);
    kernels::cuda::na_av_forward(p, DType::f32, ac.data_ptr(), vc.data_ptr(), o_cu.data_ptr(), 0);
    EXPECT_LT(max_abs_diff(o_cpu, o_cu), 1e-4);
    // QK backward: dq, dk, drpb
    Tensor dq = Tensor::empty(ts), dk = Tensor::empty(ts), dr = Tensor::empty(rs);
    Tensor dq_c = poisoned(ts, DType::f32, cu), dk_c = poisoned(ts, DType::f32, cu), dr_c = poisoned(rs, DType::f32, cu);
    kernels::cpu::na_qk_backward(p, DType::f32, ga.data_ptr(), q.data_ptr(), k.data_ptr(), dq.data_ptr(),
                                 dk.data_ptr(), dr.data_ptr(), 0);
    kernels::cuda::na_qk_backward(p, DType::f32, gac.data_ptr(), qc.data_ptr(), kc.data_ptr(), dq_c.data_ptr(),
                                  dk_c.data_ptr(), dr_c.data_ptr(), 0);
    EXPECT_LT(max_abs_diff(dq, dq_c), 1e-4);
    EXPECT_LT(max_abs_diff(dk, dk_c), 1e-4);
    EXPECT_LT(max_abs_diff(dr, dr_c), 1e-3);
    // AV backward: dattn, dv
    Tensor da = Tensor::empty(as), dv = Tensor::empty(ts);
    Tensor da_c = poisoned(as, DType::f32, cu), dv_c = poisoned(ts, DType::f32, cu);
    kernels::cpu::na_av_backward(p, DType::f32, g.data_ptr(), attn.data_ptr(), v.data_ptr(), da.data_ptr(),
                                 dv.data_ptr(), 0);
    kernels::cuda::na_av_backward(p, DType::f32, gc.data_ptr(), ac.data_ptr(), vc.data_ptr(), da_c.data_ptr(),
                                  dv_c.data_ptr(), 0);
    EXPECT_LT(max_abs_diff(da, da_c), 1e-4);
    EXPECT_LT(max_abs_diff(dv, dv_c), 1e-4);
  }
}

TEST(OpsNaCuda, AutogradNa2dMatchesCpuAndDrpbIsDeterministic) {
  NAT_SKIP_WITHOUT_CUDA();
  Shape ts{2, 4, 28, 28, 32};
  Tensor q = rnd(ts, 1), k = rnd(ts, 2), v = rnd(ts, 3), rpb = rnd({4, 13, 13}, 4), dO = rnd(ts, 5);
  std::vector<Tensor> cpu = {q, k, v, rpb}, gpu = {q.cuda(), k.cuda(), v.cuda(), rpb.cuda()};
  for (auto* set : {&cpu, &gpu})
    for (auto& t : *set) set_requires_grad(t);
  Tensor o1 = ops::na2d(cpu[0], cpu[1], cpu[2], cpu[3], 7, 2);
  Tensor o2 = ops::na2d(gpu[0], gpu[1], gpu[2], gpu[3], 7, 2);
  EXPECT_LT(max_abs_diff(o1, o2), 1e-5);
  backward(o1, dO);
  backward(o2, dO.cuda());
  for (int i = 0; i < 4; ++i) EXPECT_LT(max_abs_diff(grad(cpu[i]), grad(gpu[i])), i == 3 ? 1e-3 : 1e-5) << i;
  // Run the rpb gradient twice: bitwise equal (no atomics).
  Tensor first = grad(gpu[3]).clone();
  zero_grad(gpu[3]);
  backward(ops::na2d(gpu[0], gpu[1], gpu[2], gpu[3], 7, 2), dO.cuda());
  EXPECT_EQ(max_abs_diff(first, grad(gpu[3])), 0.0);
  // bf16 storage, f32 accumulation: close to f32.
  Tensor ob = ops::na2d(detach(gpu[0]).to(DType::bf16), detach(gpu[1]).to(DType::bf16), detach(gpu[2]).to(DType::bf16),
                        detach(gpu[3]).to(DType::bf16), 7, 2);
  EXPECT_LT(max_abs_diff(ob.to(DType::f32), o1), 5e-2);
}

TEST(OpsNaCuda, FusedForwardTiledAndReferenceMatchCpu) {
  NAT_SKIP_WITHOUT_CUDA();
  // head_dim 32, dilation 1: the tiled kernel; dilation 2: the reference kernel. Maps not multiples of the tile.
  struct Cfg { int64_t H, W, k, d; };
  for (Cfg c : {Cfg{56, 56, 7, 1}, Cfg{15, 17, 3, 1}, Cfg{20, 13, 5, 1}, Cfg{13, 13, 13, 1}, Cfg{11, 12, 9, 1},
                Cfg{7, 7, 7, 1}, Cfg{16, 18, 5, 2}}) {
    SCOPED_TRACE(::testing::Message() << "H=" << c.H << " W=" << c.W << " k=" << c.k << " d=" << c.d);
    NAProblem p = problem_2d(2, 3, 32, c.H, c.W, c.k, c.d);
    Shape ts{2, 3, c.H, c.W, 32}, as{2, 3, c.H, c.W, c.k * c.k}, rs{3, 2 * c.k - 1, 2 * c.k - 1};
    Tensor q = rnd(ts, 1), k = rnd(ts, 2), v = rnd(ts, 3), rpb = rnd(rs, 4);
    Tensor o = Tensor::empty(ts), P = Tensor::empty(as);
    kernels::cpu::na_fused_forward(p, DType::f32, 0.17677669529663687, q.data_ptr(), k.data_ptr(), v.data_ptr(),
                                   rpb.data_ptr(), o.data_ptr(), P.data_ptr(), 0);
    Device cu = Device::cuda(0);
    Tensor oc = poisoned(ts, DType::f32, cu), Pc = poisoned(as, DType::f32, cu);
    Tensor qc = q.cuda(), kc = k.cuda(), vc = v.cuda(), rc = rpb.cuda();
    kernels::cuda::na_fused_forward(p, DType::f32, 0.17677669529663687, qc.data_ptr(), kc.data_ptr(), vc.data_ptr(),
                                    rc.data_ptr(), oc.data_ptr(), Pc.data_ptr(), 0);
    EXPECT_LT(max_abs_diff(o, oc), 1e-5);
    EXPECT_LT(max_abs_diff(P, Pc), 1e-6);
  }
}

TEST(OpsNaCuda, FusedBackwardTiledAndReferenceMatchCpu) {
  NAT_SKIP_WITHOUT_CUDA();
  struct Cfg { int64_t H, W, k, d; };
  for (Cfg c : {Cfg{28, 28, 7, 1}, Cfg{15, 17, 3, 1}, Cfg{13, 13, 13, 1}, Cfg{16, 18, 5, 2}}) {
    SCOPED_TRACE(::testing::Message() << "H=" << c.H << " W=" << c.W << " k=" << c.k << " d=" << c.d);
    NAProblem p = problem_2d(2, 2, 32, c.H, c.W, c.k, c.d);
    Shape ts{2, 2, c.H, c.W, 32}, as{2, 2, c.H, c.W, c.k * c.k}, rs{2, 2 * c.k - 1, 2 * c.k - 1};
    Tensor q = rnd(ts, 1), k = rnd(ts, 2), v = rnd(ts, 3), rpb = rnd(rs, 4), go = rnd(ts, 5);
    const double scale = 0.17677669529663687;
    Tensor o = Tensor::empty(ts), P = Tensor::empty(as);
    kernels::cpu::na_fused_forward(p, DType::f32, scale, q.data_ptr(), k.data_ptr(), v.data_ptr(), rpb.data_ptr(),
                                   o.data_ptr(), P.data_ptr(), 0);
    Tensor dq = Tensor::empty(ts), dk = Tensor::empty(ts), dv = Tensor::empty(ts), dr = Tensor::empty(rs),
           ws = Tensor::empty(as);
    kernels::cpu::na_fused_backward(p, DType::f32, scale, go.data_ptr(), q.data_ptr(), k.data_ptr(), v.data_ptr(),
                                    P.data_ptr(), dq.data_ptr(), dk.data_ptr(), dv.data_ptr(), dr.data_ptr(),
                                    ws.data_ptr(), 0);
    Device cu = Device::cuda(0);
    Tensor qc = q.cuda(), kc = k.cuda(), vc = v.cuda(), Pc = P.cuda(), gc = go.cuda();
    Tensor dqc = poisoned(ts, DType::f32, cu), dkc = poisoned(ts, DType::f32, cu), dvc = poisoned(ts, DType::f32, cu),
           drc = poisoned(rs, DType::f32, cu), wsc = poisoned(as, DType::f32, cu);
    kernels::cuda::na_fused_backward(p, DType::f32, scale, gc.data_ptr(), qc.data_ptr(), kc.data_ptr(), vc.data_ptr(),
                                     Pc.data_ptr(), dqc.data_ptr(), dkc.data_ptr(), dvc.data_ptr(), drc.data_ptr(),
                                     wsc.data_ptr(), 0);
    EXPECT_LT(max_abs_diff(ws, wsc), 1e-5);
    EXPECT_LT(max_abs_diff(dq, dqc), 1e-5);
    EXPECT_LT(max_abs_diff(dk, dkc), 1e-5);
    EXPECT_LT(max_abs_diff(dv, dvc), 1e-5);
    EXPECT_LT(max_abs_diff(dr, drc), 1e-3);
  }
}
