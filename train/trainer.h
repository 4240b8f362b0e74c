// The training loop of timm's train.py for NAT, in one process: per optimizer update, `grad_accum_steps`
// micro-batches of forward, loss (soft-target cross-entropy under mixup/cutmix, label-smoothed
// cross-entropy otherwise) and backward; then the global gradient norm (clipping; overflow check under
// f16 loss scaling), the fused AdamW/SGD step at the schedule's LR, and the EMA update. After each epoch:
// evaluation (loss, top-1, top-5; the EMA model too), summary.csv, last / best / checkpoint-<epoch>.
//
// A run stops cleanly — saving last.safetensors with the exact position — after max_steps optimizer
// updates or on SIGINT/SIGTERM (a second signal quits at once); resume continues from there, bit for bit
// on the CPU: the data order and augmentation are functions of (seed, epoch, position), and the
// checkpoint holds every other state.
// A diverged model never reaches the disk: a NaN or infinite loss, eval loss (model or EMA) or weight stops
// the run with an error naming the step or epoch, the value and the last good checkpoint (one this run
// saved from finite weights, or the resume source), before summary.csv, best or the kept checkpoints
// are touched.
//
// Data parallel (a communicator of world size N > 1, docs/distributed.md): every rank loads its share of
// each global batch (batch_size x N, as timm), rank 0's initial weights are broadcast after a check that
// every rank built the same parameters, gradients are averaged in buckets during backward (GradReducer),
// losses and evaluation metrics are reduced over the ranks, and only rank 0 writes the run directory.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "data/image_folder.h"
#include "data/loader.h"
#include "nn/nat.h"
#include "train/amp.h"
#include "train/checkpoint.h"
#include "train/comm.h"
#include "train/config.h"
#include "train/ema.h"
#include "train/evaluate.h"
#include "train/optim.h"
#include "train/progress.h"
#include "train/reducer.h"
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
  // >= 0: the free bytes the start-up disk check sees instead of statvfs's (tests simulate a full disk).
  int64_t assume_free_bytes = -1;
};

struct TrainResult {
  std::string run_dir;
  int64_t steps = 0;              // optimizer updates done in total
  int64_t steps_this_run = 0;     // of which by this fit() (the others before a resume)
  int64_t epochs_done = 0;        // completed epochs in total
  bool stopped_early = false;     // max_steps or a signal
  int signal = 0;                 // SIGINT or SIGTERM when one stopped the run (nat train exits 128 + signal)
  bool nothing_to_train = false;  // resumed at or past the last epoch: no step ran
  EvalResult last_eval, last_ema_eval;
  double best_metric = 0;
  int64_t best_epoch = -1;
  // Files that could not be read or decoded, over the whole run (this rank's share; named on stderr).
  int64_t unreadable_train_files = 0, unreadable_val_files = 0;
  double train_seconds = 0;  // wall time of fit() (evaluation included)
  double cpu_seconds = 0;    // CPU time of the process during fit(), all threads (loader workers included)
};

// The device a config asks for ("" picks CUDA when a device exists).
Device resolve_device(const std::string& key);

// The communicator of this process's launch (train/launch.h): a world of one without a launcher;
// otherwise the rank's device (cuda:<local rank> for a CUDA run), its share of the node's CPU threads when
// `threads` is 0 (cfg is updated), and the backend `dist_backend` names, with `dist_timeout`.
std::shared_ptr<Communicator> setup_distributed(TrainConfig& cfg, const LaunchInfo& launch);

class Trainer {
 public:
  // Builds everything (datasets, model, optimizer, loaders, run directory) and restores `resume`.
  // `comm` (default: a world of one on cfg.device) makes the run data parallel; its device is the run's.
  explicit Trainer(const TrainConfig& cfg, TrainerHooks hooks = {}, std::shared_ptr<Communicator> comm = nullptr);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  TrainResult fit();

  nn::NAT& model() { return *model_; }
  const Optimizer& optimizer() const { return *optimizer_; }
  const TrainState& state() const { return state_; }
  const RunDir& run_dir() const;  // rank 0 only (the other ranks write nothing)
  const std::string& run_path() const { return run_path_; }
  const GradReducer* reducer() const { return reducer_.get(); }
  // The model, optimizer-group and data lines printed at start-up.
  std::string describe() const;

 private:
  enum class EpochEnd { complete, stopped };
  EpochEnd train_epoch(int64_t epoch);
  void end_epoch(int64_t epoch, double lr);
  std::string stop_reason() const;  // why fit() stops early: a signal or max_steps
  void save(const std::string& name);
  void say(const std::string& line);                     // rank 0: stdout (unless quiet) and train.log
  std::string ranked(const std::string& line) const;     // "[rank 0/4] line" in a distributed run
  EvalResult evaluate_all(nn::NAT& model, DType dtype);  // this rank's share, reduced over the ranks
  [[noreturn]] void fail_non_finite(const char* what, double value, int64_t epoch, int64_t micro_batch);
  // Ends the run with `what` (a divergence), naming the last good checkpoint and what to try.
  [[noreturn]] void fail_diverged(const std::string& what);
  // Fails the run (fail_diverged) when a weight or EMA weight is NaN or infinite; `what_waits` is what
  // would have been written.
  void check_weights_finite(const std::string& what_waits);
  // The bytes one checkpoint of this run takes on disk (about; for the start-up free-space check).
  int64_t checkpoint_bytes() const;
  std::vector<Tensor> f32_values() const;

  TrainConfig cfg_;
  TrainerHooks hooks_;
  std::shared_ptr<Communicator> comm_;
  bool main_ = true;  // rank 0: prints, logs and writes the run directory
  std::unique_ptr<GradReducer> reducer_;
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
  std::unique_ptr<RunDir> run_;  // rank 0 only
  std::string run_path_;
  ProgressBar bar_{ProgressMode::none};
  TrainState state_;
  int64_t updates_per_epoch_ = 0;
  int64_t start_step_ = 0;
  bool stop_requested_ = false;  // a signal reached some rank (agreed on by all ranks at each step)
  int stop_signal_ = 0;          // which one (SIGINT when any rank got SIGINT)
  std::string last_saved_;       // the last checkpoint this run wrote (always from finite weights)
  std::string resumed_from_;
  TrainResult result_;
};

}  // namespace nat::train
