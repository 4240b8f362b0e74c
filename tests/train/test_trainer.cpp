// End-to-end trainer tests on a tiny NAT and a tiny synthetic ImageFolder (JPEGs written by data/):
//   - resume is bit-exact on the CPU: a run stopped by max_steps (mid-epoch, and at an epoch boundary) and
//     resumed produces the same per-step losses, weights, optimizer and EMA state and summary.csv as an
//     uninterrupted run, with the whole recipe on (RandAugment, random erasing, mixup/cutmix, drop path, EMA,
//     clipping, gradient accumulation);
//   - a seeded run reproduces recorded losses;
//   - the run directory has timm's files; a NaN loss stops the run naming the step and the last checkpoint;
//   - issue 17: a model that diverges at the end of an epoch never replaces best.safetensors nor evicts a
//     kept checkpoint; two runs never share a directory; stale .tmp files go and summary.csv never repeats
//     an epoch across resumes; a full disk is refused before training; resuming a finished run trains nothing;
//     unreadable training files are counted in the epoch's log.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/rng.h"
#include "data/synthetic.h"
#include "support/expect_error.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace nat::train {
namespace {

namespace fs = std::filesystem;

class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("nat_test_trainer_" + std::to_string(::getpid()));
    fs::create_directories(root_);
    data::write_synthetic_image_folder((root_ / "data" / "train").string(), 24, 3, 40, 32, /*seed=*/1, 85);
    data::write_synthetic_image_folder((root_ / "data" / "val").string(), 12, 3, 40, 32, /*seed=*/2, 85);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // A 2-level NAT at 16x16 with the full augmentation recipe: 24 images / batch 4 = 6 micro-batches per epoch.
  static TrainConfig tiny(const std::string& experiment) {
    TrainConfig c;
    c.model = "custom";
    c.model_keys.embed_dim = 8;
    c.model_keys.depths = std::vector<int64_t>{1, 1};
    c.model_keys.num_heads = std::vector<int64_t>{1, 2};
    c.model_keys.kernel_size = 3;
    c.model_keys.mlp_ratio = 2.0;
    c.model_keys.drop_path = 0.2;
    c.data.data_dir = (root_ / "data").string();
    c.data.val_split = "val";
    c.data.img_size = 16;
    c.data.batch_size = 4;
    c.data.workers = 1;
    c.data.seed = 3;
    c.epochs = 2;
    c.warmup_epochs = 1;
    c.cooldown_epochs = 1;
    c.lr = 2e-3;
    c.warmup_lr = 1e-4;
    c.min_lr = 1e-5;
    c.clip_grad = 1.0;
    c.model_ema = true;
    c.model_ema_decay = 0.9;
    c.threads = 1;
    c.progress = "none";
    c.log_interval = 1;
    c.checkpoint_hist = 2;
    c.output = (root_ / "runs").string();
    c.experiment = experiment;
    c.validate();
    return c;
  }

  struct Run {
    std::vector<std::pair<int64_t, double>> losses;
    nn::NamedTensors weights, ema;
    nn::NamedTensors optim;
    TrainResult result;
    std::string summary;
  };

  static Run run(const TrainConfig& cfg) {
    Run r;
    TrainerHooks hooks;
    hooks.quiet = true;
    hooks.on_step = [&](const StepInfo& s) { r.losses.emplace_back(s.step, s.loss); };
    manual_seed(987654321);  // as a fresh process would have it: nothing may carry over between runs
    Trainer t(cfg, hooks);
    r.result = t.fit();
    for (const auto& [n, p] : t.model().named_parameters()) r.weights.emplace_back(n, p.clone());
    r.optim = t.optimizer().state_tensors();
    LoadedCheckpoint last = load_checkpoint(t.run_dir().file("last.safetensors"));
    r.ema = last.ema();
    std::ifstream f(t.run_dir().file("summary.csv"));
    std::stringstream ss;
    ss << f.rdbuf();
    r.summary = ss.str();
    return r;
  }

  static std::string read_text(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  // The epoch column of summary.csv, row by row.
  static std::vector<int> summary_epochs(const fs::path& dir) {
    std::vector<int> e;
    std::istringstream in(read_text(dir / "summary.csv"));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line))
      if (!line.empty()) e.push_back(std::stoi(line.substr(0, line.find(','))));
    return e;
  }

  static void expect_identical(const nn::NamedTensors& a, const nn::NamedTensors& b, const char* what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i].first, b[i].first) << what;
      std::vector<double> x = a[i].second.to_double_vector(), y = b[i].second.to_double_vector();
      ASSERT_EQ(x.size(), y.size()) << what << " " << a[i].first;
      for (size_t j = 0; j < x.size(); ++j)
        ASSERT_EQ(std::memcmp(&x[j], &y[j], sizeof(double)), 0)
            << what << " " << a[i].first << "[" << j << "]: " << x[j] << " vs " << y[j];
    }
  }

  static fs::path root_;
};

