// SamplePipeline: file bytes -> one normalised (3, S, S) float image, the whole per-sample recipe.
// Train (timm transforms_imagenet_train, docs/recipe.md §1): RandomResizedCrop (decoded at 1/2, 1/4 or
// 1/8 size when the crop is that much larger than S), horizontal/vertical flip, RandAugment or else
// colour jitter, normalisation, random erasing (which the loader defers until after mixup, as NAT's
// runs did: see data/loader.h). Eval (transforms_imagenet_eval): resize the shorter
// side to floor(S / crop_pct), center crop S, normalise. `no_aug` trains with the eval geometry at
// crop_pct 1. Every random choice comes from the SampleRng the caller passes in.
// This header needs no OpenCV: builds without it get a stub whose constructor throws. Constructing a
// pipeline turns OpenCV's internal threading off for the process (cv::setNumThreads(0)): the loader
// parallelises over samples instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "data/config.h"
#include "data/sample_rng.h"

namespace nat::data {

struct SampleTiming {    // thread CPU seconds
  double decode_s = 0;   // reading the header and decoding
  double augment_s = 0;  // everything after decoding
};

class SamplePipeline {
 public:
  SamplePipeline(const DataConfig& config, bool train);
  ~SamplePipeline();
  SamplePipeline(const SamplePipeline&) = delete;
  SamplePipeline& operator=(const SamplePipeline&) = delete;

  int64_t size() const { return size_; }
  int64_t floats_per_sample() const { return 3 * size_ * size_; }
  bool train() const { return train_; }

  // Writes floats_per_sample() floats to `out`. Throws DecodeError when the bytes are not an image.
  // `erase` false leaves random erasing to a later erase() call. Thread-safe: one pipeline serves all
  // loader threads.
  void run(const uint8_t* data, size_t n, SampleRng& rng, float* out, SampleTiming* timing = nullptr,
           bool erase = true) const;
  // timm's RandomErasing on one normalised (3, S, S) image; a no-op unless this is a train pipeline
  // with reprob > 0 (erases() tells).
  void erase(float* chw, SampleRng& rng) const;
  bool erases() const;

  // The transforms, one per line, as timm prints them.
  std::string describe() const;

  // Undo the normalisation of one channel value (for previews).
  uint8_t denormalize(int channel, float value) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t size_ = 0;
  bool train_ = true;
};

}  // namespace nat::data
