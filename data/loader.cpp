// The loader's scheduling: sample jobs k = 0.. of the epoch's order go to whichever thread is free, as
// long as batch k / B is within `prefetch` of the consumer; the thread finishing a batch's last sample
// applies mixup to it and marks it ready. start_epoch() stops handing out jobs, waits for the ones in
// flight, and starts over (the generation counter tells late finishers that their work is void).
// Errors: whatever a job throws is caught in the worker and stored, as a nat::Error, in the slot of
// its batch (or, when even that fails, for the whole loader); next() throws it when that batch is due.
#include "data/loader.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>

#include "core/allocator.h"
#include "core/backend.h"
#include "core/error.h"
#include "data/cpu_time.h"
#include "data/image_info.h"

namespace nat::data {

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void add(LoaderStats& to, LoaderStats& from) {
  to.samples += from.samples;
  to.batches += from.batches;
  to.replacements += from.replacements;
  to.skipped_samples += from.skipped_samples;
  to.epoch_replacements += from.epoch_replacements;
  to.epoch_skipped_samples += from.epoch_skipped_samples;
  to.bytes += from.bytes;
  to.read_s += from.read_s;
  to.decode_s += from.decode_s;
  to.augment_s += from.augment_s;
  to.mix_s += from.mix_s;
  from = LoaderStats{};
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// The exception `p` as a nat::Error: OpenCV, std and unknown exceptions get a one-line message saying
// `what_failed`; a nat::Error is kept as it is.
std::exception_ptr as_error(std::exception_ptr p, const std::string& what_failed) {
  try {
    try {
      std::rethrow_exception(p);
    } catch (const Error&) {
      return p;
    } catch (const std::bad_alloc&) {
      NAT_THROW("[loader] out of memory ", what_failed);
    } catch (const std::exception& e) {
      NAT_THROW("[loader] ", what_failed, " failed: ", one_line(e.what()));
    } catch (...) {
      NAT_THROW("[loader] ", what_failed, " failed with an exception of unknown type");
    }
  } catch (...) {
    return std::current_exception();
  }
}

}  // namespace

struct Loader::Buffers {
  Tensor images, labels, targets;
  // Free when only the pool refers to it: no Batch, copy or view of its tensors is alive.
  bool free() const {
    for (const Tensor* t : {&images, &labels, &targets})
      if (t->defined() && (t->impl_ptr().use_count() > 1 || t->storage().use_count() > 1)) return false;
    return true;
  }
};

struct Loader::Slot {
  std::shared_ptr<Buffers> buf;
  int64_t size = 0, remaining = 0;
  bool ready = false;
  std::vector<int64_t> indices, positions;
  std::vector<uint8_t> padding;
  MixResult mix;
  std::vector<uint8_t> skipped;  // 1: the sample's file is bad and left out (eval)
  std::exception_ptr error;      // set when the buffers, a sample (the lowest failing slot) or mixing failed
  int64_t error_slot = 0;
};

LoaderOptions train_loader_options(const DataConfig& cfg, int64_t rank, int64_t world_size) {
  LoaderOptions o;
  o.train = o.shuffle = o.drop_last = true;
  o.batch_size = cfg.batch_size;
  o.workers = cfg.workers;
  o.pin_memory = cfg.pin_mem;
  o.rank = rank;
  o.world_size = world_size;
  o.num_classes = cfg.num_classes;
  return o;
}

LoaderOptions eval_loader_options(const DataConfig& cfg, int64_t rank, int64_t world_size) {
  LoaderOptions o = train_loader_options(cfg, rank, world_size);
  o.train = o.shuffle = o.drop_last = o.replace_bad_files = false;
  o.batch_size = cfg.eval_batch_size();
  return o;
}

Loader::Loader(std::shared_ptr<const ImageFolder> dataset, const DataConfig& config, const LoaderOptions& options)
    : dataset_(std::move(dataset)), cfg_(config), opt_(options) {
  NAT_CHECK(dataset_ && dataset_->size() > 0, "[loader] the dataset is empty");
  cfg_.validate();
  NAT_CHECK(opt_.batch_size >= 1, "[loader] batch_size must be >= 1, got ", opt_.batch_size);
  NAT_CHECK(opt_.workers >= 0, "[loader] workers must be >= 0, got ", opt_.workers);
  NAT_CHECK(opt_.prefetch >= 1, "[loader] prefetch must be >= 1, got ", opt_.prefetch);
  NAT_CHECK(opt_.max_consecutive_failures >= 1, "[loader] max_consecutive_failures must be >= 1");
  num_classes_ = opt_.num_classes > 0 ? opt_.num_classes : dataset_->num_classes();
  NAT_CHECK(num_classes_ >= dataset_->num_classes(), "[loader] num_classes ", num_classes_, " is smaller than the ",
            dataset_->num_classes(), " classes of ", dataset_->root());
  pipeline_ = std::make_unique<SamplePipeline>(cfg_, opt_.train);
  if (opt_.train && cfg_.mixup_active()) {
    NAT_CHECK(opt_.drop_last, "[loader] mixup/cutmix needs full (even) batches: use drop_last");
    NAT_CHECK(opt_.batch_size % 2 == 0, "[loader] mixup/cutmix needs an even batch size, got ", opt_.batch_size);
    NAT_CHECK(opt_.replace_bad_files, "[loader] mixup/cutmix needs full batches: bad files must be replaced");
    mixup_.emplace(cfg_, num_classes_);
  }
  pinned_ = opt_.pin_memory && cuda_available();
  // Fail now, not in a worker, when a rank would get no batch at all.
  NAT_CHECK(batches_per_epoch() > 0, "[loader] ", dataset_->size(), " images in ", dataset_->root(),
            " make no batch of ", opt_.batch_size,
            opt_.world_size > 1 ? str(" on each of ", opt_.world_size, " ranks") : std::string(), " with drop_last");
  for (int64_t i = 0; i < opt_.workers; ++i) threads_.emplace_back([this] { worker_loop(); });
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

int64_t Loader::batches_per_epoch() const {
  return nat::data::batches_per_epoch(dataset_->size(), opt_.world_size, opt_.batch_size, opt_.drop_last);
}

int64_t Loader::epoch() const {
  std::lock_guard<std::mutex> lk(mu_);
  return epoch_;
}

int64_t Loader::next_batch() const {
  std::lock_guard<std::mutex> lk(mu_);
  return consumed_;
}

LoaderStats Loader::stats() const {
  LoaderStats s;
  {
    std::lock_guard<std::mutex> lk(mu_);
    s = stats_;
  }
  std::lock_guard<std::mutex> g(bad_mu_);
  s.failed_files = static_cast<int64_t>(bad_files_.size());
  s.epoch_failed_files = static_cast<int64_t>(epoch_bad_.size());
  return s;
}

void Loader::start_epoch(int64_t epoch, int64_t start_batch) {
  std::unique_lock<std::mutex> lk(mu_);
  ++generation_;
  end_job_ = next_job_;  // hand out nothing more of the old epoch
  done_cv_.wait(lk, [&] { return in_flight_ == 0; });
  slots_.clear();
  error_ = nullptr;
  stats_.epoch_replacements = stats_.epoch_skipped_samples = 0;
  {
    std::lock_guard<std::mutex> g(bad_mu_);
    epoch_bad_.clear();
  }
  SamplerOptions so{opt_.shuffle, static_cast<uint64_t>(cfg_.seed), opt_.rank, opt_.world_size};
  order_ = epoch_order(dataset_->size(), epoch, so);
  nb_ = batches_per_epoch();
  NAT_CHECK(start_batch >= 0 && start_batch <= nb_, "[loader] start_batch ", start_batch, " out of range [0, ", nb_,
            "] for epoch ", epoch);
  epoch_ = epoch;
  consumed_ = start_batch;
  next_job_ = start_batch * opt_.batch_size;
  end_job_ = opt_.drop_last ? nb_ * opt_.batch_size : static_cast<int64_t>(order_.size());
  work_cv_.notify_all();
}

bool Loader::job_ready() const {
  return !error_ && next_job_ < end_job_ && next_job_ / opt_.batch_size < consumed_ + opt_.prefetch;
}

std::shared_ptr<Loader::Buffers> Loader::acquire_buffers() {
  for (auto& b : pool_)
    if (b.use_count() == 1 && b->free()) return b;
  const int64_t B = opt_.batch_size, S = pipeline_->size();
  try {
    auto b = std::make_shared<Buffers>();
    b->images = Tensor::empty({B, 3, S, S}, DType::f32, Device::cpu(), pinned_);
    b->labels = Tensor::empty({B}, DType::i64, Device::cpu(), pinned_);
    if (mixup_) b->targets = Tensor::empty({B, num_classes_}, DType::f32, Device::cpu(), pinned_);
    pool_.push_back(b);
    return b;
  } catch (...) {
    // In double: for an absurd batch the byte count is past int64 (human_bytes saturates it).
    const double bytes = 4.0 * static_cast<double>(B) * 3.0 * static_cast<double>(S) * static_cast<double>(S);
    std::string cause;
    try {
      throw;
    } catch (const std::exception& e) {
      cause = one_line(e.what());
    } catch (...) {
      cause = "an exception of unknown type";
    }
    NAT_THROW("[loader] out of memory allocating a batch of ", B, " x 3 x ", S, " x ", S, " floats (",
              human_bytes(bytes < 9.2e18 ? static_cast<int64_t>(bytes) : INT64_MAX), pinned_ ? ", pinned" : "",
              "); lower batch_size / validation_batch_size or img_size (", cause, ")");
  }
}

Loader::Slot& Loader::slot_for(int64_t b) {
  auto it = slots_.find(b);
  if (it != slots_.end()) return *it->second;
  auto p = std::make_unique<Slot>();
  p->size = std::min(opt_.batch_size, end_job_ - b * opt_.batch_size);
  p->remaining = p->size;
  p->indices.assign(static_cast<size_t>(p->size), -1);
  p->positions.assign(static_cast<size_t>(p->size), -1);
  p->padding.assign(static_cast<size_t>(p->size), 0);
  p->skipped.assign(static_cast<size_t>(p->size), 0);
  try {
    p->buf = acquire_buffers();
  } catch (...) {
    // The batch fails when it is due (not before: the batches ahead of it are fine); its other
    // samples are claimed and dropped without work.
    p->error = as_error(std::current_exception(), "allocating a batch");
    p->ready = true;
  }
  return *(slots_[b] = std::move(p));
}

std::string Loader::try_sample(int64_t idx, int64_t epoch, const EpochEntry& e, float* out, LoaderStats& local) {
  const std::string& path = dataset_->sample(idx).path;
  const double t0 = thread_cpu_seconds();
  std::vector<uint8_t> bytes;
  try {
    bytes = dataset_->read(idx);
  } catch (const Error& err) {
    local.read_s += thread_cpu_seconds() - t0;
    return err.what();
  } catch (const std::bad_alloc&) {
    NAT_THROW("[loader] out of memory reading ", path);
  }
  local.read_s += thread_cpu_seconds() - t0;
  local.bytes += static_cast<int64_t>(bytes.size());
  // Every attempt restarts the position's stream, so a replacement is as deterministic as the original.
  SampleRng rng(stream_seed(static_cast<uint64_t>(cfg_.seed), SeedTag::sample, static_cast<uint64_t>(epoch),
                            static_cast<uint64_t>(e.position)));
  SampleTiming t;
  std::string reason;
  try {
    pipeline_->run(bytes.data(), bytes.size(), rng, out, &t, /*erase=*/false);  // erased in finish_batch
  } catch (const DecodeError& err) {
    reason = err.what();
  } catch (const Error& err) {  // not the file's fault (out of memory, OpenCV while augmenting): fatal
    NAT_THROW("[loader] ", path, ": ", err.what());
  } catch (const std::bad_alloc&) {
    NAT_THROW("[loader] out of memory decoding ", path);
  } catch (const std::exception& err) {
    NAT_THROW("[loader] unexpected error on ", path, ": ", one_line(err.what()));
  }
  local.decode_s += t.decode_s;
  local.augment_s += t.augment_s;
  return reason;
}

int64_t Loader::load_sample(int64_t epoch, const EpochEntry& e, float* out, int64_t& label, LoaderStats& local) {
  const int64_t N = dataset_->size();
  std::string last_error;
  int64_t idx = e.index;
  for (int64_t attempt = 0; attempt < opt_.max_consecutive_failures; ++attempt, idx = (idx + 1) % N) {
    bool known_bad;
    {
      std::lock_guard<std::mutex> g(bad_mu_);
      known_bad = bad_files_.count(idx) > 0;
      if (known_bad) epoch_bad_.insert(idx);
    }
    if (!known_bad) {
      const std::string reason = try_sample(idx, epoch, e, out, local);
      if (reason.empty()) {
        label = dataset_->sample(idx).label;
        ++local.samples;
        return idx;
      }
      bool first;
      {
        std::lock_guard<std::mutex> g(bad_mu_);
        first = bad_files_.insert(idx).second;
        epoch_bad_.insert(idx);
      }
      if (first && opt_.log_failures)
        std::fprintf(stderr, "nat data: skipping %s: %s (%s)\n", dataset_->sample(idx).path.c_str(), reason.c_str(),
                     opt_.replace_bad_files ? "replaced by the next image" : "left out of the evaluation");
      last_error = dataset_->sample(idx).path + ": " + reason;
    }
    if (!opt_.replace_bad_files) {
      if (!e.padding) {  // a padding repeat is never counted, skipped or not
        ++local.skipped_samples;
        ++local.epoch_skipped_samples;
      }
      return -1;
    }
    ++local.replacements;
    ++local.epoch_replacements;
  }
  NAT_THROW("[loader] ", opt_.max_consecutive_failures, " consecutive images failed to load, starting at ",
            dataset_->sample(e.index).path, " (last: ", last_error.empty() ? "known bad files" : last_error,
            "); check the dataset with `nat data check ", dataset_->root(), "`");
}

void Loader::finish_batch(Slot& slot, int64_t epoch, int64_t b, LoaderStats& local) {
  if (!mixup_ && !pipeline_->erases()) return;
  const double t0 = thread_cpu_seconds();
  const uint64_t seed = static_cast<uint64_t>(cfg_.seed);
  const int64_t S = pipeline_->size();
  float* images = slot.buf->images.data<float>();
  if (mixup_) {
    SampleRng rng(stream_seed(seed, SeedTag::mixup, static_cast<uint64_t>(epoch), static_cast<uint64_t>(b),
                              static_cast<uint64_t>(opt_.rank)));
    const bool enabled = !(cfg_.mixup_off_epoch > 0 && epoch >= cfg_.mixup_off_epoch);
    slot.mix = mixup_->apply(images, slot.size, 3, S, S, slot.buf->labels.data<int64_t>(),
                             slot.buf->targets.data<float>(), rng, enabled);
  }
  for (int64_t i = 0; i < slot.size && pipeline_->erases(); ++i) {
    if (slot.skipped[static_cast<size_t>(i)]) continue;
    SampleRng rng(stream_seed(seed, SeedTag::erase, static_cast<uint64_t>(epoch),
                              static_cast<uint64_t>(slot.positions[static_cast<size_t>(i)])));
    pipeline_->erase(images + i * pipeline_->floats_per_sample(), rng);
  }
  local.mix_s += thread_cpu_seconds() - t0;
}

void Loader::work_one(std::unique_lock<std::mutex>& lk) {
  const int64_t k = next_job_++;
  const int64_t b = k / opt_.batch_size, s = k % opt_.batch_size;
  Slot& slot = slot_for(b);
  if (!slot.buf) {  // the batch's buffers could not be allocated: it fails as a whole, when it is due
    done_cv_.notify_all();
    return;
  }
  const EpochEntry e = order_[static_cast<size_t>(k)];
  const uint64_t gen = generation_;
  const int64_t epoch = epoch_;
  float* image = slot.buf->images.data<float>() + s * pipeline_->floats_per_sample();
  int64_t* label = slot.buf->labels.data<int64_t>() + s;
  ++in_flight_;
  lk.unlock();

  LoaderStats local;
  std::exception_ptr err;
  int64_t used = -1;
  try {
    used = load_sample(epoch, e, image, *label, local);
  } catch (...) {
    err = as_error(std::current_exception(), "loading a sample");
  }
  lk.lock();
  add(stats_, local);
  if (gen == generation_) {
    if (err) {
      // The batch fails with the error of its first failing sample, whichever thread finishes first.
      if (!slot.error || s < slot.error_slot) {
        slot.error = err;
        slot.error_slot = s;
      }
    } else {
      slot.indices[static_cast<size_t>(s)] = used;
      slot.positions[static_cast<size_t>(s)] = e.position;
      slot.padding[static_cast<size_t>(s)] = e.padding ? 1 : 0;
      slot.skipped[static_cast<size_t>(s)] = used < 0 ? 1 : 0;
    }
    if (--slot.remaining == 0) {
      if (!slot.error) {
        lk.unlock();
        try {
          finish_batch(slot, epoch, b, local);
        } catch (...) {
          err = as_error(std::current_exception(), "mixing a batch");
        }
        lk.lock();
        add(stats_, local);
        if (err) slot.error = err;
      }
      slot.ready = true;
    }
  }
  --in_flight_;
  done_cv_.notify_all();
}

void Loader::worker_loop() {
  std::unique_lock<std::mutex> lk(mu_, std::defer_lock);
  try {
    lk.lock();
    for (;;) {
      work_cv_.wait(lk, [&] { return stop_ || job_ready(); });
      if (stop_) return;
      work_one(lk);
    }
  } catch (...) {
    // work_one stores its jobs' errors; this is the last resort (e.g. a slot that could not even be
    // made): the loader fails as a whole, and the consumer waiting in next() is woken to say so.
    if (!lk.owns_lock()) lk.lock();
    if (!error_) error_ = as_error(std::current_exception(), "a loader thread");
    done_cv_.notify_all();
  }
}

Batch Loader::take(Slot& slot, int64_t b) {
  Batch out;
  out.epoch = epoch_;
  out.index = b;
  const Buffers& buf = *slot.buf;
  // Left-out samples (eval): move the others down, in order, so the batch is just smaller.
  int64_t n = 0;
  const int64_t per_image = pipeline_->floats_per_sample();
  const int64_t per_target = buf.targets.defined() ? num_classes_ : 0;
  for (int64_t i = 0; i < slot.size; ++i) {
    const size_t si = static_cast<size_t>(i), sn = static_cast<size_t>(n);
    if (slot.skipped[si]) continue;
    if (n != i) {
      float* images = buf.images.data<float>();
      std::memmove(images + n * per_image, images + i * per_image, static_cast<size_t>(per_image) * sizeof(float));
      buf.labels.data<int64_t>()[n] = buf.labels.data<int64_t>()[i];
      if (per_target) {
        float* t = buf.targets.data<float>();
        std::memmove(t + n * per_target, t + i * per_target, static_cast<size_t>(per_target) * sizeof(float));
      }
      slot.indices[sn] = slot.indices[si];
      slot.positions[sn] = slot.positions[si];
      slot.padding[sn] = slot.padding[si];
    }
    ++n;
  }
  slot.indices.resize(static_cast<size_t>(n));
  slot.positions.resize(static_cast<size_t>(n));
  slot.padding.resize(static_cast<size_t>(n));
  const bool full = n == opt_.batch_size;
  out.images = full ? buf.images : buf.images.slice(0, 0, n);
  out.labels = full ? buf.labels : buf.labels.slice(0, 0, n);
  if (buf.targets.defined()) out.targets = full ? buf.targets : buf.targets.slice(0, 0, n);
  out.indices = std::move(slot.indices);
  out.positions = std::move(slot.positions);
  out.padding = std::move(slot.padding);
  out.mix = std::move(slot.mix);
  return out;
}

std::optional<Batch> Loader::next() {
  std::unique_lock<std::mutex> lk(mu_);
  NAT_CHECK(epoch_ >= 0, "[loader] call start_epoch(epoch) before next()");
  if (error_) std::rethrow_exception(error_);
  if (consumed_ >= nb_) return std::nullopt;
  const int64_t b = consumed_;
  auto t0 = std::chrono::steady_clock::now();
  auto ready = [&] {
    auto it = slots_.find(b);
    return it != slots_.end() && it->second->ready;
  };
  if (threads_.empty()) {
    while (!ready() && job_ready()) work_one(lk);
  } else {
    done_cv_.wait(lk, [&] { return ready() || error_; });
  }
  if (error_) std::rethrow_exception(error_);
  NAT_CHECK(ready(), "[loader] internal error: batch ", b, " of epoch ", epoch_, " was never scheduled");
  auto it = slots_.find(b);
  if (it->second->error) {  // sticky until start_epoch(): the batch order cannot skip it
    error_ = it->second->error;
    std::rethrow_exception(error_);
  }
  Batch out = take(*it->second, b);
  slots_.erase(it);
  ++consumed_;
  ++stats_.batches;
  stats_.wait_s += since(t0);
  lk.unlock();
  work_cv_.notify_all();
  return out;
}

}  // namespace nat::data
