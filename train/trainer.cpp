// The trainer: setup (datasets, model, optimizer, loaders, resume) and the epoch loop.
#include "train/trainer.h"

#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "autograd/autograd.h"
#include "core/backend.h"
#include "core/rng.h"
#include "nn/summary.h"
#include "ops/loss.h"
#include "train/metrics.h"

namespace nat::train {

namespace {

std::atomic<int> g_signal{0};

void say_from_handler(const char* msg) {
  size_t n = 0;
  while (msg[n]) ++n;
  while (n > 0) {  // write(2) is async-signal-safe; stdio is not
    const ssize_t w = ::write(STDERR_FILENO, msg, n);
    if (w <= 0) return;
    msg += w, n -= static_cast<size_t>(w);
  }
}

// The first SIGINT/SIGTERM asks the loop to stop after its step (it saves, then nat train exits 128 +
// signal). A second one while that is pending quits at once: a step can take minutes, and every file is
// replaced atomically, so the last complete checkpoint stays valid (a stray .tmp is removed at the next
// start).
void on_signal(int sig) {
  int none = 0;
  if (g_signal.compare_exchange_strong(none, sig)) {
    say_from_handler(sig == SIGINT ? "\nnat: interrupt (SIGINT): finishing this step, then saving and stopping; "
                                     "interrupt again to quit at once\n"
                                   : "\nnat: SIGTERM: finishing this step, then saving and stopping; "
                                     "a second signal quits at once\n");
    return;
  }
  say_from_handler(sig == SIGINT ? "\nnat: second interrupt: quitting now without saving (the last complete "
                                   "checkpoint on disk is intact)\n"
                                 : "\nnat: second signal (SIGTERM): quitting now without saving (the last complete "
                                   "checkpoint on disk is intact)\n");
  ::_exit(128 + sig);
}

// Installs SIGINT/SIGTERM handlers for the scope: the loop finishes its step, saves and stops.
// SA_RESTART: a loader thread's read() that the signal interrupts resumes instead of failing its file.
class SignalScope {
 public:
  SignalScope() {
    g_signal.store(0);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~SignalScope() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

double cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// The seed of the default generator (drop path, dropout): a stream of its own, not the init's.
uint64_t default_stream_seed(int64_t seed) { return derive_seed(static_cast<uint64_t>(seed), 0x44524f50ull); }

// Rank r's default generator: rank 0 keeps the run's stream (so one process and rank 0 agree, and the
// checkpoint's seed is rank 0's); the others derive their own, so drop-path masks differ across ranks.
// Every rank draws the same amount per step, so one offset serves all.
uint64_t rank_stream_seed(uint64_t base, int rank) {
  return rank == 0 ? base : derive_seed(base, 0x52414e4bull + static_cast<uint64_t>(rank));
}

std::string pct(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

std::string fmt_g(double v, int digits = 6) {
  char b[48];
  std::snprintf(b, sizeof b, "%.*g", digits, v);
  return b;
}

bool better(const std::string& metric, double a, double b) {
  if (std::isnan(b)) return !std::isnan(a);
  return metric == "loss" ? a < b : a > b;
}

}  // namespace

Device resolve_device(const std::string& key) {
  if (key.empty()) return cuda_device_count() > 0 ? Device::cuda(0) : Device::cpu();
  Device d = parse_device(key);
  if (d.is_cuda())
    NAT_CHECK(d.index < cuda_device_count(), "[config] device '", key, "': ",
              cuda_compiled() ? str(cuda_device_count(), " CUDA device(s) present") : "this build has no CUDA backend");
  return d;
}

Trainer::Trainer(const TrainConfig& cfg, TrainerHooks hooks, std::shared_ptr<Communicator> comm)
    : cfg_(cfg), hooks_(std::move(hooks)), comm_(std::move(comm)) {
  cfg_.validate();
  if (cfg_.threads > 0) omp_set_num_threads(static_cast<int>(cfg_.threads));
  device_ = comm_ ? comm_->device() : resolve_device(cfg_.device);
  if (!comm_) comm_ = make_local_communicator(device_);
  const int rank = comm_->rank(), world = comm_->world_size();
  main_ = rank == 0;
  if (!main_) hooks_.quiet = true;  // rank 0 speaks for the job; errors still name their rank
  bar_ = ProgressBar(hooks_.quiet ? ProgressMode::none : progress_mode(cfg_.progress));
  NAT_CHECK(!cfg_.data.data_dir.empty(), "[config] data_dir is not set (data_dir: in the config, or --data_dir DIR)");

  // ---- datasets ----
  data::ImageFolderOptions train_opts;
  if (!cfg_.data.class_map.empty()) train_opts.classes = data::load_class_map(cfg_.data.class_map);
  train_set_ = std::make_shared<const data::ImageFolder>(
      data::find_split_dir(cfg_.data.data_dir, cfg_.data.train_split), train_opts);
  if (!cfg_.disable_eval) {
    data::ImageFolderOptions val_opts;
    val_opts.classes = train_set_->classes();
    val_set_ = std::make_shared<const data::ImageFolder>(data::find_split_dir(cfg_.data.data_dir, cfg_.data.val_split),
                                                         val_opts);
  }
  NAT_CHECK(cfg_.data.num_classes == 0 || cfg_.data.num_classes >= train_set_->num_classes(), "[config] num_classes ",
            cfg_.data.num_classes, " is below the ", train_set_->num_classes(), " classes of ", train_set_->root());

  // ---- model ----
  model_config_ = cfg_.nat_config(train_set_->num_classes());
  Generator init_gen(static_cast<uint64_t>(cfg_.data.seed));
  model_ = nn::create_nat(model_config_, init_gen);
  if (!cfg_.initial_checkpoint.empty()) {
    LoadedCheckpoint init = load_checkpoint(cfg_.initial_checkpoint);
    const std::string bad = first_non_finite(init.weights());
    NAT_CHECK(bad.empty(), "[train] initial_checkpoint ", cfg_.initial_checkpoint, ": ", bad,
              "; a diverged model cannot be trained on");
    model_->load_state_dict(init.weights());
  }
  model_->to(device_);
  if (world > 1) broadcast_parameters(*comm_, model_->named_parameters());  // same start on every rank
  if (cfg_.amp && device_.is_cuda()) {
    compute_dtype_ = cfg_.amp_dtype == "bfloat16" ? DType::bf16 : DType::f16;
    model_->to(compute_dtype_);
  }
  OptimizerOptions oo;
  oo.kind = cfg_.opt;
  oo.weight_decay = cfg_.weight_decay;
  oo.decay_rpb = cfg_.decay_rpb;
  oo.beta1 = cfg_.opt_betas[0], oo.beta2 = cfg_.opt_betas[1], oo.eps = cfg_.opt_eps;
  oo.momentum = cfg_.momentum;
  optimizer_ = std::make_unique<Optimizer>(model_->named_parameters(), oo);
  scaler_ = LossScaler(compute_dtype_ == DType::f16);
  if (cfg_.model_ema) ema_ = std::make_unique<ModelEma>(model_config_, device_, cfg_.model_ema_decay, f32_values());
  if (world > 1) {
    ReducerOptions ro;
    ro.bucket_bytes = static_cast<int64_t>(cfg_.dist_bucket_mb * (1 << 20));
    reducer_ = std::make_unique<GradReducer>(comm_, model_->named_parameters(), ro);
  }

  // ---- loaders and schedule ----
  data::DataConfig dcfg = cfg_.data;
  dcfg.num_classes = model_config_.num_classes;
  data::LoaderOptions lo = data::train_loader_options(dcfg, rank, world);
  lo.pin_memory = dcfg.pin_mem && device_.is_cuda();
  lo.num_classes = model_config_.num_classes;
  train_loader_ = std::make_unique<data::Loader>(train_set_, dcfg, lo);
  if (val_set_) {
    data::LoaderOptions vo = data::eval_loader_options(dcfg, rank, world);
    vo.pin_memory = lo.pin_memory;
    vo.num_classes = model_config_.num_classes;
    val_loader_ = std::make_unique<data::Loader>(val_set_, dcfg, vo);
  }
  const int64_t nb = train_loader_->batches_per_epoch();
  NAT_CHECK(nb >= 1, "[train] ", train_set_->size(), " training images make no full batch of ", dcfg.batch_size,
            " (batches are full: timm's drop_last); lower batch_size");
  updates_per_epoch_ = (nb + cfg_.grad_accum_steps - 1) / cfg_.grad_accum_steps;
  schedule_ = std::make_unique<LrSchedule>(LrSchedule::from_config(cfg_, updates_per_epoch_));

  // ---- resume ----
  std::string dir;
  if (!cfg_.resume.empty()) {
    LoadedCheckpoint ck = load_checkpoint(cfg_.resume);
    if (!ck.has_state) TrainState::from_metadata(ck.file.metadata, cfg_.resume);  // throws, saying why
    // Never continue from diverged weights: this run's "last good checkpoint" would not be one.
    for (const nn::NamedTensors& w : {ck.weights(), ck.ema()}) {
      const std::string bad = first_non_finite(w);
      NAT_CHECK(bad.empty(), "[resume] ", cfg_.resume, ": ", bad,
                "; it cannot be resumed (resume from an earlier checkpoint-<epoch>.safetensors)");
    }
    nn::LoadReport rep = model_->load_state_dict(ck.weights());
    (void)rep;
    for (size_t i = 0; i < optimizer_->params().size(); ++i) {
      const ParamState& p = optimizer_->params()[i];
      if (p.master.defined()) Tensor(p.master).copy_(*ck.find(p.name));  // the exact f32 values, not the rounded ones
    }
    if (!cfg_.no_resume_opt) optimizer_->load_state([&](const std::string& k) { return ck.find(k); }, cfg_.resume);
    if (ema_) {
      nn::NamedTensors e = ck.ema();
      if (!e.empty()) ema_->model().load_state_dict(e);
    }
    state_ = ck.state;
    scaler_.set_state(scaler_.enabled() ? state_.loss_scale : 1.0, state_.scaler_growth_tracker);
    default_generator().set_state(rank_stream_seed(state_.rng_seed, rank), state_.rng_offset);
    if (state_.batch > 0 && state_.batch_size > 0 &&
        (state_.world_size != world || state_.batch_size != cfg_.data.batch_size)) {
      // Mid-epoch: the global batches done so far must be the same batches under the new layout, which
      // holds when the global batch is unchanged (rank r takes every world-th sample of the same order).
      const int64_t was = state_.world_size * state_.batch_size, now = world * cfg_.data.batch_size;
      NAT_CHECK(was == now, "[resume] ", cfg_.resume, " stopped mid-epoch with a global batch of ", was, " (",
                state_.world_size, " rank(s) x batch_size ", state_.batch_size, "); this run has ", now, " (", world,
                " x ", cfg_.data.batch_size, "). Keep the global batch: batch_size ", was / world, " on ", world,
                " rank(s)", was % world ? " is not whole; choose another world size" : "");
    }
    if (cfg_.start_epoch) {
      state_.epoch = *cfg_.start_epoch, state_.batch = 0;
      state_.epoch_loss_sum = 0, state_.epoch_loss_count = 0;
    }
    NAT_CHECK(state_.batch % cfg_.grad_accum_steps == 0 && state_.batch <= nb, "[resume] ", cfg_.resume,
              " stopped at batch ", state_.batch, " of epoch ", state_.epoch, ", which does not fit this config's ", nb,
              " batches per epoch / grad_accum_steps ", cfg_.grad_accum_steps);
    resumed_from_ = cfg_.resume;
    if (cfg_.experiment.empty()) dir = std::filesystem::path(cfg_.resume).parent_path().string();
  } else {
    manual_seed(rank_stream_seed(default_stream_seed(cfg_.data.seed), rank));
    state_.epoch = cfg_.start_epoch.value_or(0);
    state_.loss_scale = scaler_.scale();
  }
  state_.arch = model_config_.name;
  state_.model_spec = nat_config_json(model_config_);
  state_.args_yaml = cfg_.to_yaml();
  state_.classes = train_set_->classes();
  state_.world_size = world;
  state_.batch_size = cfg_.data.batch_size;
  start_step_ = state_.step;

  // ---- run directory (rank 0 names it; only rank 0 writes) ----
  // A new run never mixes its files with another run's: it claims a directory that did not exist with an
  // exclusive mkdir (like timm's get_outdir, <dir>-1, -2, ... when taken), and RunDir holds a lock on it
  // for the whole run, so a resume into a directory another process trains in is refused.
  if (main_ && dir.empty()) {
    dir = run_dir_path(cfg_.output, cfg_.experiment, cfg_.model, cfg_.data.img_size);
    if (cfg_.resume.empty()) dir = claim_new_run_dir(dir);
  }
  if (dir.empty()) dir = ".";
  if (world > 1) dir = comm_->broadcast_string(dir, 0, "broadcast of the run directory");
  run_path_ = dir;
  if (main_) {
    run_ = std::make_unique<RunDir>(dir);
    run_path_ = run_->path();
    std::vector<std::string> stale = run_->remove_stale_temporaries();
    if (!stale.empty()) {
      std::string names;
      for (const auto& n : stale) names += (names.empty() ? "" : ", ") + n;
      say(str("Removed ", stale.size(), " stale temporary file(s) an interrupted write left in ", run_path_, ": ",
              names));
    }
    if (!cfg_.resume.empty()) {
      const int64_t dropped = run_->drop_summary_rows_from(state_.epoch);
      if (dropped > 0)
        say(str("summary.csv: dropped ", dropped, " row(s) of epoch ", state_.epoch,
                " and later, written before the run resumed from ", cfg_.resume));
    }
    // The first write: a full disk or a read-only directory shows here, before any training.
    run_->write_text("args.yaml", state_.args_yaml);
    check_free_space(run_path_, checkpoint_bytes(), "one checkpoint of this run", hooks_.assume_free_bytes);
  }
}

int64_t Trainer::checkpoint_bytes() const {
  // The f32 weights, the EMA copy, the optimizer's buffers and step counters, and the header (tensor
  // names, the TrainState with args.yaml); while last.safetensors is replaced the old file still exists.
  int64_t b = 64 << 10;
  for (const ParamState& p : optimizer_->params()) {
    const int64_t n = p.param.numel() * 4;
    b += n * (ema_ ? 2 : 1) + 256;
    if (p.exp_avg.defined()) b += static_cast<int64_t>(p.exp_avg.nbytes());
    if (p.exp_avg_sq.defined()) b += static_cast<int64_t>(p.exp_avg_sq.nbytes());
  }
  return b + static_cast<int64_t>(state_.args_yaml.size() + state_.model_spec.size());
}

Trainer::~Trainer() = default;

std::vector<Tensor> Trainer::f32_values() const {
  std::vector<Tensor> v;
  for (size_t i = 0; i < optimizer_->params().size(); ++i) v.push_back(optimizer_->f32_value(i));
  return v;
}

const RunDir& Trainer::run_dir() const {
  NAT_CHECK(run_ != nullptr, "[train] rank ", comm_->rank(), " has no run directory (only rank 0 writes one)");
  return *run_;
}

std::string Trainer::ranked(const std::string& line) const {
  return comm_->world_size() > 1 ? str("[rank ", comm_->rank(), "/", comm_->world_size(), "] ", line) : line;
}

void Trainer::say(const std::string& line) {
  if (!main_) return;
  const std::string l = ranked(line);
  if (!hooks_.quiet) {
    std::printf("%s\n", l.c_str());
    std::fflush(stdout);
  }
  run_->log(l);
}

EvalResult Trainer::evaluate_all(nn::NAT& model, DType dtype) {
  EvalResult r = evaluate(model, *val_loader_, device_, dtype);
  if (comm_->world_size() == 1) return r;
  // Sums over the ranks' disjoint shares (the sampler's padding repeats are left out by evaluate()).
  const double n = static_cast<double>(r.samples);
  std::vector<double> v = comm_->all_reduce_values(
      {r.loss * n, std::round(r.top1 * n / 100.0), std::round(r.top5 * n / 100.0), n, static_cast<double>(r.skipped)},
      ReduceOp::sum, "all_reduce of the evaluation metrics");
  EvalResult out = r;
  out.samples = static_cast<int64_t>(v[3]);
  out.skipped = static_cast<int64_t>(v[4]);
  if (v[3] > 0) out.loss = v[0] / v[3], out.top1 = 100.0 * v[1] / v[3], out.top5 = 100.0 * v[2] / v[3];
  return out;
}

std::string Trainer::describe() const {
  std::ostringstream os;
  nn::ModelSummary s = nn::summarize(*model_, 1, cfg_.data.img_size, cfg_.data.img_size);
  os << "Model " << model_config_.name << " (" << nat_config_json(model_config_) << ")\n" << nn::format_summary(s, 2);
  GroupSummary d = optimizer_->decay_group(), nd = optimizer_->no_decay_group();
  os << "Optimizer " << cfg_.opt << ": weight decay " << cfg_.weight_decay << " on " << d.tensors << " tensors ("
     << d.elements << " elements), none on " << nd.tensors << " tensors (" << nd.elements << " elements: 1-D, .bias"
     << (cfg_.decay_rpb ? "" : ", rpb") << ")\n";
  os << "Data: " << train_set_->size() << " training images in " << train_set_->num_classes() << " classes ("
     << train_set_->root() << "), "
     << (val_set_ ? str(val_set_->size(), " validation images (", val_set_->root(), ")") : std::string("no evaluation"))
     << "\n";
  os << "Schedule: " << train_loader_->batches_per_epoch() << " batches of " << cfg_.data.batch_size
     << (comm_->world_size() > 1 ? " per rank" : "") << " = " << updates_per_epoch_ << " updates per epoch, "
     << cfg_.total_epochs() << " epochs (" << updates_per_epoch_ * cfg_.total_epochs() << " updates), " << cfg_.sched
     << " " << (cfg_.per_iteration() ? "per update" : "per epoch") << ", warmup " << cfg_.warmup_epochs << " epochs\n";
  os << "Device: " << device_.str() << (device_.is_cpu() ? str(" (", omp_get_max_threads(), " threads)") : "") << ", "
     << (compute_dtype_ == DType::f32 ? std::string("float32") : cfg_.amp_dtype)
     << (cfg_.amp && device_.is_cpu() ? " (amp is ignored on the CPU)" : "")
     << (scaler_.enabled() ? ", dynamic loss scaling" : "") << (ema_ ? str(", EMA decay ", cfg_.model_ema_decay) : "")
     << "\n";
  if (comm_->world_size() > 1)
    os << "Data parallel: " << comm_->world_size() << " ranks (" << comm_->backend() << "), global batch "
       << cfg_.data.batch_size * comm_->world_size() << "; gradients in " << reducer_->describe() << "\n";
  os << "Run directory: " << run_path_;
  if (!resumed_from_.empty())
    os << "\nResuming " << resumed_from_ << ": epoch " << state_.epoch << ", batch " << state_.batch << ", step "
       << state_.step;
  return os.str();
}

[[noreturn]] void Trainer::fail_non_finite(const char* what, double value, int64_t epoch, int64_t micro_batch) {
  fail_diverged(
      str("the ", what, " is ", value, " at step ", state_.step + 1, " (epoch ", epoch, ", batch ", micro_batch, ")"));
}

[[noreturn]] void Trainer::fail_diverged(const std::string& what) {
  bar_.finish();
  // Every checkpoint this run wrote passed the finite-weights check in save(), and a resume source with
  // non-finite weights is refused at start, so either one is good.
  std::string last = !last_saved_.empty()     ? last_saved_
                     : !resumed_from_.empty() ? resumed_from_ + " (this run's starting point)"
                                              : std::string("none (no checkpoint was written before this)");
  std::string msg = ranked(str("[train] ", what, "; stopping. Last good checkpoint: ", last,
                               ". Lower lr, keep clip_grad on, or check the data."));
  if (run_) {
    try {
      run_->log(msg);
    } catch (const Error&) {  // the divergence is the error to report
    }
  }
  NAT_THROW(msg);
}

void Trainer::check_weights_finite(const std::string& what_waits) {
  // Diverged weights never reach a checkpoint (every rank holds the same weights, so all ranks agree).
  nn::NamedTensors w;
  for (size_t i = 0; i < optimizer_->params().size(); ++i)
    w.emplace_back(optimizer_->params()[i].name, optimizer_->f32_value(i));
  std::string bad = first_non_finite(w);
  const char* which = "weights";
  if (bad.empty() && ema_) bad = first_non_finite(ema_->model().named_parameters()), which = "EMA weights";
  if (!bad.empty())
    fail_diverged(str("the ", which, " are not finite after step ", state_.step, " (epoch ", state_.epoch, "): ", bad,
                      "; ", what_waits, " was not written"));
}

void Trainer::save(const std::string& name) {
  check_weights_finite(name);
  const std::string path = (std::filesystem::path(run_path_) / name).string();
  if (!main_) {
    last_saved_ = path;  // rank 0 wrote it
    return;
  }
  CheckpointData d;
  const auto& ps = optimizer_->params();
  for (size_t i = 0; i < ps.size(); ++i) d.weights.emplace_back(ps[i].name, optimizer_->f32_value(i));
  if (ema_) d.ema = ema_->model().named_parameters();
  d.optimizer = optimizer_.get();
  state_.rng_seed = default_generator().seed();
  state_.rng_offset = default_generator().offset();
  state_.loss_scale = scaler_.scale();
  state_.scaler_growth_tracker = scaler_.growth_tracker();
  d.state = state_;
  save_checkpoint(run_->file(name), d);
  last_saved_ = path;
}

Trainer::EpochEnd Trainer::train_epoch(int64_t epoch) {
  const int64_t nb = train_loader_->batches_per_epoch(), accum = cfg_.grad_accum_steps;
  const int64_t total_updates = updates_per_epoch_ * cfg_.total_epochs();
  train_loader_->start_epoch(epoch, state_.batch);
  model_->train();
  AverageMeter step_time, data_time, loss_meter;
  loss_meter.sum = state_.epoch_loss_sum, loss_meter.count = state_.epoch_loss_count;
  const double epoch_t0 = now_s();
  int64_t b = state_.batch;
  while (b < nb) {
    const double t_step = now_s();
    const int64_t group_end = std::min(b + accum, nb), group = group_end - b;
    double wait = 0, loss_sum = 0;
    int64_t images = 0;
    for (int64_t mb = b; mb < group_end; ++mb) {
      const double t0 = now_s();
      std::optional<data::Batch> batch = train_loader_->next();
      wait += now_s() - t0;
      NAT_CHECK(batch.has_value(), "[train] the loader ended at batch ", mb, " of ", nb, " in epoch ", epoch);
      Tensor x = batch->images.to(device_, /*non_blocking=*/true);
      if (compute_dtype_ != DType::f32) x = x.to(compute_dtype_);
      Tensor logits = cast(model_->forward(x), DType::f32);
      Tensor loss = batch->targets.defined()
                        ? ops::soft_target_cross_entropy(logits, batch->targets.to(device_, true))
                        : ops::cross_entropy(logits, batch->labels.to(device_, true), cfg_.data.smoothing);
      const double lv = loss.item();
      if (!std::isfinite(lv)) fail_non_finite("loss", lv, epoch, mb);
      const bool last_micro_batch = mb + 1 == group_end;
      if (reducer_) reducer_->prepare(last_micro_batch);  // accumulate locally, reduce once per update
      backward(loss, Tensor::full({}, scaler_.scale() / static_cast<double>(group), DType::f32, device_));
      if (reducer_ && last_micro_batch) reducer_->finish();  // gradients averaged over the ranks
      const int64_t n = batch->size();
      loss_sum += lv * static_cast<double>(n);
      images += n;
    }
    // The update's loss over every rank, and whether any rank was asked to stop (all stop together, and
    // all report SIGINT when any rank got one, else SIGTERM).
    int stop_signal = g_signal.load();
    if (comm_->world_size() > 1) {
      std::vector<double> v =
          comm_->all_reduce_values({loss_sum, static_cast<double>(images), stop_signal == SIGINT ? 1.0 : 0.0,
                                    stop_signal != 0 && stop_signal != SIGINT ? 1.0 : 0.0},
                                   ReduceOp::sum, "all_reduce of the step's loss");
      loss_sum = v[0], images = static_cast<int64_t>(v[1]);
      stop_signal = v[2] > 0 ? SIGINT : v[3] > 0 ? SIGTERM : 0;
      if (!std::isfinite(loss_sum)) fail_non_finite("loss (on another rank)", loss_sum, epoch, group_end - 1);
    }
    const bool stop_requested = stop_signal != 0;
    loss_meter.sum += loss_sum, loss_meter.count += images;
    // ---- the optimizer update ----
    const double lr = schedule_->for_update(state_.step, epoch);
    const double inv_scale = 1.0 / scaler_.scale();
    double grad_scale = inv_scale;
    const bool clip_norm = cfg_.clip_grad && cfg_.clip_mode == "norm";
    bool finite = true;
    if (scaler_.enabled() || clip_norm) {
      const double ss = optimizer_->grad_sum_squares();
      finite = std::isfinite(ss);
      if (!finite && !scaler_.enabled()) fail_non_finite("gradient norm", std::sqrt(ss), epoch, group_end - 1);
      if (finite && clip_norm) {
        const double norm = std::sqrt(ss) * inv_scale;
        const double coef = *cfg_.clip_grad / (norm + 1e-6);  // torch.nn.utils.clip_grad_norm_
        if (coef < 1.0) grad_scale *= coef;
      }
    }
    if (scaler_.update(finite)) {
      const double clip_value = cfg_.clip_grad && cfg_.clip_mode == "value" ? *cfg_.clip_grad : 0.0;
      optimizer_->step(lr, grad_scale, clip_value);
      if (ema_) ema_->update(f32_values());
    }
    optimizer_->zero_grad();
    ++state_.step;
    b = group_end;
    state_.batch = b;
    state_.epoch_loss_sum = loss_meter.sum, state_.epoch_loss_count = loss_meter.count;
    if (device_.is_cuda()) backend(device_).synchronize(device_.index);

    // ---- progress ----
    const double t_end = now_s();
    step_time.update(t_end - t_step);
    data_time.update(wait);
    const int64_t update_in_epoch = (b + accum - 1) / accum;
    StepStats s;
    s.epoch = epoch, s.total_epochs = cfg_.total_epochs();
    s.update = update_in_epoch, s.updates = updates_per_epoch_;
    s.loss = loss_sum / static_cast<double>(images), s.loss_avg = loss_meter.avg();
    s.step_s = step_time.value, s.step_s_avg = step_time.avg();
    s.data_s = data_time.value, s.data_s_avg = data_time.avg();
    s.images = images;
    s.lr = lr;
    s.eta_s = static_cast<double>(total_updates - (epoch * updates_per_epoch_ + update_in_epoch)) * step_time.avg();
    bar_.update(s, t_end - epoch_t0);
    if (main_ && (update_in_epoch % cfg_.log_interval == 0 || b == nb || update_in_epoch == 1)) {
      std::string line = ranked(timm_train_line(s));
      run_->log(line);
      if (bar_.mode() == ProgressMode::lines && !hooks_.quiet) std::printf("%s\n", line.c_str()), std::fflush(stdout);
    }
    if (hooks_.on_step) hooks_.on_step({state_.step, s.loss, lr, images, s.step_s, s.data_s});
    const bool max_reached = cfg_.max_steps > 0 && state_.step >= cfg_.max_steps;
    stop_requested_ = stop_requested, stop_signal_ = stop_signal;
    if ((max_reached || stop_requested) && b < nb) return EpochEnd::stopped;
  }
  bar_.finish();
  return EpochEnd::complete;
}

void Trainer::end_epoch(int64_t epoch, double lr) {
  const double train_loss = state_.epoch_loss_count ? state_.epoch_loss_sum / double(state_.epoch_loss_count) : 0;
  // Training files this epoch could not read (each replaced by the next file), over every rank.
  int64_t bad_train = train_loader_->stats().epoch_failed_files;
  if (comm_->world_size() > 1)
    bad_train = static_cast<int64_t>(comm_->all_reduce_values({static_cast<double>(bad_train)}, ReduceOp::sum,
                                                              "all_reduce of the unreadable-file count")[0]);
  result_.unreadable_train_files = train_loader_->stats().failed_files;
  EvalResult ev, ema_ev;
  std::vector<std::string> cols = {"epoch", "train_loss", "eval_loss", "eval_top1", "eval_top5", "lr"};
  std::vector<std::string> vals = {std::to_string(epoch), fmt_g(train_loss, 8)};
  double metric = static_cast<double>(epoch);  // without evaluation: keep the newest checkpoints
  // A diverged model stops the run here, before summary.csv, the kept checkpoints or best are touched:
  // its scores must never compete with the good epochs' (NaN logits used to score 100 %).
  auto check_finite = [&](const char* what, double value) {
    if (!std::isfinite(value))
      fail_diverged(str("the ", what, " is ", value, " after epoch ", epoch, " (step ", state_.step,
                        "): the model diverged; no checkpoint of this epoch was written and best.safetensors and "
                        "the kept checkpoints are unchanged"));
  };
  if (val_loader_) {
    ev = evaluate_all(*model_, compute_dtype_);
    char line[256];
    std::snprintf(line, sizeof line, "Test: [epoch %lld]  Loss: %.4f  Acc@1: %7.3f  Acc@5: %7.3f  (%lld images, %.1fs)",
                  static_cast<long long>(epoch), ev.loss, ev.top1, ev.top5, static_cast<long long>(ev.samples),
                  ev.seconds);
    say(line);
    metric = cfg_.eval_metric == "loss" ? ev.loss : cfg_.eval_metric == "top5" ? ev.top5 : ev.top1;
    check_finite("eval loss", ev.loss);
    check_finite(str("eval ", cfg_.eval_metric).c_str(), metric);
    vals.insert(vals.end(), {fmt_g(ev.loss, 8), pct(ev.top1), pct(ev.top5)});
    result_.last_eval = ev;
    result_.unreadable_val_files = val_loader_->stats().failed_files;
  } else {
    vals.insert(vals.end(), {"", "", ""});
  }
  vals.push_back(fmt_g(lr, 8));
  if (ema_ && val_loader_) {
    ema_ev = evaluate_all(ema_->model(), DType::f32);
    char line[256];
    std::snprintf(line, sizeof line, "Test (EMA): [epoch %lld]  Loss: %.4f  Acc@1: %7.3f  Acc@5: %7.3f",
                  static_cast<long long>(epoch), ema_ev.loss, ema_ev.top1, ema_ev.top5);
    say(line);
    check_finite("EMA eval loss", ema_ev.loss);
    cols.insert(cols.end(), {"ema_eval_loss", "ema_eval_top1", "ema_eval_top5"});
    vals.insert(vals.end(), {fmt_g(ema_ev.loss, 8), pct(ema_ev.top1), pct(ema_ev.top5)});
    result_.last_ema_eval = ema_ev;
  }
  check_weights_finite("the summary row and checkpoint of epoch " + std::to_string(epoch));
  if (bad_train > 0 || ev.skipped > 0)
    say(str("Skipped as unreadable in epoch ", epoch, ": ", bad_train, " training file(s) (each replaced by the ",
            "next file), ", ev.skipped, " validation file(s) (left out of the scores); stderr names each file"));
  if (main_) run_->write_summary_row(cols, vals, epoch);

  // ---- checkpoints: last, the best checkpoint_hist epochs, best ----
  state_.epoch = epoch + 1;
  state_.batch = 0;
  state_.epoch_loss_sum = 0, state_.epoch_loss_count = 0;
  const std::string metric_name = val_loader_ ? cfg_.eval_metric : "epoch";
  bool keep = static_cast<int64_t>(state_.kept.size()) < cfg_.checkpoint_hist;
  size_t worst = 0;
  for (size_t i = 1; i < state_.kept.size(); ++i)
    if (better(metric_name, state_.kept[worst].second, state_.kept[i].second)) worst = i;
  std::string evicted;  // removed only once the new checkpoint is safely on disk
  if (!keep && better(metric_name, metric, state_.kept[worst].second)) {
    evicted = str("checkpoint-", state_.kept[worst].first, ".safetensors");
    state_.kept.erase(state_.kept.begin() + static_cast<std::ptrdiff_t>(worst));
    keep = true;
  }
  if (keep) state_.kept.emplace_back(epoch, metric);
  const bool best = val_loader_ && better(cfg_.eval_metric, metric, state_.best_metric);
  if (best) state_.best_metric = metric, state_.best_epoch = epoch;
  save("last.safetensors");
  if (keep && main_) run_->link("last.safetensors", str("checkpoint-", epoch, ".safetensors"));
  if (best && main_) run_->link("last.safetensors", "best.safetensors");
  if (!evicted.empty() && main_) run_->remove(evicted);
  if (val_loader_) say(str("*** Best metric: ", fmt_g(state_.best_metric), " (epoch ", state_.best_epoch, ")"));
  result_.epochs_done = epoch + 1;
}

std::string Trainer::stop_reason() const {
  if (!stop_requested_) return str("Reached max_steps ", cfg_.max_steps);
  return g_signal.load() ? str("Interrupted (signal ", g_signal.load(), ")")
                         : std::string("Interrupted (a signal reached another rank)");
}

TrainResult Trainer::fit() {
  SignalScope signals;
  const double t0 = now_s(), c0 = cpu_s();
  result_ = TrainResult{};
  result_.run_dir = run_path_;
  stop_requested_ = false, stop_signal_ = 0;
  if (state_.epoch >= cfg_.total_epochs()) {
    result_.nothing_to_train = true;
    say(str("Nothing left to train: ", resumed_from_.empty() ? std::string("the run starts") : resumed_from_ + " ended",
            " at epoch ", state_.epoch, " (step ", state_.step, ") and this config has ", cfg_.total_epochs(),
            " epochs (epochs ", cfg_.epochs, " + cooldown_epochs ", cfg_.cooldown_epochs,
            "); raise epochs to train further"));
  }
  for (int64_t epoch = state_.epoch; epoch < cfg_.total_epochs(); ++epoch) {
    state_.epoch = epoch;
    EpochEnd end = train_epoch(epoch);
    if (end == EpochEnd::stopped) {
      bar_.finish();
      save("last.safetensors");
      result_.stopped_early = true;
      say(str(stop_reason(), " at step ", state_.step, " (epoch ", epoch, ", batch ", state_.batch, " of ",
              train_loader_->batches_per_epoch(), "): saved ", last_saved_, "; continue with --resume ", last_saved_));
      break;
    }
    end_epoch(epoch, schedule_->for_update(state_.step - 1, epoch));
    const bool max_reached = cfg_.max_steps > 0 && state_.step >= cfg_.max_steps;
    if ((max_reached || stop_requested_) && epoch + 1 < cfg_.total_epochs()) {
      result_.stopped_early = true;
      say(str(stop_reason(), " after epoch ", epoch, " at step ", state_.step, "; continue with --resume ",
              last_saved_));
      break;
    }
  }
  // A signal stops the run after its step (all ranks agree on it); one that came during the last epoch's
  // evaluation, with nothing left to stop, still makes nat train exit 128 + signal.
  result_.signal = stop_signal_ ? stop_signal_ : comm_->world_size() == 1 ? g_signal.load() : 0;
  result_.steps = state_.step;
  result_.steps_this_run = state_.step - start_step_;
  result_.epochs_done = state_.epoch;
  result_.best_metric = state_.best_metric;
  result_.best_epoch = state_.best_epoch;
  result_.train_seconds = now_s() - t0;
  result_.cpu_seconds = cpu_s() - c0;
  return result_;
}

}  // namespace nat::train
