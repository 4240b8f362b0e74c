// The CUDA backend of core's kernel list against the CPU backend on the same inputs: round trips,
// strided copies, casts and fills bit for bit, Philox streams (uniform and bernoulli exactly, normal and
// truncated normal within 1 ulp of f32), pinned non-blocking copies, caching-allocator statistics and
// the out-of-memory error. Device outputs start poisoned. Every test skips, visibly, without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/backend.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "support/expect_error.h"
#include "support/test_util.h"

namespace nat {
namespace {

using testing::poisoned;

const DType kAll[] = {DType::f32, DType::f64, DType::bf16, DType::f16, DType::i32, DType::i64, DType::u8};

// Raw bytes of a host tensor in logical order.
std::vector<unsigned char> bytes_of(const Tensor& t) {
  Tensor h = t.cpu().contiguous();
  const auto* p = static_cast<const unsigned char*>(h.data_ptr());
  return std::vector<unsigned char>(p, p + h.nbytes());
}

// Bitwise equality, except that any NaN matches any NaN (the device may canonicalise NaN payloads).
::testing::AssertionResult same_bits(const Tensor& got, const Tensor& want) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape())
    return ::testing::AssertionFailure() << got.meta_str() << " vs " << want.meta_str();
  std::vector<unsigned char> g = bytes_of(got), w = bytes_of(want);
  std::vector<double> gd = got.to_double_vector(), wd = want.to_double_vector();
  size_t es = got.element_size();
  for (size_t i = 0; i < gd.size(); ++i) {
    if (std::isnan(gd[i]) && std::isnan(wd[i])) continue;
    if (std::memcmp(&g[i * es], &w[i * es], es) != 0)
      return ::testing::AssertionFailure()
             << "element " << i << ": got " << gd[i] << ", want " << wd[i] << " (" << got.meta_str() << ")";
  }
  return ::testing::AssertionSuccess();
}

// A CPU tensor of dtype t with awkward values: halfway cases, huge and tiny magnitudes, NaN and inf.
Tensor awkward(DType t) {
  std::vector<double> v = {0.0,           -0.0,
                           1.0,           -1.0,
                           0.5,           2.5,
                           -2.5,          1.0 / 3.0,
                           127.6,         128.0,
                           255.5,         256.0,
                           -129.0,        65504.0,
                           65520.0,       70000.0,
                           3e9,           -3e9,
                           1e19,          -1e19,
                           1e-7,          6e-8,
                           1e-40,         1e300,
                           INFINITY,      -INFINITY,
                           NAN,           1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30),
                           16777217.0,    9007199254740993.0,
                           -2147483648.0, 4294967297.0};
  Tensor d = Tensor::from_vector<double>(v, {static_cast<int64_t>(v.size())});
  if (is_floating(t)) return d.to(t);
  // Integer sources: values that exercise wrapping and wide conversions, not saturation.
  std::vector<int64_t> iv = {0,
                             1,
                             -1,
                             127,
                             128,
                             255,
                             256,
                             -129,
                             65519,
                             65520,
                             16777217,
                             -(1LL << 31),
                             (1LL << 40) + 3,
                             (1LL << 60) + (1LL << 36) + 1,
                             std::numeric_limits<int64_t>::max(),
                             std::numeric_limits<int64_t>::min()};
  return Tensor::from_vector<int64_t>(iv, {static_cast<int64_t>(iv.size())}).to(t);
}

TEST(CudaCore, RoundTripsEveryDType) {
  NAT_SKIP_WITHOUT_CUDA();
  for (DType t : kAll) {
    Tensor h = awkward(t);
    Tensor d = h.cuda();
    EXPECT_TRUE(d.is_cuda());
    EXPECT_EQ(d.device(), Device::cuda(0));
    Tensor back = d.cpu();
    EXPECT_TRUE(back.is_cpu());
    EXPECT_EQ(bytes_of(back), bytes_of(h)) << t;  // a byte copy: even NaN payloads survive
  }
  EXPECT_EQ(Tensor::empty({0, 4}).cuda().cpu().numel(), 0);
  EXPECT_EQ(Tensor::scalar(2.5).cuda().item(), 2.5);
}

