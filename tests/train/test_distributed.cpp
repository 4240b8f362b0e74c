// Data parallelism on the CPU with MPI, through real launches: `mpirun -np 2` over tests/train/dist_worker
// (collectives, the bucketed reducer's values and its hook order, a stalled rank named through the
// heartbeat, a frozen rank 0, a dead rank, different models) and over the `nat` CLI: two ranks of batch 4
// train to the same weights as one process of batch 8, only rank 0 writes the run directory, its log lines
// carry the rank, and a run stopped on one process resumes on two (same global batch) to the same weights as
// the uninterrupted run.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/synthetic.h"
#include "train/checkpoint.h"

namespace nat::train {
namespace {

namespace fs = std::filesystem;

#define NAT_SKIP_WITHOUT_MPI()                        \
  if (std::string(NAT_MPIEXEC).empty())               \
    GTEST_SKIP() << "this build has no MPI (mpirun)"; \
  else                                                \
    (void)0

struct Result {
  int status = -1;  // exit status (128 + signal when killed)
  std::string output;
  double seconds = 0;
};

Result run(const std::string& cmd) {
  Result r;
  auto t0 = std::chrono::steady_clock::now();
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) r.output.append(buf.data(), n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// mpirun with N ranks; as root it needs --allow-run-as-root. Two ranks may share the 2-core CI machine.
// Under AddressSanitizer the ranks run without LeakSanitizer: Open MPI's plugins (dlopen'ed, then closed
// at MPI_Finalize) leave process-lifetime allocations that cannot even be attributed. Our own code's
// leaks are still checked by every test that runs in-process (test_comm, test_trainer, ...).
std::string mpirun(int n) {
  const char* asan = std::getenv("ASAN_OPTIONS");
  std::string s = "env ASAN_OPTIONS=" + std::string(asan ? asan : "") + (asan && *asan ? ":" : "") + "detect_leaks=0 " +
                  NAT_MPIEXEC + " -np " + std::to_string(n) + " --oversubscribe --bind-to none";
  if (::geteuid() == 0) s += " --allow-run-as-root";
  return s;
}

TEST(Distributed, CollectivesOverMpi) {
  NAT_SKIP_WITHOUT_MPI();
  Result r = run(mpirun(2) + " " + NAT_DIST_WORKER + " collectives");
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST(Distributed, ReducerAveragesBucketsInOrderDuringBackward) {
  NAT_SKIP_WITHOUT_MPI();
  Result r = run(mpirun(2) + " " + NAT_DIST_WORKER + " reducer");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("rank 0: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rank 1: "), std::string::npos) << r.output;
}

TEST(Distributed, StalledRankTimesOutNamingRankAndOperation) {
  NAT_SKIP_WITHOUT_MPI();
  // Rank 1's main thread sleeps after collective #1; its heartbeat thread still reports it there.
  Result r = run(mpirun(2) + " " + NAT_DIST_WORKER + " stall");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("[rank 0] nat: all_reduce 'stall test' (collective #2) did not finish within 2 s "
                          "(dist_timeout); rank 1 has not arrived: its last collective is #1 (barrier 'before the "
                          "stall'), heartbeat "),
            std::string::npos)
      << r.output;
  EXPECT_LT(r.seconds, 45.0) << "the job should end at the 2 s timeout, not when the stalled rank wakes (60 s)";
}

TEST(Distributed, FrozenRankZeroIsNamedWhenItsHeartbeatStoreIsSilent) {
  NAT_SKIP_WITHOUT_MPI();
  // Rank 0 stops entirely (SIGSTOP), its heartbeat store with it; `timeout` guards against a launcher that
  // would wait for a stopped process forever.
  Result r = run("timeout -s KILL 100 " + mpirun(2) + " " + NAT_DIST_WORKER + " freeze");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("[rank 1] nat: all_reduce 'stall test' (collective #2) did not finish within 2 s "
                          "(dist_timeout); rank 0's heartbeat store did not answer ("),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("so rank 0 is likely the rank that stalled"), std::string::npos) << r.output;
  EXPECT_LT(r.seconds, 60.0) << "the job should end soon after the 2 s timeout";
}

TEST(Distributed, DeadRankEndsTheJob) {
  NAT_SKIP_WITHOUT_MPI();
  Result r = run(mpirun(2) + " " + NAT_DIST_WORKER + " die");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_EQ(r.output.find("FAIL"), std::string::npos) << r.output;
  EXPECT_LT(r.seconds, 60.0) << "rank 0 must not wait for its 120 s timeout";
}

TEST(Distributed, DifferentModelsAreRejectedOnEveryRank) {
  NAT_SKIP_WITHOUT_MPI();
  Result r = run(mpirun(2) + " " + NAT_DIST_WORKER + " mismatch");
  EXPECT_NE(r.status, 0) << r.output;
  for (const char* rank : {"rank 0: error", "rank 1: error"})
    EXPECT_NE(r.output.find(rank), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the ranks built different models: rank 1 has"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the first difference is at #0: rank 0 'patch_embed.proj.0.weight [8, 3, 3, 3] f32', "
                          "rank 1 'patch_embed.proj.0.weight [12, 3, 3, 3] f32'"),
            std::string::npos)
      << r.output;
}

// ---- the CLI: nat train under mpirun ----

