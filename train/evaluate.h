// Evaluation of a model on a loader (timm's validate): the mean cross-entropy without label smoothing,
// top-1 and top-5 accuracy in percent, over every sample of the split (no padding repeats). A file that
// cannot be decoded is left out (not replaced, so nothing is counted twice) and counted in `skipped`.
#pragma once

#include <cstdint>
#include <functional>

#include "data/loader.h"
#include "nn/nat.h"

namespace nat::train {

struct EvalResult {
  double loss = 0, top1 = 0, top5 = 0;  // top-k in percent
  int64_t samples = 0;                  // samples scored: the split's, less the skipped ones
  int64_t skipped = 0;                  // files of the split that could not be read or decoded, so not scored
  double seconds = 0;
};

// Runs `model` in eval mode without recording gradients over one pass of `loader` (epoch 0). Images go to
// `device` in `dtype` (bf16/f16 under AMP); logits are compared in f32. `on_batch(done, total)` reports
// progress. Throws when no sample at all could be scored because every file failed.
EvalResult evaluate(nn::NAT& model, data::Loader& loader, Device device, DType dtype = DType::f32,
                    const std::function<void(int64_t, int64_t)>& on_batch = {});

}  // namespace nat::train
