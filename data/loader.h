// The threaded, deterministic loader. Worker threads read, decode and augment samples in parallel into
// batch buffers (pinned host memory when a GPU is present, ready for an asynchronous copy), at most
// `prefetch` batches ahead of the consumer. The thread that completes a batch applies mixup/cutmix to
// it and then random erasing to each sample: NAT's runs used timm's prefetcher path (FastCollateMixup,
// then RandomErasing on the normalised batch), so an erased patch is never blended (timm's plain Mixup
// path would erase first). Nothing depends on the thread count or timing:
//   epoch order      data/sampler.h (seeded shuffle, distributed split: equal batches on every rank)
//   sample i         SampleRng(stream_seed(seed, sample, epoch, position_i)): decode and augment
//                    SampleRng(stream_seed(seed, erase, epoch, position_i)): random erasing
//   batch b (mixup)  SampleRng(stream_seed(seed, mixup, epoch, b, rank))
// so start_epoch(e, b) resumes exactly where batch b of epoch e would have been.
// A file that cannot be read or decoded (corrupt, truncated, over max_image_pixels) is reported once
// (path and reason, on stderr) and counted in stats(). Training replaces it by the next file of the
// dataset, as timm does (20 consecutive failures stop the loader with an error); evaluation leaves it
// out of its batch (which is then smaller), so no validation sample is counted twice.
// No exception leaves a worker thread: anything a worker meets (out of memory for a batch, an OpenCV
// or std exception) becomes a one-line nat::Error that next() throws, in batch order.
// Buffers are recycled once every Tensor handle (and view) of a returned Batch is gone: keep the Batch
// alive until an asynchronous copy from it has completed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "core/tensor.h"
#include "data/config.h"
#include "data/image_folder.h"
#include "data/mixup.h"
#include "data/pipeline.h"
#include "data/sampler.h"

