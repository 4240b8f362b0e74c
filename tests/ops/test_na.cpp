// Neighborhood Attention against independent references: index tables, golden
// values, dense masked attention built from NATTEN v0.14.4's hand-written window rule (an independent
// formulation of the same windows), equivariances, gradient invariants and float64 gradchecks.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "autograd/gradcheck.h"
#include "core/rng.h"
#include "ops/na.h"
#include "ops/na_index.h"
#include "ops/ops.h"
#include "support/test_util.h"

using namespace nat;

namespace {

// ---- independent window rule (docs/na.md §4, NATTEN v0.14.4 written by hand) ----
int64_t legacy_start(int64_t i, int64_t L, int64_t k, int64_t d) {
  int64_t ns = k / 2;
  if (i - ns * d < 0) return i % d;
  if (i + ns * d >= L) {
    int64_t a = (L / d) * d, b = L - a, m = i % d;
    return m < b ? L - b + m - 2 * ns * d : a + m - k * d;
  }
  return i - ns * d;
}
int64_t legacy_pb_start(int64_t i, int64_t L, int64_t k, int64_t d) {
  int64_t ns = k / 2;
  if (i - ns * d < 0) return k - 1 - i / d;
  if (i + ns * d >= L) return (L - i - 1) / d;
  return ns;
}

// Dense masked attention for [B, heads, D, H, W, C] with per-axis k, d (rank-3 form); f64 loops.
struct Dense {
  std::vector<double> out, logits;  // logits: [B, heads, N, N] (-inf outside the window)
};
Dense dense_na(const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
               const std::vector<double>* rpb, int64_t B, int64_t heads, const int64_t size[3], int64_t C,
               const int64_t ks[3], const int64_t dil[3], double scale) {
  int64_t N = size[0] * size[1] * size[2];
  int64_t R[3] = {2 * ks[0] - 1, 2 * ks[1] - 1, 2 * ks[2] - 1};
  Dense r;
  r.out.assign(B * heads * N * C, 0.0);
  r.logits.assign(B * heads * N * N, -INFINITY);
  auto coords = [&](int64_t x, int64_t* c) {
    c[0] = x / (size[1] * size[2]);
    c[1] = (x / size[2]) % size[1];
    c[2] = x % size[2];
  };
  for (int64_t bh = 0; bh < B * heads; ++bh) {
    int64_t h = bh % heads;
    for (int64_t x = 0; x < N; ++x) {
      int64_t cx[3];
      coords(x, cx);
      std::vector<double> lg(N, -INFINITY);
      double mx = -INFINITY;
      for (int64_t y = 0; y < N; ++y) {
        int64_t cy[3];
        coords(y, cy);
        bool in = true;
        int64_t ridx = 0;
        for (int a = 0; a < 3; ++a) {
          int64_t st = legacy_start(cx[a], size[a], ks[a], dil[a]);
          int64_t off = cy[a] - st;
          in = in && off >= 0 && off % dil[a] == 0 && off / dil[a] < ks[a];
          int64_t ri = (ks[a] - 1) + (cy[a] - cx[a]) / dil[a];
          ridx = ridx * R[a] + ri;
        }
        if (!in) continue;
        double s = 0;
        for (int64_t e = 0; e < C; ++e) s += scale * q[(bh * N + x) * C + e] * k[(bh * N + y) * C + e];
        if (rpb) s += (*rpb)[h * R[0] * R[1] * R[2] + ridx];
        lg[y] = s;
        mx = std::max(mx, s);
      }
      double z = 0;
      for (int64_t y = 0; y < N; ++y) z += std::isinf(lg[y]) ? 0 : std::exp(lg[y] - mx);
      for (int64_t y = 0; y < N; ++y) {
        r.logits[(bh * N + x) * N + y] = lg[y];
        if (std::isinf(lg[y])) continue;
        double pw = std::exp(lg[y] - mx) / z;
        for (int64_t e = 0; e < C; ++e) r.out[(bh * N + x) * C + e] += pw * v[(bh * N + y) * C + e];
      }
    }
  }
  return r;
}

Tensor rnd(const Shape& s, uint64_t seed, double lo = -1, double hi = 1) {
  return nat::testing::random_f64(s, seed, lo, hi);
}

Tensor formula(const Shape& s, double a, double b, bool use_cos) {
  std::vector<double> v(numel(s));
  for (size_t n = 0; n < v.size(); ++n) v[n] = use_cos ? std::cos(a * n + b) : std::sin(a * n + b);
  return Tensor::from_vector(v, s);
}

double sum_of(const Tensor& t, bool absolute) {
  double s = 0;
  for (double x : t.to_double_vector()) s += absolute ? std::fabs(x) : x;
  return s;
}

}  // namespace

