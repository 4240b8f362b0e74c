// Evaluation of a model on a loader (timm's validate): the mean cross-entropy without label smoothing,
// top-1 and top-5 accuracy in percent, over every sample of the split (no padding repeats).
#pragma once

#include <cstdint>
#include <functional>

#include "data/loader.h"
#include "nn/nat.h"

namespace nat::train {

struct EvalResult {
  double loss = 0, top1 = 0, top5 = 0;  // top-k in percent
  int64_t samples = 0;
  double seconds = 0;
};

// Runs `model` in eval mode without recording gradients over one pass of `loader` (epoch 0). Images go to
// `device` in `dtype` (bf16/f16 under AMP); logits are compared in f32. `on_batch(done, total)` reports
// progress.
EvalResult evaluate(nn::NAT& model, data::Loader& loader, Device device, DType dtype = DType::f32,
                    const std::function<void(int64_t, int64_t)>& on_batch = {});

}  // namespace nat::train
