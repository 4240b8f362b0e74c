// Classification metrics: top-k hits per batch (computed on the host from the logits, ties broken by the
// lower class index as torch.topk does on the CPU) and running averages.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace nat::train {

struct TopK {
  int64_t top1 = 0, top5 = 0, count = 0;  // hits and samples
};

// logits: [N, C] (any floating dtype or device); labels: i64 [N]. Counts the rows whose label is among
// the k largest logits, for k = 1 and min(5, C). NaN ranks below every number, and a row whose label's
// logit is NaN or infinite is never a hit.
TopK topk_hits(const Tensor& logits, const Tensor& labels);

// For `nat predict`: the k best (class, probability) pairs of each row of softmax(logits), NaN logits
// last. A row holding NaN or +inf has NaN probabilities, as torch's softmax.
std::vector<std::vector<std::pair<int64_t, double>>> topk_probabilities(const Tensor& logits, int64_t k);

// Running mean of a per-batch value weighted by the batch size (timm's AverageMeter).
struct AverageMeter {
  double value = 0, sum = 0;
  int64_t count = 0;
  void update(double v, int64_t n = 1) {
    value = v;
    sum += v * static_cast<double>(n);
    count += n;
  }
  double avg() const { return count ? sum / static_cast<double>(count) : 0.0; }
  void reset() { *this = AverageMeter{}; }
};

}  // namespace nat::train
