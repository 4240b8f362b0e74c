// GradReducer: data parallelism's gradient averaging, overlapped with backward (PyTorch DDP's design).
// Parameters are grouped into buckets in reverse registration order — the order backward finishes them —
// with a small first bucket (1 MiB) so communication starts early, then buckets of about 25 MiB. A
// grad-ready hook on each parameter copies its final gradient into its bucket; when a bucket is complete
// its all-reduce (mean) is launched, always in bucket order (every rank must issue the same sequence).
// finish() waits for every bucket and writes the averaged gradients back. Micro-batches that only
// accumulate (gradient accumulation) run with the reducer disarmed: nothing is sent until the last one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "train/comm.h"

namespace nat::train {

// Start-up of a data-parallel run: checks that every rank built the same parameters (names, shapes,
// dtypes, in order) — an error on every rank naming the first difference otherwise — then broadcasts rank
// 0's values, so all ranks start from identical weights.
void broadcast_parameters(Communicator& comm, const std::vector<std::pair<std::string, Tensor>>& params);

struct ReducerOptions {
  int64_t first_bucket_bytes = int64_t{1} << 20;  // PyTorch DDP's _DEFAULT_FIRST_BUCKET_BYTES
  int64_t bucket_bytes = int64_t{25} << 20;       // DDP's bucket_cap_mb = 25
  bool trace = false;                             // record ready/launch events (tests, `nat bench`)
};

struct GradBucket {
  std::vector<size_t> params;    // indices into the reducer's parameter list, in fill order
  std::vector<int64_t> offsets;  // element offset of each parameter in `flat`
  int64_t numel = 0;
  int64_t bytes = 0;
  Tensor flat;  // the bucket's buffer on the communicator's device
};

struct ReducerEvent {
  enum Kind { ready, launch, done } kind;
  int bucket;
  size_t param;  // ready: the parameter; launch, done: the bucket's first parameter
  double ms;     // since prepare(); done: when the all-reduce finished (when finish() saw it, for NCCL)
};

class GradReducer {
 public:
  // params: (name, tensor) in registration order (Module::named_parameters()).
  GradReducer(std::shared_ptr<Communicator> comm, std::vector<std::pair<std::string, Tensor>> params,
              ReducerOptions options = {});
  ~GradReducer();  // removes its hooks
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  // Before each backward: `sync` arms the hooks (the micro-batch that completes an update).
  void prepare(bool sync);
  // After the armed backward: waits for every bucket and leaves each gradient averaged over the ranks.
  // A parameter that received no gradient is an error naming it (every parameter must take part).
  void finish();

  const std::vector<GradBucket>& buckets() const { return buckets_; }
  const std::vector<ReducerEvent>& events() const { return events_; }
  std::string describe() const;  // "4 buckets (1.0 MiB, 25.0 MiB, ...) over 152 tensors"

 private:
  void on_ready(size_t param, const Tensor& grad);
  void launch_ready_buckets();

  std::shared_ptr<Communicator> comm_;
  std::vector<std::pair<std::string, Tensor>> params_;
  ReducerOptions opt_;
  std::vector<GradBucket> buckets_;
  std::vector<int> bucket_of_;   // parameter -> bucket
  std::vector<size_t> slot_of_;  // parameter -> position within its bucket
  std::vector<char> param_ready_;
  std::vector<int64_t> bucket_pending_;
  std::vector<std::shared_ptr<Work>> work_;
  size_t next_launch_ = 0;
  bool armed_ = false;
  double t0_ = 0;  // prepare()'s time, steady clock seconds (trace)
  std::vector<ReducerEvent> events_;
};

}  // namespace nat::train
