// timm-style validation loop.
#include "train/evaluate.h"

#include <chrono>

#include "autograd/autograd.h"
#include "core/error.h"
#include "ops/loss.h"
#include "train/metrics.h"

namespace nat::train {

EvalResult evaluate(nn::NAT& model, data::Loader& loader, Device device, DType dtype,
                    const std::function<void(int64_t, int64_t)>& on_batch) {
  auto t0 = std::chrono::steady_clock::now();
  bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  const int64_t skipped_before = loader.stats().skipped_samples;
  loader.start_epoch(0);
  const int64_t total = loader.batches_per_epoch();
  double loss_sum = 0;
  TopK hits;
  int64_t done = 0;
  while (auto batch = loader.next()) {
    // Drop the repeats that even out distributed ranks (none with one process); they come last.
    int64_t n = batch->size(), keep = n;
    while (keep > 0 && batch->padding[static_cast<size_t>(keep - 1)]) --keep;
    if (keep == 0) {  // only padding, or every file of the batch was bad
      if (on_batch) on_batch(++done, total);
      continue;
    }
    Tensor x = batch->images.to(device, /*non_blocking=*/true);
    if (dtype != DType::f32) x = x.to(dtype);
    Tensor logits = model.forward(x);
    if (logits.dtype() != DType::f32) logits = logits.to(DType::f32);
    Tensor labels = batch->labels.to(device);
    if (keep < n) {
      logits = logits.slice(0, 0, keep).contiguous();
      labels = labels.slice(0, 0, keep).contiguous();
    }
    double loss = ops::cross_entropy(logits, labels).item();
    loss_sum += loss * static_cast<double>(keep);
    TopK h = topk_hits(logits, labels);
    hits.top1 += h.top1, hits.top5 += h.top5, hits.count += h.count;
    if (on_batch) on_batch(++done, total);
  }
  model.train(was_training);
  EvalResult r;
  r.samples = hits.count;
  r.skipped = loader.stats().skipped_samples - skipped_before;
  NAT_CHECK(r.samples > 0 || r.skipped == 0, "[evaluate] all ", r.skipped, " images of ", loader.dataset().root(),
            " failed to load, so there is nothing to score; check them with `nat data check ", loader.dataset().root(),
            "`");
  if (hits.count) {
    r.loss = loss_sum / static_cast<double>(hits.count);
    r.top1 = 100.0 * static_cast<double>(hits.top1) / static_cast<double>(hits.count);
    r.top5 = 100.0 * static_cast<double>(hits.top5) / static_cast<double>(hits.count);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace nat::train
