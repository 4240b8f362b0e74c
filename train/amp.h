// Mixed precision for the trainer. nat.cpp has no autocast: under AMP the model itself is converted to
// bf16 or f16 (PyTorch AMP's "O2" style) while the optimizer keeps f32 master weights (train/optim.h),
// the logits are cast back to f32 before the loss, and f16 runs use a dynamic loss scaler as
// torch.cuda.amp.GradScaler: start at 2^16, halve and skip the step when a gradient overflows, double
// after 2000 clean steps.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace nat::train {

// x converted to `dtype`, recorded on the tape so the gradient flows back converted to x's dtype.
Tensor cast(const Tensor& x, DType dtype);

class LossScaler {
 public:
  LossScaler() = default;  // disabled: scale 1, never skips
  explicit LossScaler(bool enabled, double init_scale = 65536.0, int64_t growth_interval = 2000)
      : enabled_(enabled), scale_(enabled ? init_scale : 1.0), growth_interval_(growth_interval) {}
  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  int64_t growth_tracker() const { return growth_tracker_; }
  // After a backward: `finite` says whether every gradient was finite. Returns whether to step.
  bool update(bool finite);
  void set_state(double scale, int64_t growth_tracker) { scale_ = scale, growth_tracker_ = growth_tracker; }

 private:
  bool enabled_ = false;
  double scale_ = 1.0;
  int64_t growth_interval_ = 2000;
  int64_t growth_tracker_ = 0;
};

}  // namespace nat::train