TEST(CudaCore, StridedViewsCopyLikeTheCpu) {
  NAT_SKIP_WITHOUT_CUDA();
  Generator g(1);
  Tensor h = rand({4, 5, 6}, DType::f32, Device::cpu(), &g);
  Tensor d = h.cuda();
  auto check = [](const Tensor& dv, const Tensor& hv, const char* what) {
    Tensor out = poisoned(hv.shape(), hv.dtype(), Device::cuda());
    out.copy_(dv);
    EXPECT_TRUE(same_bits(out, hv.contiguous())) << what;
    EXPECT_TRUE(same_bits(dv.contiguous(), hv.contiguous())) << what;
  };
  check(d.permute({2, 0, 1}), h.permute({2, 0, 1}), "permute");
  check(d.transpose(0, 2), h.transpose(0, 2), "transpose");
  check(d.slice(1, 1, 5, 2), h.slice(1, 1, 5, 2), "slice with step");
  check(d.select(2, 3), h.select(2, 3), "select");
  check(d.slice(0, 1, 2).expand({3, 5, 6}), h.slice(0, 1, 2).expand({3, 5, 6}), "expand");
  check(d.as_strided({3, 4}, {7, 2}, 5), h.as_strided({3, 4}, {7, 2}, 5), "as_strided");
  check(d.transpose(0, 1).reshape({20, 6}), h.transpose(0, 1).reshape({20, 6}), "reshape copy");
}

TEST(CudaCore, CopiesIntoStridedDestinationsAcrossDevices) {
  NAT_SKIP_WITHOUT_CUDA();
  Generator g(2);
  Tensor src = rand({3, 4}, DType::f32, Device::cpu(), &g);
  // Host -> device into a column slice: staged, then scattered on the device.
  Tensor dbase = poisoned({3, 8}, DType::f32, Device::cuda());
  dbase.slice(1, 0, 8, 2).copy_(src);
  Tensor hbase = poisoned({3, 8}, DType::f32, Device::cpu());
  hbase.slice(1, 0, 8, 2).copy_(src);
  EXPECT_TRUE(same_bits(dbase, hbase));
  // Device -> host into a transposed view, with a broadcast and a dtype change on the way.
  Tensor row = Tensor::from_vector<double>({1.5, -2.5, 3.25}, {3}).cuda();
  Tensor hdst = poisoned({3, 2}, DType::bf16, Device::cpu());
  hdst.transpose(0, 1).copy_(row);
  Tensor want = Tensor::from_vector<double>({1.5, 1.5, -2.5, -2.5, 3.25, 3.25}, {3, 2}).to(DType::bf16);
  EXPECT_TRUE(same_bits(hdst, want));
  // Device -> device with broadcasting.
  Tensor ddst = poisoned({2, 3}, DType::i32, Device::cuda());
  ddst.copy_(row);
  EXPECT_EQ(ddst.cpu().to_vector<int32_t>(), (std::vector<int32_t>{1, -2, 3, 1, -2, 3}));
}

TEST(CudaCore, CastsBetweenAllDTypesMatchTheCpuBitForBit) {
  NAT_SKIP_WITHOUT_CUDA();
  for (DType st : kAll) {
    Tensor h = awkward(st);
    Tensor d = h.cuda();
    for (DType dt : kAll) {
      Tensor want = h.to(dt);
      EXPECT_TRUE(same_bits(d.to(dt), want)) << st << " -> " << dt;
      Tensor out = poisoned(h.shape(), dt, Device::cuda());
      out.copy_(d);  // the same cast through copy_ into a poisoned output
      EXPECT_TRUE(same_bits(out, want)) << st << " -> " << dt << " via copy_";
    }
  }
  // A strided source goes through contiguous() first.
  Tensor h = Tensor::arange(12, DType::f64).view({3, 4}).transpose(0, 1);
  EXPECT_TRUE(same_bits(h.cuda().to(DType::f16), h.to(DType::f16)));
}

