// Classification losses with fused log_softmax + negative log-likelihood kernels, reduced by the mean
// over the batch. The returned loss is a scalar in the logits' dtype.
#pragma once

#include "core/tensor.h"

namespace nat::ops {

// logits: [N, C]; target: i64 [N] class indices in [0, C). With label smoothing eps the target
// distribution is q = (1 - eps) * onehot + eps / C, i.e. loss_i = (1 - eps) * (-log p_target)
// + eps * mean_c(-log p_c), as torch's label_smoothing and timm's LabelSmoothingCrossEntropy.
// A target out of range is a nat::Error on the CPU and a NaN loss on CUDA (no device sync).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, double label_smoothing = 0.0);

// logits, target: [N, C], target rows are probabilities (mixup / cutmix):
// loss = mean_i sum_c -target_ic * log_softmax(logits)_ic. Gradients flow to both inputs.
Tensor soft_target_cross_entropy(const Tensor& logits, const Tensor& target);

}  // namespace nat::ops