TEST(OpsNaIndex, SpecTables) {
  auto starts = [](int64_t L, int64_t k, int64_t d) {
    std::vector<int64_t> s;
    for (int64_t i = 0; i < L; ++i) s.push_back(na_window_start(i, L, k, d));
    return s;
  };
  auto pbs = [](int64_t L, int64_t k, int64_t d) {
    std::vector<int64_t> s;
    for (int64_t i = 0; i < L; ++i) s.push_back(na_pb_start(i, L, k, d));
    return s;
  };
  EXPECT_EQ(starts(10, 7, 1), (std::vector<int64_t>{0, 0, 0, 0, 1, 2, 3, 3, 3, 3}));
  EXPECT_EQ(pbs(10, 7, 1), (std::vector<int64_t>{6, 5, 4, 3, 3, 3, 3, 2, 1, 0}));
  EXPECT_EQ(starts(10, 3, 3), (std::vector<int64_t>{0, 1, 2, 0, 1, 2, 3, 1, 2, 3}));
  EXPECT_EQ(pbs(10, 3, 3), (std::vector<int64_t>{2, 2, 2, 1, 1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(starts(9, 3, 2), (std::vector<int64_t>{0, 1, 0, 1, 2, 3, 4, 3, 4}));
  EXPECT_EQ(pbs(9, 3, 2), (std::vector<int64_t>{2, 2, 1, 1, 1, 1, 1, 0, 0}));
  EXPECT_EQ(starts(7, 7, 1), (std::vector<int64_t>(7, 0)));
  EXPECT_EQ(pbs(7, 7, 1), (std::vector<int64_t>{6, 5, 4, 3, 2, 1, 0}));
}

TEST(OpsNaIndex, AgreesWithLegacyRuleAndInverseRangesAreExact) {
  for (int64_t k = 1; k <= 13; k += 2)
    for (int64_t d = 1; d <= 5; ++d)
      for (int64_t L = k * d; L <= k * d + 3 * d + 7; ++L)
        for (int64_t i = 0; i < L; ++i) {
          ASSERT_EQ(na_window_start(i, L, k, d), legacy_start(i, L, k, d)) << L << " " << k << " " << d << " " << i;
          ASSERT_EQ(na_pb_start(i, L, k, d), legacy_pb_start(i, L, k, d)) << L << " " << k << " " << d << " " << i;
          // Inverse range of key i equals the set of queries whose window contains it.
          int64_t first, count;
          na_inverse_range(i, L, k, d, first, count);
          std::vector<int64_t> expect;
          for (int64_t x = 0; x < L; ++x) {
            int64_t off = i - legacy_start(x, L, k, d);
            if (off >= 0 && off % d == 0 && off / d < k) expect.push_back(x);
          }
          std::vector<int64_t> got;
          for (int64_t c = 0; c < count; ++c) got.push_back(first + c * d);
          ASSERT_EQ(got, expect) << "L=" << L << " k=" << k << " d=" << d << " key=" << i;
        }
}

struct GoldenCase {
  int64_t H, X, Y, D, K, d;
  double s_logits, s_out, s_abs_out, s_dq, s_abs_dq, s_abs_dk, s_dv, s_abs_dv, s_abs_drpb;
  std::vector<double> out00, out_last;
};

TEST(OpsNa2d, GoldenValuesFromTheSpec) {
  std::vector<GoldenCase> cases = {
      {2, 6, 7, 4, 3, 1, 7.5425527741, -0.2906809560, 74.8115601558, 0.3363768345, 7.9857586502, 37.1616093360,
       -17.0173030279, 84.0557406070, 46.4698531699, {0.1442582876, 0.1764075815, 0.2064244952, 0.2339461899},
       {-0.3099874411, -0.2901044731, -0.2667147790, -0.2401010888}},
      {1, 8, 9, 4, 3, 2, 0.2351250619, -5.1267001907, 41.6497371832, -3.8782303014, 20.1895426843, 47.2680078541,
       19.9390404674, 36.1742331998, 30.7406508857, {0.0128812146, 0.0092297694, 0.0054667565, 0.0016376626},
       {0.0042704917, 0.0105492344, 0.0167004599, 0.0226498136}},
      {1, 5, 5, 4, 5, 1, 2.5211238822, 6.0989252413, 6.0989252413, -0.5549717017, 1.6098777527, 10.9356569605,
       -18.8163209017, 18.8163209017, 19.0915196090, {0.1135738365, 0.0981040008, 0.0814483031, 0.0638080744},
       {0.0447354787, 0.0366325540, 0.0280868221, 0.0192015822}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << "H=" << c.H << " X=" << c.X << " Y=" << c.Y << " K=" << c.K << " d=" << c.d);
    Shape s{1, c.H, c.X, c.Y, c.D};
    int64_t R = 2 * c.K - 1;
    Tensor q = set_requires_grad(formula(s, 0.37, 0.1, false));
    Tensor k = set_requires_grad(formula(s, 0.23, 0.2, true));
    Tensor v = set_requires_grad(formula(s, 0.11, 0.3, false));
    Tensor dO = formula(s, 0.05, 0.0, true);
    Tensor rpb = formula({c.H, R, R}, 0.7, 0.0, false);
    rpb = set_requires_grad(ops::mul(rpb, 0.05).contiguous());
    rpb = set_requires_grad(detach(rpb));
    double scale = 1.0 / std::sqrt(static_cast<double>(c.D));
    {
      NoGradGuard ng;
      Tensor logits = ops::na2d_qk(ops::mul(q, scale), k, rpb, c.K, c.d);
      EXPECT_NEAR(sum_of(logits, false), c.s_logits, 1e-9);
      if (c.H == 2) {
        std::vector<double> expect = {0.88605583, -0.02696867, -0.91365778, 0.69335754, -0.21136103,
                                      -0.94891641, 0.60258503, -0.39703619, -1.08972586};
        auto lv = logits.to_double_vector();
        for (int t = 0; t < 9; ++t) EXPECT_NEAR(lv[t], expect[t], 1e-8);
      }
    }
    Tensor out = ops::na2d(q, k, v, rpb, c.K, c.d);
    EXPECT_NEAR(sum_of(out, false), c.s_out, 1e-9);
    EXPECT_NEAR(sum_of(out, true), c.s_abs_out, 1e-9);
    auto ov = out.to_double_vector();
    for (int e = 0; e < 4; ++e) {
      EXPECT_NEAR(ov[e], c.out00[e], 1e-10);
      EXPECT_NEAR(ov[((c.X - 1) * c.Y + (c.Y - 1)) * c.D + e], c.out_last[e], 1e-10);
    }
    backward(out, dO);
    EXPECT_NEAR(sum_of(grad(q), false), c.s_dq, 1e-9);
    EXPECT_NEAR(sum_of(grad(q), true), c.s_abs_dq, 1e-9);
    EXPECT_NEAR(sum_of(grad(k), true), c.s_abs_dk, 1e-9);
    EXPECT_NEAR(sum_of(grad(k), false), 0.0, 1e-9);
    EXPECT_NEAR(sum_of(grad(v), false), c.s_dv, 1e-9);
    EXPECT_NEAR(sum_of(grad(v), true), c.s_abs_dv, 1e-9);
    EXPECT_NEAR(sum_of(grad(rpb), true), c.s_abs_drpb, 1e-9);
    EXPECT_NEAR(sum_of(grad(rpb), false), 0.0, 1e-9);
  }
}

namespace {
// Runs na{1,2,3}d on random f64 inputs and compares with dense masked attention.
void check_against_dense(int rank, int64_t B, int64_t heads, std::vector<int64_t> spatial, int64_t C,
                         std::vector<int64_t> ks, std::vector<int64_t> ds, bool with_rpb, uint64_t seed) {
  Shape s{B, heads};
  for (auto x : spatial) s.push_back(x);
  s.push_back(C);
  Tensor q = rnd(s, seed), k = rnd(s, seed + 1), v = rnd(s, seed + 2);
  Shape rs{heads};
  for (auto kk : ks) rs.push_back(2 * kk - 1);
  Tensor rpb = with_rpb ? rnd(rs, seed + 3) : Tensor();
  int64_t size[3] = {1, 1, 1}, kk3[3] = {1, 1, 1}, dd3[3] = {1, 1, 1};
  for (int a = 0; a < rank; ++a) {
    size[3 - rank + a] = spatial[a];
    kk3[3 - rank + a] = ks[a];
    dd3[3 - rank + a] = ds[a];
  }
  double scale = 1.0 / std::sqrt(static_cast<double>(C));
  auto qv = q.to_double_vector(), kv = k.to_double_vector(), vv = v.to_double_vector();
  std::vector<double> rv = with_rpb ? rpb.to_double_vector() : std::vector<double>{};
  Dense ref = dense_na(qv, kv, vv, with_rpb ? &rv : nullptr, B, heads, size, C, kk3, dd3, scale);
  Tensor out = rank == 1   ? ops::na1d(q, k, v, rpb, ks[0], ds[0])
               : rank == 2 ? ops::na2d(q, k, v, rpb, ks[0], ds[0])
                           : ops::na3d(q, k, v, rpb, {ks[0], ks[1], ks[2]}, {ds[0], ds[1], ds[2]});
  auto got = out.to_double_vector();
  double m = 0;
  for (size_t i = 0; i < got.size(); ++i) m = std::max(m, std::fabs(got[i] - ref.out[i]));
  EXPECT_LT(m, 1e-14) << "rank " << rank << " shape " << shape_str(s) << " k " << ks[0] << " d " << ds[0];
}
}  // namespace

TEST(OpsNa2d, EqualsDenseMaskedAttention) {
  // (H, W, k, d): interior, L mod d != 0, maps exactly k*d wide, k == map size (full attention)
  std::vector<std::array<int64_t, 4>> cfgs = {{9, 11, 3, 1}, {10, 13, 3, 3}, {9, 9, 3, 3},  {10, 11, 5, 2},
                                              {7, 7, 7, 1},  {5, 6, 5, 1},   {14, 15, 7, 2}, {12, 13, 3, 4}};
  uint64_t seed = 100;
  for (auto [H, W, k, d] : cfgs) {
    check_against_dense(2, 2, 2, {H, W}, 4, {k, k}, {d, d}, true, seed += 10);
    check_against_dense(2, 1, 3, {H, W}, 3, {k, k}, {d, d}, false, seed += 10);
  }
}

TEST(OpsNa1d3d, EqualDenseMaskedAttention) {
  check_against_dense(1, 2, 2, {17}, 5, {5}, {3}, true, 7);
  check_against_dense(1, 1, 1, {7}, 4, {7}, {1}, true, 8);
  check_against_dense(1, 2, 1, {20}, 3, {3}, {4}, false, 9);
  check_against_dense(3, 1, 2, {5, 6, 7}, 4, {3, 3, 5}, {1, 2, 1}, true, 10);
  check_against_dense(3, 2, 1, {3, 7, 6}, 3, {3, 5, 3}, {1, 1, 2}, false, 11);
}

TEST(OpsNa2d, MirrorAndTransposeEquivariance) {
  int64_t B = 1, heads = 2, H = 8, W = 11, C = 4, K = 3, d = 2;
  Tensor q = rnd({B, heads, H, W, C}, 1), k = rnd({B, heads, H, W, C}, 2), v = rnd({B, heads, H, W, C}, 3);
  Tensor rpb = rnd({heads, 2 * K - 1, 2 * K - 1}, 4);
  Tensor out = ops::na2d(q, k, v, rpb, K, d);
  // Flip along W: reverse index j of tokens, and the last axis of rpb.
  auto flip_w = [&](const Tensor& t, int64_t axis_len, int axis) {
    auto src = t.to_double_vector();
    std::vector<double> dst(src.size());
    Shape s = t.shape();
    Shape st = contiguous_strides(s);
    for (size_t n = 0; n < src.size(); ++n) {
      int64_t idx = (static_cast<int64_t>(n) / st[axis]) % axis_len;
      int64_t m = static_cast<int64_t>(n) + (axis_len - 1 - 2 * idx) * st[axis];
      dst[m] = src[n];
    }
    return Tensor::from_vector(dst, s);
  };
  Tensor outf = ops::na2d(flip_w(q, W, 3), flip_w(k, W, 3), flip_w(v, W, 3), flip_w(rpb, 2 * K - 1, 2), K, d);
  EXPECT_LT(nat::testing::max_abs_diff(outf, flip_w(out, W, 3)), 1e-15);
  // Transpose H and W.
  auto tr = [](const Tensor& t) { return t.transpose(2, 3).contiguous(); };
  Tensor outt = ops::na2d(tr(q), tr(k), tr(v), rpb.transpose(1, 2).contiguous(), K, d);
  EXPECT_LT(nat::testing::max_abs_diff(outt, tr(out)), 1e-15);
}

TEST(OpsNa2d, GradientInvariants) {
  int64_t B = 2, heads = 2, H = 11, W = 10, C = 3, K = 5, d = 2;
  Tensor q = set_requires_grad(rnd({B, heads, H, W, C}, 1));
  Tensor k = set_requires_grad(rnd({B, heads, H, W, C}, 2));
  Tensor v = set_requires_grad(rnd({B, heads, H, W, C}, 3));
  Tensor rpb = set_requires_grad(rnd({heads, 2 * K - 1, 2 * K - 1}, 4));
  Tensor dO = rnd({B, heads, H, W, C}, 5);
  backward(ops::na2d(q, k, v, rpb, K, d), dO);
  Tensor sdk = ops::sum(grad(k), {2, 3});
  for (double x : sdk.to_double_vector()) EXPECT_NEAR(x, 0.0, 1e-13);
  for (double x : ops::sum(grad(rpb), {1, 2}).to_double_vector()) EXPECT_NEAR(x, 0.0, 1e-13);
  EXPECT_LT(nat::testing::max_abs_diff(ops::sum(grad(v), {2, 3}), ops::sum(dO, {2, 3})), 1e-13);
}

TEST(OpsNa, GradcheckAllInputs) {
  auto run = [](const char* what, int rank, Shape s, Shape rs, std::function<Tensor(const std::vector<Tensor>&)> f) {
    SCOPED_TRACE(what);
    std::vector<Tensor> in = {set_requires_grad(rnd(s, 1)), set_requires_grad(rnd(s, 2)),
                              set_requires_grad(rnd(s, 3)), set_requires_grad(rnd(rs, 4))};
    GradcheckResult r = gradcheck(f, in);
    EXPECT_TRUE(r.ok) << r.report;
    EXPECT_LT(r.max_abs_error, 1e-7);
    (void)rank;
  };
  run("na2d k3 d2", 2, {1, 2, 7, 6, 3}, {2, 5, 5},
      [](const std::vector<Tensor>& x) { return ops::na2d(x[0], x[1], x[2], x[3], 3, 2); });
  run("na2d k5 d1", 2, {2, 1, 6, 5, 2}, {1, 9, 9},
      [](const std::vector<Tensor>& x) { return ops::na2d(x[0], x[1], x[2], x[3], 5, 1); });
  run("na1d k3 d3", 1, {1, 2, 10, 3}, {2, 5},
      [](const std::vector<Tensor>& x) { return ops::na1d(x[0], x[1], x[2], x[3], 3, 3); });
  run("na3d", 3, {1, 1, 3, 4, 5, 2}, {1, 5, 5, 5},
      [](const std::vector<Tensor>& x) { return ops::na3d(x[0], x[1], x[2], x[3], {3, 3, 3}, {1, 1, 1}); });
  // The two kernels on their own, with a non-contiguous input.
  Tensor q = set_requires_grad(rnd({1, 2, 6, 7, 3}, 5).transpose(2, 3));  // [1, 2, 7, 6, 3] view
  Tensor k = set_requires_grad(rnd({1, 2, 7, 6, 3}, 6));
  GradcheckResult r = gradcheck([](const std::vector<Tensor>& x) { return ops::na2d_qk(x[0], x[1], Tensor(), 3, 1); },
                                {q, k});
  EXPECT_TRUE(r.ok) << r.report;
  Tensor attn = set_requires_grad(rnd({1, 2, 7, 6, 9}, 7));
  r = gradcheck([](const std::vector<Tensor>& x) { return ops::na2d_av(x[0], x[1], 3, 2); }, {attn, k});
  EXPECT_TRUE(r.ok) << r.report;
}

TEST(OpsNa, BadInputErrorsNameTensorAndNumbers) {
  Tensor q = Tensor::zeros({1, 2, 6, 6, 4});
  auto expect_msg = [](const std::function<void()>& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "expected nat::Error containing '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_msg([&] { ops::na2d(q, q, q, Tensor(), 4); }, "odd");
  expect_msg([&] { ops::na2d(q, q, q, Tensor(), 3, 0); }, "dilation must be >= 1");
  expect_msg([&] { ops::na2d(q, q, q, Tensor(), 7); }, "needs H >= 7, got H=6");
  expect_msg([&] { ops::na2d(q, q, q, Tensor(), 3, 3); }, "needs H >= 9");
  expect_msg([&] { ops::na2d(q, q, q, Tensor::zeros({2, 3, 3}), 3); }, "rpb must have shape [2, 5, 5]");
  expect_msg([&] { ops::na2d(q, Tensor::zeros({1, 2, 6, 5, 4}), q, Tensor(), 3); }, "k shape");
  expect_msg([&] { ops::na2d(Tensor::zeros({2, 6, 6, 4}), q, q, Tensor(), 3); }, "must have 5 dims");
  expect_msg([&] { ops::na1d(Tensor::zeros({1, 1, 4, 2}), Tensor::zeros({1, 1, 4, 2}), Tensor::zeros({1, 1, 4, 2}),
                             Tensor(), 5); }, "needs L >= 5");
}

TEST(OpsNa2d, FusedKernelEqualsComposedOps) {
  // na2d runs the fused kernel; the composition of its primitive ops is the oracle.
  int64_t K = 5, d = 2;
  Shape s{2, 3, 11, 12, 32};  // head_dim 32 takes the specialised path
  for (int64_t C : {int64_t(32), int64_t(5)}) {
    s.back() = C;
    std::vector<Tensor> a = {rnd(s, 1), rnd(s, 2), rnd(s, 3), rnd({3, 2 * K - 1, 2 * K - 1}, 4)};
    std::vector<Tensor> b;
    for (auto& t : a) b.push_back(set_requires_grad(t.clone()));
    for (auto& t : a) set_requires_grad(t);
    Tensor dO = rnd(s, 5);
    Tensor fused = ops::na2d(a[0], a[1], a[2], a[3], K, d);
    double scale = 1.0 / std::sqrt(static_cast<double>(C));
    Tensor composed = ops::na2d_av(ops::softmax(ops::na2d_qk(ops::mul(b[0], scale), b[1], b[3], K, d)), b[2], K, d);
    EXPECT_LT(nat::testing::max_abs_diff(fused, composed), 1e-14);
    backward(fused, dO);
    backward(composed, dO);
    for (int i = 0; i < 4; ++i) EXPECT_LT(nat::testing::max_abs_diff(grad(a[i]), grad(b[i])), 1e-13) << "input " << i;
  }
}