TEST(CudaCore, FillsMatchTheCpu) {
  NAT_SKIP_WITHOUT_CUDA();
  for (DType t : kAll) {
    for (double v : {-3.7, 0.0, 1e10, 65519.0, static_cast<double>(NAN), 300.0}) {
      Tensor d = poisoned({1000}, t, Device::cuda());
      d.fill_(v);
      EXPECT_TRUE(same_bits(d, Tensor::full({1000}, v, t))) << t << " " << v;
    }
  }
  // fill_ on a non-contiguous device view writes only the view.
  Tensor base = Tensor::zeros({4, 6}, DType::f32, Device::cuda());
  base.slice(1, 1, 6, 2).fill_(7);
  Tensor hbase = Tensor::zeros({4, 6});
  hbase.slice(1, 1, 6, 2).fill_(7);
  EXPECT_TRUE(same_bits(base, hbase));
}

// Max distance in f32 ulps between two f32 tensors (NaN positions must agree).
double max_ulps(const Tensor& a, const Tensor& b) {
  std::vector<float> va = a.cpu().to_vector<float>(), vb = b.cpu().to_vector<float>();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    if (std::isnan(va[i]) || std::isnan(vb[i])) {
      if (std::isnan(va[i]) != std::isnan(vb[i])) return INFINITY;
      continue;
    }
    float ulp = std::nextafter(std::fabs(va[i]), INFINITY) - std::fabs(va[i]);
    m = std::max(m, std::fabs(static_cast<double>(va[i]) - vb[i]) / ulp);
  }
  return m;
}

TEST(CudaCore, RandomStreamsEqualTheCpu) {
  NAT_SKIP_WITHOUT_CUDA();
  const int64_t n = 1 << 18;
  for (DType t : {DType::f32, DType::f64, DType::bf16, DType::f16}) {
    Generator gc(1234), gd(1234);
    gc.set_state(1234, 98);
    gd.set_state(1234, 98);
    Tensor hc = Tensor::empty({n}, t), dc = poisoned({n}, t, Device::cuda());
    uniform_(hc, -2.0, 5.0, &gc);
    uniform_(dc, -2.0, 5.0, &gd);
    EXPECT_TRUE(same_bits(dc, hc)) << "uniform " << t;
    bernoulli_(hc, 0.25, &gc);
    bernoulli_(dc, 0.25, &gd);
    EXPECT_TRUE(same_bits(dc, hc)) << "bernoulli " << t;
    EXPECT_EQ(gc.offset(), gd.offset());
  }
  Generator gc(7), gd(7);
  Tensor bc = Tensor::empty({n}, DType::u8), bd = poisoned({n}, DType::u8, Device::cuda());
  EXPECT_TRUE(same_bits(bernoulli_(bd, 0.5, &gd), bernoulli_(bc, 0.5, &gc))) << "bernoulli u8";
  // Normal draws go through log/cos/erf, whose last bit may differ between libm and CUDA's.
  Tensor nc = Tensor::empty({n}), nd = poisoned({n}, DType::f32, Device::cuda());
  EXPECT_LE(max_ulps(normal_(nd, 0.5, 2.0, &gd), normal_(nc, 0.5, 2.0, &gc)), 1.0);
  EXPECT_LE(max_ulps(trunc_normal_(nd, 0.0, 1.0, -2.0, 2.0, &gd), trunc_normal_(nc, 0.0, 1.0, -2.0, 2.0, &gc)), 1.0);
  EXPECT_EQ(gc.offset(), gd.offset());
  // A non-contiguous device fill follows logical order like the CPU.
  Tensor vd = poisoned({64, 32}, DType::f32, Device::cuda()).transpose(0, 1);
  Tensor vc = Tensor::empty({64, 32}).transpose(0, 1);
  EXPECT_TRUE(same_bits(uniform_(vd, 0, 1, &gd), uniform_(vc, 0, 1, &gc)));
}