fs::path TrainerTest::root_;

TEST_F(TrainerTest, ResumeIsBitExact) {
  TrainConfig base = tiny("full");
  base.grad_accum_steps = 2;  // 3 updates per epoch, 9 in all (2 epochs + 1 cooldown)
  base.data.mixup = 0.8, base.data.cutmix = 1.0;
  Run full = run(base);
  ASSERT_EQ(full.losses.size(), 9u);
  ASSERT_FALSE(full.result.stopped_early);

  for (int64_t stop : {4, 3}) {  // mid-epoch (epoch 1, after batch 2 of 6), and at the end of epoch 0
    SCOPED_TRACE("stopped at step " + std::to_string(stop));
    TrainConfig first = base;
    first.experiment = "stopped-" + std::to_string(stop);
    first.max_steps = stop;
    Run a = run(first);
    ASSERT_TRUE(a.result.stopped_early);
    ASSERT_EQ(a.losses.size(), static_cast<size_t>(stop));
    TrainConfig second = base;
    second.experiment = first.experiment;
    second.resume = (root_ / "runs" / first.experiment / "last.safetensors").string();
    Run b = run(second);
    EXPECT_FALSE(b.result.stopped_early);
    std::vector<std::pair<int64_t, double>> joined = a.losses;
    joined.insert(joined.end(), b.losses.begin(), b.losses.end());
    ASSERT_EQ(joined.size(), full.losses.size());
    for (size_t i = 0; i < joined.size(); ++i) {
      EXPECT_EQ(joined[i].first, full.losses[i].first);
      EXPECT_EQ(joined[i].second, full.losses[i].second) << "step " << joined[i].first;  // bit for bit
    }
    expect_identical(b.weights, full.weights, "weights");
    expect_identical(b.optim, full.optim, "optimizer state");
    expect_identical(b.ema, full.ema, "EMA");
    EXPECT_EQ(b.summary, full.summary);
  }
}

TEST_F(TrainerTest, SeededRunReproducesRecordedLosses) {
  TrainConfig c = tiny("golden");
  c.epochs = 1, c.cooldown_epochs = 0, c.warmup_epochs = 0;
  c.model_ema = false;
  c.data.aa = "";
  c.data.reprob = 0;
  c.data.mixup = 0, c.data.cutmix = 0;
  c.model_keys.drop_path = 0.0;
  Run r = run(c);
  // Recorded with this config (6 updates, AdamW, label smoothing 0.1). The tolerance absorbs BLAS and FMA
  // differences between CPUs; any change to the model, loss, optimizer, schedule or data order shows.
  const double recorded[6] = {1.107915640, 1.077126741, 1.113162994, 1.071609974, 1.094383597, 1.191747665};
  ASSERT_EQ(r.losses.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_NEAR(r.losses[i].second, recorded[i], 2e-5) << "step " << i + 1;
  }
  // The same seed twice gives the same losses exactly.
  c.experiment = "golden-again";
  Run again = run(c);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(again.losses[i].second, r.losses[i].second);
}

TEST_F(TrainerTest, RunDirectoryHasTimmFiles) {
  TrainConfig c = tiny("files");
  c.epochs = 2, c.cooldown_epochs = 1, c.checkpoint_hist = 2;
  Run r = run(c);
  fs::path d = root_ / "runs" / "files";
  for (const char* f : {"args.yaml", "summary.csv", "train.log", "last.safetensors", "best.safetensors"})
    EXPECT_TRUE(fs::exists(d / f)) << f;
  int kept = 0;
  for (int e = 0; e < 3; ++e) kept += fs::exists(d / ("checkpoint-" + std::to_string(e) + ".safetensors"));
  EXPECT_EQ(kept, 2);  // checkpoint_hist
  EXPECT_EQ(r.summary.substr(0, r.summary.find('\n')),
            "epoch,train_loss,eval_loss,eval_top1,eval_top5,lr,ema_eval_loss,ema_eval_top1,ema_eval_top5");
  EXPECT_EQ(std::count(r.summary.begin(), r.summary.end(), '\n'), 4);  // header + 3 epochs
  // args.yaml reloads to the same config
  TrainConfig back = apply_yaml_file((d / "args.yaml").string());
  EXPECT_EQ(back.rows(), c.rows());
  // last.safetensors holds the official names, the optimizer state and the EMA
  LoadedCheckpoint ck = load_checkpoint((d / "last.safetensors").string());
  EXPECT_TRUE(ck.has_state);
  EXPECT_EQ(ck.state.epoch, 3);
  EXPECT_NE(ck.find("levels.0.blocks.0.attn.rpb"), nullptr);
  EXPECT_NE(ck.find("optim.levels.0.blocks.0.attn.rpb.exp_avg_sq"), nullptr);
  EXPECT_NE(ck.find("ema.head.weight"), nullptr);
  EXPECT_EQ(r.result.last_eval.samples, 12);
}

