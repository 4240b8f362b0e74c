// The order of an epoch: a seeded shuffle shared by every rank, then PyTorch DistributedSampler's split.
// The shuffled list of N indices is padded by repeating its head to a multiple of world_size, and rank r
// takes positions r, r + world, r + 2*world, ...: every rank gets ceil(N / world) samples, hence the same
// number of batches. A sample's position in the padded list is unique within the epoch, and keys its
// augmentation randomness (data/sample_rng.h), so the batches do not depend on the thread count.
#pragma once

#include <cstdint>
#include <vector>

namespace nat::data {

struct SamplerOptions {
  bool shuffle = true;
  uint64_t seed = 42;
  int64_t rank = 0;
  int64_t world_size = 1;
};

struct EpochEntry {
  int64_t index;     // dataset index
  int64_t position;  // position in the epoch's padded global order: unique, keys the sample's randomness
  bool padding;      // a repeat added to even out the ranks
};

// This rank's samples for `epoch`, in order. Throws nat::Error on a bad rank/world size or n == 0.
std::vector<EpochEntry> epoch_order(int64_t n, int64_t epoch, const SamplerOptions& options);

// Samples per rank: ceil(n / world_size).
int64_t samples_per_rank(int64_t n, int64_t world_size);
// Batches per rank: floor or ceil of samples_per_rank / batch_size.
int64_t batches_per_epoch(int64_t n, int64_t world_size, int64_t batch_size, bool drop_last);

}  // namespace nat::data