TEST(CudaCore, PinnedNonBlockingCopies) {
  NAT_SKIP_WITHOUT_CUDA();
  Generator g(3);
  Tensor h = rand({1 << 20}, DType::f32, Device::cpu(), &g);
  Tensor pinned = h.pin_memory();
  EXPECT_TRUE(pinned.is_pinned());
  EXPECT_FALSE(h.is_pinned());
  EXPECT_EQ(pinned.pin_memory().impl_ptr(), pinned.impl_ptr());
  Tensor d = poisoned({1 << 20}, DType::f32, Device::cuda());
  d.copy_(pinned, /*non_blocking=*/true);
  Tensor back = Tensor::empty({1 << 20}, DType::f32, Device::cpu(), /*pinned=*/true);
  back.copy_(d, /*non_blocking=*/true);
  backend(Device::cuda()).synchronize(0);
  EXPECT_TRUE(same_bits(back, h));
  Tensor d2 = pinned.to(Device::cuda(), /*non_blocking=*/true);
  backend(Device::cuda()).synchronize(0);
  EXPECT_TRUE(same_bits(d2, h));
}

TEST(CudaCore, AllocatorStatisticsFollowTensors) {
  NAT_SKIP_WITHOUT_CUDA();
  DeviceBackend& b = backend(Device::cuda());
  b.synchronize(0);
  b.empty_cache(0);  // so that the first request below must come from cudaMalloc
  AllocatorStats s0 = b.memory_stats(0);
  EXPECT_EQ(s0.reserved, s0.allocated);
  const int64_t bytes = 6 << 20;  // a multiple of the 2 MiB rounding
  void* first = nullptr;
  {
    Tensor t = Tensor::empty({bytes / 4}, DType::f32, Device::cuda());
    first = t.data_ptr();
    AllocatorStats s1 = b.memory_stats(0);
    EXPECT_EQ(s1.allocated - s0.allocated, bytes);
    EXPECT_EQ(s1.num_allocs - s0.num_allocs, 1);
    EXPECT_EQ(s1.num_system_allocs - s0.num_system_allocs, 1);
    EXPECT_EQ(s1.reserved - s0.reserved, bytes);
    EXPECT_GE(s1.peak_allocated, s1.allocated);
    EXPECT_GE(s1.reserved, s1.allocated);
  }
  AllocatorStats s2 = b.memory_stats(0);
  EXPECT_EQ(s2.allocated, s0.allocated);
  EXPECT_EQ(s2.reserved, s0.reserved + bytes);  // the block stays cached
  {
    Tensor t = Tensor::empty({bytes / 4}, DType::f32, Device::cuda());
    EXPECT_EQ(t.data_ptr(), first);  // the cached block comes back
    AllocatorStats s3 = b.memory_stats(0);
    EXPECT_EQ(s3.num_cache_hits - s2.num_cache_hits, 1);
    EXPECT_EQ(s3.num_system_allocs, s2.num_system_allocs);
  }
  b.empty_cache(0);
  AllocatorStats s4 = b.memory_stats(0);
  EXPECT_EQ(s4.reserved, s4.allocated);
  b.reset_peak_memory(0);
  EXPECT_EQ(b.memory_stats(0).peak_allocated, s4.allocated);
}

TEST(CudaCore, OutOfMemoryNamesTheRequestAndTheStatistics) {
  NAT_SKIP_WITHOUT_CUDA();
  AllocatorStats before = backend(Device::cuda()).memory_stats(0);
  NAT_EXPECT_ERROR(Tensor::empty({1LL << 50}, DType::u8, Device::cuda()), "[cuda allocator] out of memory",
                   "requested 1024.00 TiB", "(1125899906842624 bytes)", "cuda:0", "free of", "allocated ", "reserved ");
  AllocatorStats after = backend(Device::cuda()).memory_stats(0);
  EXPECT_EQ(after.allocated, before.allocated);
  // The device is still usable afterwards.
  Tensor t = Tensor::full({16}, 3.0, DType::f32, Device::cuda());
  EXPECT_EQ(t.cpu().to_vector<float>(), std::vector<float>(16, 3.0f));
}

TEST(CudaCore, BadDeviceIndexIsAnError) {
  NAT_SKIP_WITHOUT_CUDA();
  int n = cuda_device_count();
  std::string want = str("cuda:", n, " requested");
  NAT_EXPECT_ERROR(Tensor::empty({2}, DType::f32, Device::cuda(n)), "[device]", want.c_str(), "present");
}

}  // namespace
}  // namespace nat