TEST_F(TrainerTest, NonFiniteLossStopsNamingStepAndCheckpoint) {
  TrainConfig c = tiny("nan");
  c.lr = 1e30, c.warmup_epochs = 0, c.clip_grad.reset();
  NAT_EXPECT_ERROR(run(c), "[train] the", "at step", "Last good checkpoint");
}

TEST_F(TrainerTest, DivergedModelNeverBecomesBestNorEvictsKeptCheckpoints) {
  // 3 epochs of 6 updates; the weights turn NaN on the last update of epoch 2, after epochs 0 and 1 were
  // kept (checkpoint_hist 2). NaN logits used to score top-1 100 %, so the NaN model became best and
  // evicted a kept checkpoint.
  TrainConfig c = tiny("diverged");
  fs::path d = root_ / "runs" / "diverged";
  Trainer* trainer = nullptr;
  TrainerHooks hooks;
  hooks.quiet = true;
  hooks.on_step = [&](const StepInfo& s) {
    if (s.step == 18) trainer->model().named_parameters()[0].second.fill_(std::numeric_limits<double>::quiet_NaN());
  };
  manual_seed(987654321);
  Trainer t(c, hooks);
  trainer = &t;
  NAT_EXPECT_ERROR(t.fit(), "eval loss is nan after epoch 2", "no checkpoint of this epoch was written",
                   "Last good checkpoint", (d / "last.safetensors").string().c_str());
  for (const char* f : {"checkpoint-0.safetensors", "checkpoint-1.safetensors", "best.safetensors"})
    EXPECT_TRUE(fs::exists(d / f)) << f;
  EXPECT_FALSE(fs::exists(d / "checkpoint-2.safetensors"));
  LoadedCheckpoint best = load_checkpoint((d / "best.safetensors").string());
  EXPECT_LT(best.state.best_epoch, 2);
  EXPECT_EQ(first_non_finite(best.weights()), "");
  LoadedCheckpoint last = load_checkpoint((d / "last.safetensors").string());  // the good checkpoint named
  EXPECT_EQ(last.state.epoch, 2);
  EXPECT_EQ(first_non_finite(last.weights()), "");
  EXPECT_EQ(summary_epochs(d), (std::vector<int>{0, 1}));
}

TEST_F(TrainerTest, NonFiniteWeightsAreNeverSaved) {
  // Without evaluation nothing scores the model: the checkpoint write itself refuses NaN weights.
  TrainConfig c = tiny("nan-weights");
  c.disable_eval = true, c.max_steps = 2;
  Trainer* trainer = nullptr;
  TrainerHooks hooks;
  hooks.quiet = true;
  hooks.on_step = [&](const StepInfo& s) {
    if (s.step == 2) trainer->model().named_parameters()[0].second.fill_(std::numeric_limits<double>::infinity());
  };
  Trainer t(c, hooks);
  trainer = &t;
  NAT_EXPECT_ERROR(t.fit(), "weights are not finite after step 2", "non-finite value", "was not written",
                   "Last good checkpoint: none");
  EXPECT_FALSE(fs::exists(root_ / "runs" / "nan-weights" / "last.safetensors"));
}

TEST_F(TrainerTest, TwoRunsNeverShareADirectory) {
  TrainConfig c = tiny("shared");
  c.max_steps = 1;
  TrainerHooks quiet;
  quiet.quiet = true;
  const fs::path d = root_ / "runs" / "shared";
  {
    Trainer a(c, quiet);
    Trainer b(c, quiet);  // the same experiment name, at the same time: the next suffix
    EXPECT_EQ(a.run_path(), d.string());
    EXPECT_EQ(b.run_path(), d.string() + "-1");
    a.fit();
  }
  TrainConfig r = c;
  r.resume = (d / "last.safetensors").string();
  r.max_steps = 2;
  Trainer first(r, quiet);  // holds the directory's lock while it lives
  NAT_EXPECT_ERROR(Trainer(r, quiet), "[run] ", d.string().c_str(), "is in use by another run (pid", ".lock");
  // The refused run wrote nothing; the first one trains on undisturbed.
  EXPECT_EQ(first.fit().steps, 2);
}

