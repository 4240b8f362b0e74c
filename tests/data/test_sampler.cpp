// Epoch order: a seeded permutation, identical on every rank; the distributed split covers every sample,
// gives every rank the same number of samples and batches, and pads with repeats like PyTorch's sampler.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "data/sample_rng.h"
#include "data/sampler.h"
#include "support/expect_error.h"

namespace nat::data {
namespace {

std::vector<int64_t> indices(const std::vector<EpochEntry>& v) {
  std::vector<int64_t> out;
  for (const auto& e : v) out.push_back(e.index);
  return out;
}

TEST(Sampler, ShuffleIsAPermutationFixedBySeedAndEpoch) {
  SamplerOptions o;
  auto a = indices(epoch_order(1000, 3, o));
  EXPECT_EQ(a, indices(epoch_order(1000, 3, o)));
  EXPECT_NE(a, indices(epoch_order(1000, 4, o)));
  o.seed = 7;
  EXPECT_NE(a, indices(epoch_order(1000, 3, o)));
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  int fixed_points = 0;
  for (int i = 0; i < 1000; ++i) fixed_points += a[static_cast<size_t>(i)] == i;
  EXPECT_LT(fixed_points, 10);  // ~1 expected for a uniform permutation

  SamplerOptions no;
  no.shuffle = false;
  EXPECT_EQ(indices(epoch_order(1000, 3, no)), iota);
}

TEST(Sampler, ShuffleIsUniformEnough) {
  // Position of element 0 over many epochs: each of 10 slots about equally often.
  std::vector<int> hist(10, 0);
  SamplerOptions o;
  for (int e = 0; e < 2000; ++e) {
    auto v = indices(epoch_order(10, e, o));
    hist[static_cast<size_t>(std::find(v.begin(), v.end(), 0) - v.begin())]++;
  }
  for (int h : hist) EXPECT_NEAR(h, 200, 60);
}

TEST(Sampler, DistributedCoversEverySampleWithEqualLengths) {
  for (int64_t n : {1, 7, 100, 1001}) {
    for (int64_t world : {1, 2, 3, 8}) {
      std::multiset<int64_t> seen;
      std::set<int64_t> positions;
      int64_t padding = 0;
      for (int64_t r = 0; r < world; ++r) {
        SamplerOptions o;
        o.rank = r;
        o.world_size = world;
        auto v = epoch_order(n, 5, o);
        EXPECT_EQ(static_cast<int64_t>(v.size()), samples_per_rank(n, world)) << "n " << n << " world " << world;
        for (const auto& e : v) {
          seen.insert(e.index);
          EXPECT_TRUE(positions.insert(e.position).second) << "position used twice";
          padding += e.padding;
        }
      }
      for (int64_t i = 0; i < n; ++i) EXPECT_GE(seen.count(i), 1u) << "sample " << i << " missing, n " << n;
      EXPECT_EQ(static_cast<int64_t>(seen.size()), samples_per_rank(n, world) * world);
      EXPECT_EQ(padding, samples_per_rank(n, world) * world - n);
    }
  }
}

TEST(Sampler, RanksShareOnePermutation) {
  // The union over ranks of the first n positions is exactly the single-process order.
  const int64_t n = 60;
  SamplerOptions single;
  auto all = indices(epoch_order(n, 2, single));
  std::vector<int64_t> merged(static_cast<size_t>(n));
  for (int64_t r = 0; r < 4; ++r) {
    SamplerOptions o;
    o.rank = r;
    o.world_size = 4;
    for (const auto& e : epoch_order(n, 2, o)) merged[static_cast<size_t>(e.position)] = e.index;
  }
  EXPECT_EQ(merged, all);
}

TEST(Sampler, BatchesPerEpochAreEqualOnEveryRank) {
  EXPECT_EQ(batches_per_epoch(1281167, 8, 128, true), 1251);  // docs/recipe.md §2: 1,251 iterations per epoch
  EXPECT_EQ(batches_per_epoch(50000, 8, 128, false), 49);
  EXPECT_EQ(batches_per_epoch(10, 3, 4, true), 1);
  EXPECT_EQ(batches_per_epoch(10, 3, 4, false), 1);
  EXPECT_EQ(batches_per_epoch(3, 1, 4, true), 0);
}

TEST(Sampler, RejectsBadRanks) {
  SamplerOptions o;
  o.rank = 2;
  o.world_size = 2;
  NAT_EXPECT_ERROR(epoch_order(10, 0, o), "rank", "[0, 2)");
  NAT_EXPECT_ERROR(epoch_order(0, 0, SamplerOptions{}), "empty");
}

TEST(SampleRng, DrawsHaveTheRightMoments) {
  SampleRng rng(123);
  double s = 0, s2 = 0, b = 0, g = 0;
  const int n = 20000;
  int lo = 0, hi = 0;
  for (int i = 0; i < n; ++i) {
    double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    double z = rng.normal();
    s += z;
    s2 += z * z;
    b += rng.beta(0.8, 0.8);
    g += rng.gamma(2.5);
    int64_t k = rng.randint(3, 5);
    ASSERT_TRUE(k >= 3 && k <= 5);
    lo += k == 3;
    hi += k == 5;
  }
  EXPECT_NEAR(s / n, 0.0, 0.03);
  EXPECT_NEAR(s2 / n, 1.0, 0.04);
  EXPECT_NEAR(b / n, 0.5, 0.01);  // Beta(a, a) has mean 1/2
  EXPECT_NEAR(g / n, 2.5, 0.05);  // Gamma(k, 1) has mean k
  EXPECT_NEAR(lo, n / 3, 400);
  EXPECT_NEAR(hi, n / 3, 400);
}

TEST(SampleRng, FillNormalIsStandardNormal) {
  SampleRng rng(77);
  std::vector<float> v(40001);
  rng.fill_normal(v.data(), static_cast<int64_t>(v.size()));
  double s = 0, s2 = 0, s4 = 0;
  int tail = 0;
  for (float x : v) {
    ASSERT_TRUE(std::isfinite(x));
    s += x;
    s2 += x * x;
    s4 += static_cast<double>(x) * x * x * x;
    tail += std::fabs(x) > 1.96f;
  }
  const double n = static_cast<double>(v.size());
  EXPECT_NEAR(s / n, 0.0, 0.02);
  EXPECT_NEAR(s2 / n, 1.0, 0.03);
  EXPECT_NEAR(s4 / n, 3.0, 0.15);  // kurtosis of a normal
  EXPECT_NEAR(tail / n, 0.05, 0.005);
  // Consecutive values (the cos and sin branches of one pair) are uncorrelated.
  double c = 0;
  for (size_t i = 0; i + 1 < v.size(); i += 2) c += static_cast<double>(v[i]) * v[i + 1];
  EXPECT_NEAR(c / (n / 2), 0.0, 0.03);
  SampleRng again(77);
  std::vector<float> w(v.size());
  again.fill_normal(w.data(), static_cast<int64_t>(w.size()));
  EXPECT_EQ(v, w);
}

TEST(SampleRng, StreamsAreReproducibleAndIndependent) {
  SampleRng a(stream_seed(42, SeedTag::sample, 1, 2)), b(stream_seed(42, SeedTag::sample, 1, 2));
  SampleRng c(stream_seed(42, SeedTag::sample, 1, 3)), d(stream_seed(42, SeedTag::mixup, 1, 2));
  double va = a.uniform();
  EXPECT_EQ(va, b.uniform());
  EXPECT_NE(va, c.uniform());
  EXPECT_NE(va, d.uniform());
}

}  // namespace
}  // namespace nat::data
