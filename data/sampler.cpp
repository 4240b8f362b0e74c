// Epoch order: Fisher-Yates shuffle on the (seed, epoch) stream, then the distributed split.
#include "data/sampler.h"

#include <numeric>

#include "core/error.h"
#include "data/sample_rng.h"

namespace nat::data {

int64_t samples_per_rank(int64_t n, int64_t world_size) { return (n + world_size - 1) / world_size; }

int64_t batches_per_epoch(int64_t n, int64_t world_size, int64_t batch_size, bool drop_last) {
  int64_t s = samples_per_rank(n, world_size);
  return drop_last ? s / batch_size : (s + batch_size - 1) / batch_size;
}

std::vector<EpochEntry> epoch_order(int64_t n, int64_t epoch, const SamplerOptions& o) {
  NAT_CHECK(n > 0, "[sampler] the dataset is empty");
  NAT_CHECK(o.world_size >= 1, "[sampler] world_size must be >= 1, got ", o.world_size);
  NAT_CHECK(o.rank >= 0 && o.rank < o.world_size, "[sampler] rank must be in [0, ", o.world_size, "), got ", o.rank);
  NAT_CHECK(epoch >= 0, "[sampler] epoch must be >= 0, got ", epoch);
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), int64_t{0});
  if (o.shuffle) {
    SampleRng rng(stream_seed(o.seed, SeedTag::shuffle, static_cast<uint64_t>(epoch)));
    for (int64_t i = n - 1; i > 0; --i)
      std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(rng.randint(0, i))]);
  }
  int64_t per_rank = samples_per_rank(n, o.world_size);
  std::vector<EpochEntry> out;
  out.reserve(static_cast<size_t>(per_rank));
  for (int64_t k = 0; k < per_rank; ++k) {
    int64_t p = o.rank + k * o.world_size;  // position in the padded list of per_rank * world_size
    out.push_back({perm[static_cast<size_t>(p % n)], p, p >= n});
  }
  return out;
}

}  // namespace nat::data