namespace nat::data {

struct LoaderOptions {
  bool train = true;  // train transforms and mixup (else eval transforms)
  bool shuffle = true;
  bool drop_last = true;  // train: true (timm); eval: false
  int64_t batch_size = 128;
  int64_t workers = 8;     // 0: batches are made in the calling thread
  int64_t prefetch = 3;    // batches in progress or ready beyond the one being consumed
  bool pin_memory = true;  // pinned buffers when CUDA is compiled and a device exists
  int64_t rank = 0, world_size = 1;
  int64_t num_classes = 0;                // 0: the dataset's
  int64_t max_consecutive_failures = 20;  // timm's _ERROR_RETRY
  bool log_failures = true;               // one stderr line per bad file
  // true (train): a bad file's sample is replaced by the next good file. false (eval): it is left out.
  bool replace_bad_files = true;
};

// The train loader of timm (shuffle, drop_last, mixup) or its eval loader, from the config's keys.
LoaderOptions train_loader_options(const DataConfig& cfg, int64_t rank = 0, int64_t world_size = 1);
LoaderOptions eval_loader_options(const DataConfig& cfg, int64_t rank = 0, int64_t world_size = 1);

struct Batch {
  int64_t epoch = 0, index = 0;  // batch `index` of `epoch` on this rank
  Tensor images;                 // f32 (B, 3, S, S), normalised
  Tensor labels;                 // i64 (B): the samples' own classes
  Tensor targets;                // f32 (B, num_classes) soft targets when mixup/cutmix is on, else undefined
  // Dataset index of each sample (after any replacement of a bad file). An eval batch holds fewer than
  // batch_size samples when files were left out (possibly none at all).
  std::vector<int64_t> indices;
  std::vector<int64_t> positions;  // position in the epoch's global order (keys the sample's randomness)
  std::vector<uint8_t> padding;    // 1 for the repeats that even out distributed ranks
  MixResult mix;                   // lam etc. per sample (empty without mixup)
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

// Totals since the loader was made; the epoch_* fields count the current epoch only (since start_epoch).
struct LoaderStats {
  int64_t samples = 0, batches = 0;
  int64_t failed_files = 0;     // distinct files that could not be read or decoded
  int64_t replacements = 0;     // samples replaced by a following file (train)
  int64_t skipped_samples = 0;  // samples left out because their file is bad (eval; padding repeats excluded)
  int64_t epoch_failed_files = 0, epoch_replacements = 0, epoch_skipped_samples = 0;
  int64_t bytes = 0;  // file bytes read
  // Thread CPU seconds summed over the workers (mix_s: mixup and random erasing, once a batch is full).
  double read_s = 0, decode_s = 0, augment_s = 0, mix_s = 0;
  double wait_s = 0;  // wall seconds the consumer spent blocked in next()
};

class Loader {
 public:
  Loader(std::shared_ptr<const ImageFolder> dataset, const DataConfig& config, const LoaderOptions& options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Starts (or restarts) `epoch` at batch `start_batch`; work of a previous epoch is dropped.
  void start_epoch(int64_t epoch, int64_t start_batch = 0);
  // The next batch of the current epoch, or nullopt at its end. Rethrows a worker's error.
  std::optional<Batch> next();

  int64_t batches_per_epoch() const;
  int64_t epoch() const;
  int64_t next_batch() const;  // index of the batch next() returns
  int64_t num_classes() const { return num_classes_; }
  bool pinned() const { return pinned_; }
  LoaderStats stats() const;
  const SamplePipeline& pipeline() const { return *pipeline_; }
  const ImageFolder& dataset() const { return *dataset_; }
  const LoaderOptions& options() const { return opt_; }

 private:
  struct Slot;
  struct Buffers;
  void worker_loop();
  // Claims the next sample job and does it; `lk` holds mu_ on entry and on return.
  void work_one(std::unique_lock<std::mutex>& lk);
  // Decodes and augments entry `e` (or the files after it, if it is bad) into `image_out`; returns the
  // dataset index used, or -1 when the file is bad and not replaced.
  int64_t load_sample(int64_t epoch, const EpochEntry& e, float* image_out, int64_t& label_out, LoaderStats& local);
  // One attempt at dataset index `idx`: "" on success, else why the file is bad. Throws nat::Error for
  // what is not the file's fault (out of memory, an OpenCV failure while augmenting).
  std::string try_sample(int64_t idx, int64_t epoch, const EpochEntry& e, float* image_out, LoaderStats& local);
  void finish_batch(Slot& slot, int64_t epoch, int64_t b, LoaderStats& local);
  Slot& slot_for(int64_t b);                   // under mu_; a slot whose buffers failed holds the error
  std::shared_ptr<Buffers> acquire_buffers();  // under mu_; throws a nat::Error naming the batch's size
  Batch take(Slot& slot, int64_t b);           // under mu_
  bool job_ready() const;                      // under mu_

  std::shared_ptr<const ImageFolder> dataset_;
  DataConfig cfg_;
  LoaderOptions opt_;
  std::unique_ptr<SamplePipeline> pipeline_;
  std::optional<Mixup> mixup_;
  int64_t num_classes_ = 0;
  bool pinned_ = false;

  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
  uint64_t generation_ = 0;
  int64_t epoch_ = -1, nb_ = 0, consumed_ = 0, next_job_ = 0, end_job_ = 0, in_flight_ = 0;
  std::vector<EpochEntry> order_;
  std::map<int64_t, std::unique_ptr<Slot>> slots_;
  std::vector<std::shared_ptr<Buffers>> pool_;
  std::exception_ptr error_;
  LoaderStats stats_;
  mutable std::mutex bad_mu_;
  std::set<int64_t> bad_files_;  // dataset indices known to fail (under bad_mu_)
  std::set<int64_t> epoch_bad_;  // those met in the current epoch (under bad_mu_)
};

}  // namespace nat::data