TEST_F(TrainerTest, StaleTemporariesGoAndSummaryNeverRepeatsAnEpoch) {
  TrainConfig c = tiny("resumed");
  c.checkpoint_hist = 3;  // checkpoint-0, -1, -2 to resume from
  TrainerHooks quiet;
  quiet.quiet = true;
  const fs::path d = root_ / "runs" / "resumed";
  Trainer(c, quiet).fit();
  ASSERT_EQ(summary_epochs(d), (std::vector<int>{0, 1, 2}));
  for (const char* from : {"checkpoint-0.safetensors", "checkpoint-1.safetensors", "checkpoint-0.safetensors"}) {
    SCOPED_TRACE(from);
    // What kill -9 during a checkpoint write leaves behind.
    std::ofstream(d / "last.safetensors.tmp") << "partial";
    std::ofstream(d / "best.safetensors.tmp") << "partial";
    TrainConfig r = c;
    r.resume = (d / from).string();
    Trainer t(r, quiet);
    EXPECT_FALSE(fs::exists(d / "last.safetensors.tmp"));
    EXPECT_FALSE(fs::exists(d / "best.safetensors.tmp"));
    t.fit();
    EXPECT_EQ(summary_epochs(d), (std::vector<int>{0, 1, 2}));
  }
  const std::string log = read_text(d / "train.log");
  EXPECT_NE(log.find("Removed 2 stale temporary file(s)"), std::string::npos) << log;
  EXPECT_NE(log.find("best.safetensors.tmp, last.safetensors.tmp"), std::string::npos) << log;
}

TEST_F(TrainerTest, FullDiskIsRefusedBeforeTraining) {
  TrainConfig c = tiny("full-disk");
  int steps = 0;
  TrainerHooks hooks;
  hooks.quiet = true;
  hooks.assume_free_bytes = 1000;
  hooks.on_step = [&](const StepInfo&) { ++steps; };
  const std::string d = (root_ / "runs" / "full-disk").string();
  NAT_EXPECT_ERROR(Trainer(c, hooks).fit(), d.c_str(), "has 1000 bytes free", "one checkpoint of this run needs about",
                   "--output");
  EXPECT_EQ(steps, 0);
  // A run directory that cannot be made: the error carries the system's reason.
  std::ofstream(root_ / "runs" / "a-file") << "x";
  c.output = (root_ / "runs" / "a-file").string();
  NAT_EXPECT_ERROR(Trainer(c, TrainerHooks{.quiet = true}), "[run] cannot create", "a-file", "Not a directory");
}

TEST_F(TrainerTest, ResumingAFinishedRunTrainsNothing) {
  TrainConfig c = tiny("finished");
  c.epochs = 1, c.cooldown_epochs = 0, c.warmup_epochs = 0;
  Run done = run(c);
  ASSERT_EQ(done.result.steps, 6);
  c.resume = (root_ / "runs" / "finished" / "last.safetensors").string();
  Run again = run(c);
  EXPECT_TRUE(again.result.nothing_to_train);
  EXPECT_TRUE(again.losses.empty());
  EXPECT_EQ(again.result.steps, 6);
  EXPECT_EQ(again.summary, done.summary);
  const std::string log = read_text(root_ / "runs" / "finished" / "train.log");
  EXPECT_NE(log.find("Nothing left to train: " + c.resume + " ended at epoch 1"), std::string::npos) << log;
}

TEST_F(TrainerTest, UnreadableFilesAreCountedPerEpoch) {
  const fs::path data = root_ / "data-bad";
  data::write_synthetic_image_folder((data / "train").string(), 24, 3, 40, 32, /*seed=*/1, 85);
  data::write_synthetic_image_folder((data / "val").string(), 6, 3, 40, 32, /*seed=*/2, 85);
  fs::path cls;
  for (const auto& e : fs::directory_iterator(data / "train"))
    if (e.is_directory()) cls = e.path();
  std::ofstream(cls / "zz_broken.jpg") << "this is not a JPEG";
  std::ofstream(data / "val" / cls.filename() / "zz_truncated.png") << "\x89PNG\r\n";
  TrainConfig c = tiny("unreadable");
  c.data.data_dir = data.string();
  c.epochs = 1, c.cooldown_epochs = 0, c.warmup_epochs = 0;
  Run r = run(c);
  EXPECT_EQ(r.result.unreadable_train_files, 1);
  EXPECT_EQ(r.result.unreadable_val_files, 1);
  EXPECT_EQ(r.result.last_eval.samples, 6);  // the bad one left out, not replaced
  const std::string log = read_text(root_ / "runs" / "unreadable" / "train.log");
  EXPECT_NE(log.find("Skipped as unreadable in epoch 0: 1 training file(s)"), std::string::npos) << log;
  EXPECT_NE(log.find("1 validation file(s) (left out of the scores)"), std::string::npos) << log;
}

}  // namespace
}  // namespace nat::train
