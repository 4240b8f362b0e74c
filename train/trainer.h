// The training loop of timm's train.py for NAT, in one process: per optimizer update, `grad_accum_steps`
// micro-batches of forward, loss (soft-target cross-entropy under mixup/cutmix, label-smoothed
// cross-entropy otherwise) and backward; then the global gradient norm (clipping; overflow check under
// f16 loss scaling), the fused AdamW/SGD step at the schedule's LR, and the EMA update. After each epoch:
// evaluation (loss, top-1, top-5; the EMA model too), summary.csv, last / best / checkpoint-<epoch>.
//
// A run stops cleanly — saving last.safetensors with the exact position — after max_steps optimizer
// updates or on SIGINT/SIGTERM; resume continues from there, bit for bit on the CPU: the data order and
// augmentation are functions of (seed, epoch, position), and the checkpoint holds every other state.
// A NaN or infinite loss stops the run with an error naming the step and the last good checkpoint.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "data/image_folder.h"
#include "data/loader.h"
#include "nn/nat.h"
#include "train/amp.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/ema.h"
#include "train/evaluate.h"
#include "train/optim.h"
#include "train/progress.h"
#include "train/run_dir.h"
#include "train/schedule.h"

namespace nat::train {

// What the loop reports after every optimizer update.
struct StepInfo {
  int64_t step = 0;  // updates done so far
  double loss = 0;   // mean loss of the update's micro-batches
  double lr = 0;
  int64_t images = 0;  // images in the update
  double step_s = 0;   // wall time of the update, loading included
  double data_s = 0;   // of which waiting for the loader
};

struct TrainerHooks {
  std::function<void(const StepInfo&)> on_step;
  bool quiet = false;  // nothing on stdout (the log file still gets it all)
};

struct TrainResult {
  std::string run_dir;
  int64_t steps = 0;           // optimizer updates done in total
  int64_t epochs_done = 0;     // completed epochs in total
  bool stopped_early = false;  // max_steps or a signal
  EvalResult last_eval, last_ema_eval;
  double best_metric = 0;
  int64_t best_epoch = -1;
  double train_seconds = 0;  // wall time of fit() (evaluation included)
  double cpu_seconds = 0;    // CPU time of the process during fit(), all threads (loader workers included)
};

// The device a config asks for ("" picks CUDA when a device exists).
Device resolve_device(const std::string& key);

class Trainer {
 public:
  // Builds everything (datasets, model, optimizer, loaders, run directory) and restores `resume`.
  explicit Trainer(const TrainConfig& cfg, TrainerHooks hooks = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  TrainResult fit();

  nn::NAT& model() { return *model_; }
  const Optimizer& optimizer() const { return *optimizer_; }
  const TrainState& state() const { return state_; }
  const RunDir& run_dir() const { return *run_; }
  // The model, optimizer-group and data lines printed at start-up.
  std::string describe() const;

 private:
  enum class EpochEnd { complete, stopped };
  EpochEnd train_epoch(int64_t epoch);
  void end_epoch(int64_t epoch, double lr);
  void save(const std::string& name);
  void say(const std::string& line);  // stdout (unless quiet) and train.log
  [[noreturn]] void fail_non_finite(const char* what, double value, int64_t epoch, int64_t micro_batch);
  std::vector<Tensor> f32_values() const;

  TrainConfig cfg_;
  TrainerHooks hooks_;
  Device device_;
  DType compute_dtype_ = DType::f32;
  std::shared_ptr<const data::ImageFolder> train_set_, val_set_;
  std::unique_ptr<data::Loader> train_loader_, val_loader_;
  nn::NatConfig model_config_;
  std::shared_ptr<nn::NAT> model_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<LrSchedule> schedule_;
  std::unique_ptr<ModelEma> ema_;
  LossScaler scaler_;
  std::unique_ptr<RunDir> run_;
  ProgressBar bar_{ProgressMode::none};
  TrainState state_;
  int64_t updates_per_epoch_ = 0;
  int64_t start_step_ = 0;
  std::string last_saved_;  // the last checkpoint written by this run, for error messages
  std::string resumed_from_;
  TrainResult result_;
};

}  // namespace nat::train
