// Console progress: a tqdm-style bar redrawn in place on a terminal, timm-style log lines otherwise
// (timm's train.py log lines):
//   Train: 3 [  40/70 ( 57%)]  Loss: 0.512 (0.601)  Time: 0.210s,  304.76/s  (0.205s,  312.20/s)  LR: 1.200e-03  Data:
//   0.004 (0.006)  ETA: 0:01:35 Epoch 3/8 |#########-------| 57% 40/70 [00:08<00:06, 4.9 it/s, loss=0.601, lr=1.20e-03]
#pragma once

#include <cstdint>
#include <string>

namespace nat::train {

// "1:02:03" for seconds >= an hour, "02:03" below.
std::string format_duration(double seconds);

enum class ProgressMode { bar, lines, none };
// "auto" -> bar when stdout is a terminal, lines otherwise.
ProgressMode progress_mode(const std::string& key);

struct StepStats {
  int64_t epoch = 0, total_epochs = 0;
  int64_t update = 0, updates = 0;  // 1-based position in the epoch
  double loss = 0, loss_avg = 0;
  double step_s = 0, step_s_avg = 0;  // wall time per optimizer update
  double data_s = 0, data_s_avg = 0;  // time waiting for the loader per update
  int64_t images = 0;                 // images per update
  double lr = 0;
  double eta_s = 0;  // until the end of training
};

// The timm line (no newline).
std::string timm_train_line(const StepStats& s);

class ProgressBar {
 public:
  explicit ProgressBar(ProgressMode mode) : mode_(mode) {}
  // Redraws the bar (bar mode only).
  void update(const StepStats& s, double elapsed_s);
  // Ends the bar's line so that ordinary output can follow.
  void finish();
  ProgressMode mode() const { return mode_; }

 private:
  ProgressMode mode_;
  bool open_ = false;
};

}  // namespace nat::train