class DistributedTraining : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("nat_test_distributed_" + std::to_string(::getpid()));
    fs::create_directories(root_);
    data::write_synthetic_image_folder((root_ / "data" / "train").string(), 32, 3, 40, 32, /*seed=*/1, 85);
    data::write_synthetic_image_folder((root_ / "data" / "val").string(), 10, 3, 40, 32, /*seed=*/2, 85);
    // Augmentation on (keyed by each sample's position in the global order, so identical on any number of
    // ranks); drop path and mixup off (their draws are per rank).
    std::ofstream(root_ / "tiny.yaml") << "model: custom\nembed_dim: 8\ndepths: [1, 1]\nnum_heads: [1, 2]\n"
                                          "kernel_size: 3\nmlp_ratio: 2.0\ndrop_path: 0.0\nimg_size: 16\n"
                                          "batch_size: 8\nworkers: 1\nthreads: 1\nseed: 5\nepochs: 2\n"
                                          "warmup_epochs: 1\nlr: 2.0e-3\nwarmup_lr: 1.0e-4\nmin_lr: 1.0e-5\n"
                                          "reprob: 0.25\nhflip: 0.5\nclip_grad: 1.0\nprogress: lines\n"
                                          "log_interval: 1\nval_split: val\nmixup: 0.0\ncutmix: 0.0\n";
  }
  static void TearDownTestSuite() {
    if (!std::getenv("NAT_KEEP_TEST_DIR")) fs::remove_all(root_);  // kept for debugging on request
  }

  static std::string train(const std::string& launcher, const std::string& args) {
    return launcher + " " + NAT_CLI + " train --config " + (root_ / "tiny.yaml").string() + " --data_dir " +
           (root_ / "data").string() + " --output " + (root_ / "runs").string() + " " + args;
  }
  static fs::path run_dir(const std::string& experiment) { return root_ / "runs" / experiment; }

  // Largest relative difference ||a - b|| / ||a|| over the weights of two checkpoints.
  static double weight_difference(const fs::path& a, const fs::path& b, std::string* worst_name) {
    nn::NamedTensors wa = load_checkpoint(a.string()).weights(), wb = load_checkpoint(b.string()).weights();
    EXPECT_EQ(wa.size(), wb.size());
    double worst = 0;
    for (size_t i = 0; i < wa.size() && i < wb.size(); ++i) {
      std::vector<float> x = wa[i].second.to_vector<float>(), y = wb[i].second.to_vector<float>();
      double d = 0, n = 0;
      for (size_t k = 0; k < x.size(); ++k) d += (x[k] - y[k]) * double(x[k] - y[k]), n += x[k] * double(x[k]);
      double rel = std::sqrt(d) / std::max(std::sqrt(n), 1e-12);
      if (rel > worst) worst = rel, *worst_name = wa[i].first;
    }
    return worst;
  }

  static fs::path root_;
};

fs::path DistributedTraining::root_;

TEST_F(DistributedTraining, TwoRanksMatchOneProcessWithTheSameGlobalBatch) {
  NAT_SKIP_WITHOUT_MPI();
  Result one = run(train("", "--experiment one"));
  ASSERT_EQ(one.status, 0) << one.output;
  Result two = run(train(mpirun(2), "--batch_size 4 --experiment two"));
  ASSERT_EQ(two.status, 0) << two.output;
  EXPECT_NE(two.output.find("Data parallel: 2 ranks (mpi), global batch 8"), std::string::npos) << two.output;

  std::string name;
  const double diff =
      weight_difference(run_dir("one") / "last.safetensors", run_dir("two") / "last.safetensors", &name);
  EXPECT_LT(diff, 1e-5) << "after 8 steps, '" << name << "' differs by " << diff;
  std::printf("two ranks vs one process: largest relative weight difference %.3g (%s)\n", diff, name.c_str());

  // Both runs evaluated all 10 validation images (each rank its half).
  std::ifstream log(run_dir("two") / "train.log");
  std::stringstream ss;
  ss << log.rdbuf();
  EXPECT_NE(ss.str().find("[rank 0/2] Test: [epoch 1]"), std::string::npos) << ss.str();
  EXPECT_NE(ss.str().find("(10 images"), std::string::npos) << ss.str();
  EXPECT_EQ(ss.str().find("[rank 1/2]"), std::string::npos) << "only rank 0 logs";
  // One summary row per epoch, written once.
  std::ifstream summary(run_dir("two") / "summary.csv");
  int lines = 0;
  for (std::string l; std::getline(summary, l);) ++lines;
  EXPECT_EQ(lines, 3);
}

TEST_F(DistributedTraining, ResumesOnTwoRanksWhatOneProcessStarted) {
  NAT_SKIP_WITHOUT_MPI();
  Result full = run(train("", "--experiment full"));
  ASSERT_EQ(full.status, 0) << full.output;
  Result part = run(train("", "--experiment part --max-steps 3"));  // mid-epoch 0 (4 steps per epoch)
  ASSERT_EQ(part.status, 0) << part.output;
  const std::string ckpt = (run_dir("part") / "last.safetensors").string();
  Result bad = run(train(mpirun(2), "--resume " + ckpt));  // batch 8 on 2 ranks: global 16, not 8
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("Keep the global batch: batch_size 4 on 2 rank(s)"), std::string::npos) << bad.output;
  Result rest = run(train(mpirun(2), "--batch_size 4 --resume " + ckpt));
  ASSERT_EQ(rest.status, 0) << rest.output;
  std::string name;
  const double diff =
      weight_difference(run_dir("full") / "last.safetensors", run_dir("part") / "last.safetensors", &name);
  EXPECT_LT(diff, 1e-5) << "'" << name << "' differs by " << diff;
}

}  // namespace
}  // namespace nat::train
