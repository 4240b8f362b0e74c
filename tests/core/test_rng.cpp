// Counter-based RNG: Philox4x32-10 against the Random123 known-answer vectors, the (seed, offset)
// contract (element i of a fill uses words offset+2i, offset+2i+1; a fill of n advances by 2n), thread
// count independence, and the statistics of each distribution against closed-form moments.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <numbers>
#include <set>

#include "core/backend.h"
#include "core/philox.h"
#include "core/rng.h"
#include "support/expect_error.h"

namespace nat {
namespace {

void expect_philox(std::array<uint32_t, 4> ctr, std::array<uint32_t, 2> key, std::array<uint32_t, 4> want) {
  PhiloxOut o = philox4x32_10(ctr[0], ctr[1], ctr[2], ctr[3], key[0], key[1]);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(o.v[i], want[i]) << "word " << i << std::hex << " got " << o.v[i];
}

// Random123's kat_vectors for philox4x32_10.
TEST(CoreRngPhilox, KnownAnswerZero) {
  expect_philox({0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
}

TEST(CoreRngPhilox, KnownAnswerAllOnes) {
  expect_philox({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
                {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
}

TEST(CoreRngPhilox, KnownAnswerPi) {
  expect_philox({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
                {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST(CoreRngPhilox, WordWLivesInBlockWOver4LaneWMod4) {
  const uint64_t seed = 0x0123456789abcdefull;
  for (uint64_t w : {0ull, 1ull, 2ull, 3ull, 4ull, 7ull, 1001ull, (1ull << 34) + 5, ~0ull}) {
    uint64_t block = w >> 2;
    PhiloxOut o =
        philox4x32_10(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0, 0, 0x89abcdefu, 0x01234567u);
    EXPECT_EQ(philox_word(seed, w), o.v[w & 3]) << "word " << w;
  }
  // The high half of the block index and of the seed both matter.
  EXPECT_NE(philox_word(seed, 0), philox_word(seed, 1ull << 34));
  EXPECT_NE(philox_word(1, 0), philox_word(1 | (1ull << 32), 0));
}

// ---------------------------------------------------------------- the (seed, offset) contract

std::vector<double> draw(RandomKind kind, int64_t n, uint64_t seed, uint64_t offset, DType dtype = DType::f64) {
  Generator g(seed);
  g.set_state(seed, offset);
  Tensor t = Tensor::empty({n}, dtype);
  switch (kind) {
    case RandomKind::uniform:
      uniform_(t, -1.0, 3.0, &g);
      break;
    case RandomKind::normal:
      normal_(t, 0.5, 2.0, &g);
      break;
    case RandomKind::trunc_normal:
      trunc_normal_(t, 0.0, 1.0, -2.0, 2.0, &g);
      break;
    case RandomKind::bernoulli:
      bernoulli_(t, 0.3, &g);
      break;
  }
  EXPECT_EQ(g.offset(), offset + 2 * static_cast<uint64_t>(n));
  return t.to_double_vector();
}

const RandomKind kKinds[] = {RandomKind::uniform, RandomKind::normal, RandomKind::trunc_normal, RandomKind::bernoulli};

TEST(CoreRng, SameSeedAndOffsetGiveTheSameNumbers) {
  for (RandomKind k : kKinds) {
    std::vector<double> a = draw(k, 1000, 42, 10), b = draw(k, 1000, 42, 10);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, draw(k, 1000, 43, 10)) << "another seed";
    EXPECT_NE(a, draw(k, 1000, 42, 12)) << "another offset";
  }
}

TEST(CoreRng, ElementIUsesWordsOffsetPlus2I) {
  const uint64_t seed = 77, offset = 6;
  std::vector<double> u = draw(RandomKind::uniform, 64, seed, offset);
  for (int i = 0; i < 64; ++i) {
    uint32_t w0 = philox_word(seed, offset + 2 * i), w1 = philox_word(seed, offset + 2 * i + 1);
    // 53 random bits: 32 from w0 above the top 21 of w1.
    uint64_t bits = ((static_cast<uint64_t>(w0) << 21) ^ (w1 >> 11)) & ((1ull << 53) - 1);
    EXPECT_EQ(u[i], -1.0 + 4.0 * std::ldexp(static_cast<double>(bits), -53)) << i;
  }
}

TEST(CoreRng, OffsetsAdvanceByTwoPerElement) {
  // Starting 2k words later is the same stream shifted by k elements, for every distribution.
  for (RandomKind k : kKinds) {
    std::vector<double> a = draw(k, 300, 5, 0), b = draw(k, 200, 5, 200);
    EXPECT_TRUE(std::equal(b.begin(), b.end(), a.begin() + 100));
  }
  Generator g(3);
  Tensor t = Tensor::empty({7, 3});
  uniform_(t, 0, 1, &g);
  EXPECT_EQ(g.offset(), 42u);
  normal_(t, 0, 1, &g);
  EXPECT_EQ(g.offset(), 84u);
  Tensor e = Tensor::empty({0});
  uniform_(e, 0, 1, &g);
  EXPECT_EQ(g.offset(), 84u);
  EXPECT_EQ(g.advance(10), 84u);
  EXPECT_EQ(g.offset(), 94u);
}

TEST(CoreRng, FillOfNThenMEqualsOneFillOfNPlusM) {
  for (RandomKind k : kKinds) {
    Generator g1(2024), g2(2024);
    Tensor a = Tensor::empty({37}, DType::f32), b = Tensor::empty({5000}, DType::f32);
    Tensor whole = Tensor::empty({5037}, DType::f32);
    auto fill = [k](Tensor& t, Generator& g) {
      if (k == RandomKind::uniform) uniform_(t, 0, 1, &g);
      if (k == RandomKind::normal) normal_(t, 0, 1, &g);
      if (k == RandomKind::trunc_normal) trunc_normal_(t, 0, 1, -1, 1.5, &g);
      if (k == RandomKind::bernoulli) bernoulli_(t, 0.5, &g);
    };
    fill(a, g1);
    fill(b, g1);
    fill(whole, g2);
    EXPECT_EQ(g1.offset(), g2.offset());
    EXPECT_EQ(a.to_vector<float>(), whole.slice(0, 0, 37).to_vector<float>());
    EXPECT_EQ(b.to_vector<float>(), whole.slice(0, 37, 5037).to_vector<float>());
  }
}

TEST(CoreRng, ResultsDoNotDependOnTheThreadCount) {
  int saved = omp_get_max_threads();
  for (RandomKind k : kKinds) {
    omp_set_num_threads(1);
    std::vector<double> one = draw(k, 50000, 9, 4);
    omp_set_num_threads(2);
    std::vector<double> two = draw(k, 50000, 9, 4);
    EXPECT_EQ(one, two);
  }
  omp_set_num_threads(saved);
}

TEST(CoreRng, SavingSeedAndOffsetIsACompleteCheckpoint) {
  Generator g(11);
  Tensor t = Tensor::empty({100});
  normal_(t, 0, 1, &g);
  uint64_t seed = g.seed(), offset = g.offset();
  std::vector<float> next = normal_(t, 0, 1, &g).to_vector<float>();
  Generator restored;
  restored.set_state(seed, offset);
  EXPECT_EQ(normal_(t, 0, 1, &restored).to_vector<float>(), next);
}

TEST(CoreRng, DefaultGeneratorAndManualSeed) {
  manual_seed(123);
  EXPECT_EQ(default_generator().seed(), 123u);
  EXPECT_EQ(default_generator().offset(), 0u);
  std::vector<float> a = rand({50}).to_vector<float>();
  EXPECT_EQ(default_generator().offset(), 100u);
  std::vector<float> a2 = randn({50}).to_vector<float>();
  manual_seed(123);
  EXPECT_EQ(rand({50}).to_vector<float>(), a);
  EXPECT_EQ(randn({50}).to_vector<float>(), a2);
  Generator g(123);
  EXPECT_EQ(rand({50}, DType::f32, Device::cpu(), &g).to_vector<float>(), a);
}

TEST(CoreRng, NarrowTypesRoundTheSameDoubleOnce) {
  // Every fill computes in double and rounds once: f32 draws are the f64 draws rounded.
  for (RandomKind k : {RandomKind::normal, RandomKind::trunc_normal, RandomKind::bernoulli}) {
    std::vector<double> d = draw(k, 2000, 8, 0, DType::f64), f = draw(k, 2000, 8, 0, DType::f32);
    for (size_t i = 0; i < d.size(); ++i) ASSERT_EQ(f[i], static_cast<double>(static_cast<float>(d[i]))) << i;
  }
}

TEST(CoreRng, NonContiguousFillFollowsLogicalOrder) {
  Generator g1(4), g2(4);
  Tensor base = Tensor::zeros({6, 4});
  Tensor view = base.transpose(0, 1);  // (4, 6), not contiguous
  uniform_(view, 0, 1, &g1);
  Tensor ref = rand({4, 6}, DType::f32, Device::cpu(), &g2);
  EXPECT_EQ(view.to_vector<float>(), ref.to_vector<float>());
  EXPECT_EQ(base.to_vector<float>(), ref.transpose(0, 1).to_vector<float>());
}

TEST(CoreRng, DeriveSeedMixesEveryInput) {
  std::set<uint64_t> seen;
  for (uint64_t s : {0ull, 1ull, 1ull << 32})
    for (uint64_t a = 0; a < 8; ++a)
      for (uint64_t b = 0; b < 8; ++b)
        for (uint64_t c : {0ull, 1ull, 1ull << 40}) seen.insert(derive_seed(s, a, b, c));
  EXPECT_EQ(seen.size(), 3u * 8 * 8 * 3);
  EXPECT_EQ(derive_seed(5, 1, 2, 3), derive_seed(5, 1, 2, 3));
  EXPECT_NE(derive_seed(5, 1, 2), derive_seed(5, 2, 1));
  EXPECT_NE(derive_seed(5, 1ull << 33), derive_seed(5, 0));
  EXPECT_EQ(derive_seed(5, 1), derive_seed(5, 1, 0, 0));
}

// ---------------------------------------------------------------- statistics

struct Moments {
  double mean = 0, var = 0, min = INFINITY, max = -INFINITY;
};

Moments moments(const std::vector<double>& v) {
  Moments m;
  for (double x : v) {
    m.mean += x;
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
  }
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= static_cast<double>(v.size() - 1);
  return m;
}

constexpr int64_t kSamples = 1 << 20;

double normal_pdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi); }
double normal_cdf_ref(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

TEST(CoreRngStats, UniformMomentsAndHistogram) {
  Generator g(1);
  Tensor t = Tensor::empty({kSamples}, DType::f64);
  std::vector<double> v = uniform_(t, -1.0, 3.0, &g).to_double_vector();
  Moments m = moments(v);
  // Standard errors at 2^20 samples: mean 0.0011, variance 0.0012. Tolerances are about 5 of them.
  EXPECT_NEAR(m.mean, 1.0, 0.006);
  EXPECT_NEAR(m.var, 16.0 / 12.0, 0.006);
  EXPECT_GE(m.min, -1.0);
  EXPECT_LT(m.max, 3.0);
  std::vector<int64_t> bins(16, 0);
  for (double x : v) ++bins[static_cast<size_t>((x + 1.0) / 4.0 * 16)];
  for (int64_t c : bins) EXPECT_NEAR(static_cast<double>(c), kSamples / 16.0, 1200.0);  // sd ~247
}

TEST(CoreRngStats, NormalMomentsAndOneSigmaMass) {
  Generator g(2);
  Tensor t = Tensor::empty({kSamples}, DType::f64);
  std::vector<double> v = normal_(t, 2.0, 3.0, &g).to_double_vector();
  Moments m = moments(v);
  EXPECT_NEAR(m.mean, 2.0, 0.015);  // se 0.0029
  EXPECT_NEAR(m.var, 9.0, 0.065);   // se 0.0124
  int64_t within = 0, within2 = 0;
  double kurt = 0;
  for (double x : v) {
    double z = (x - 2.0) / 3.0;
    within += std::fabs(z) < 1;
    within2 += std::fabs(z) < 2;
    kurt += z * z * z * z;
  }
  EXPECT_NEAR(static_cast<double>(within) / kSamples, 0.682689, 0.0025);
  EXPECT_NEAR(static_cast<double>(within2) / kSamples, 0.954500, 0.0011);
  EXPECT_NEAR(kurt / kSamples, 3.0, 0.05);  // se 0.0096
  EXPECT_TRUE(std::isfinite(m.min) && std::isfinite(m.max));
}

TEST(CoreRngStats, TruncNormalStaysInBoundsWithTheTruncatedMoments) {
  struct Case {
    double mean, std, lo, hi;
  };
  for (Case c : {Case{0.0, 1.0, -2.0, 2.0}, Case{0.5, 1.0, 0.0, 3.0}, Case{0.0, 0.02, -0.04, 0.04}}) {
    Generator g(3);
    const int64_t n = kSamples / 4;  // the inverse CDF is the slowest draw
    Tensor t = Tensor::empty({n}, DType::f64);
    std::vector<double> v = trunc_normal_(t, c.mean, c.std, c.lo, c.hi, &g).to_double_vector();
    Moments m = moments(v);
    EXPECT_GE(m.min, c.lo);
    EXPECT_LE(m.max, c.hi);
    // Closed-form moments of a normal truncated to [lo, hi].
    double a = (c.lo - c.mean) / c.std, b = (c.hi - c.mean) / c.std, z = normal_cdf_ref(b) - normal_cdf_ref(a);
    double shift = (normal_pdf(a) - normal_pdf(b)) / z;
    double mean = c.mean + c.std * shift;
    double var = c.std * c.std * (1 + (a * normal_pdf(a) - b * normal_pdf(b)) / z - shift * shift);
    double se = std::sqrt(var / n);
    EXPECT_NEAR(m.mean, mean, 6 * se) << c.mean << " " << c.std << " [" << c.lo << ", " << c.hi << "]";
    EXPECT_NEAR(m.var, var, 0.015 * var) << c.mean << " " << c.std << " [" << c.lo << ", " << c.hi << "]";
  }
  // Far into one tail the inverse CDF still lands inside the interval.
  Generator g(4);
  Tensor t = Tensor::empty({10000}, DType::f32);
  Moments m = moments(trunc_normal_(t, 0.0, 1.0, 3.0, 3.5, &g).to_double_vector());
  EXPECT_GE(m.min, 3.0);
  EXPECT_LE(m.max, 3.5);
}

TEST(CoreRngStats, BernoulliMeanAndValues) {
  Generator g(5);
  Tensor t = Tensor::empty({kSamples}, DType::u8);
  std::vector<uint8_t> v = bernoulli_(t, 0.3, &g).to_vector<uint8_t>();
  int64_t ones = 0;
  for (uint8_t x : v) {
    ASSERT_LE(x, 1);
    ones += x;
  }
  EXPECT_NEAR(static_cast<double>(ones) / kSamples, 0.3, 0.0025);  // se 0.00045
  Tensor f = Tensor::empty({1000});
  EXPECT_EQ(bernoulli_(f, 0.0, &g).to_vector<float>(), std::vector<float>(1000, 0.0f));
  EXPECT_EQ(bernoulli_(f, 1.0, &g).to_vector<float>(), std::vector<float>(1000, 1.0f));
}

TEST(CoreRngStats, UniformStaysBelowTheUpperBoundInNarrowTypes) {
  // In bf16, draws above 1 - 2^-9 round to 1.0 (about 1 in 512); [lo, hi) must hold after rounding.
  for (DType t : {DType::bf16, DType::f16, DType::f32}) {
    Generator g(6);
    Tensor x = Tensor::empty({200000}, t);
    Moments m = moments(uniform_(x, 0.0, 1.0, &g).to_double_vector());
    EXPECT_LT(m.max, 1.0) << t;
    EXPECT_GE(m.min, 0.0) << t;
    EXPECT_NEAR(m.mean, 0.5, 0.005) << t;
  }
}

TEST(CoreRngStats, DegenerateParameters) {
  Generator g(7);
  Tensor t = Tensor::empty({100});
  EXPECT_EQ(normal_(t, 1.5, 0.0, &g).to_vector<float>(), std::vector<float>(100, 1.5f));
  EXPECT_EQ(uniform_(t, 2.0, 2.0, &g).to_vector<float>(), std::vector<float>(100, 2.0f));
}

TEST(CoreRng, BadArgumentsNameTheOp) {
  Tensor i = Tensor::empty({3}, DType::i32);
  Tensor f = Tensor::empty({3});
  NAT_EXPECT_ERROR(uniform_(i), "[uniform_]", "floating", "i32[3]");
  NAT_EXPECT_ERROR(normal_(i), "[normal_]", "floating");
  NAT_EXPECT_ERROR(uniform_(f, 2.0, 1.0), "[uniform_]", "lo <= hi");
  NAT_EXPECT_ERROR(normal_(f, 0.0, -1.0), "[normal_]", "std", "-1");
  NAT_EXPECT_ERROR(trunc_normal_(f, 0.0, 0.0), "[trunc_normal_]", "std");
  NAT_EXPECT_ERROR(trunc_normal_(f, 0.0, 1.0, 1.0, 1.0), "[trunc_normal_]", "lo < hi");
  NAT_EXPECT_ERROR(bernoulli_(f, 1.5), "[bernoulli_]", "1.5");
  NAT_EXPECT_ERROR(bernoulli_(f, -0.1), "[bernoulli_]", "-0.1");
  Tensor u;
  NAT_EXPECT_ERROR(uniform_(u), "[uniform_]", "undefined");
}

}  // namespace
}  // namespace nat
