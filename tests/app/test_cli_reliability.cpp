// What `nat` promises a user who interrupts it, shares directories or feeds it bad files (issue 17),
// checked on the real executable built next to this test, on a tiny synthetic data set:
//   - SIGINT / SIGTERM: the step finishes, last.safetensors is saved, exit 130 / 143;
//   - a second SIGINT while the first is pending quits at once (exit 130), saying so;
//   - a run directory held by a live run is refused (exit 2);
//   - nat eval of a diverged (NaN) checkpoint fails (exit 2) instead of printing top-1 100 %;
//   - nat predict names a file it cannot decode, predicts the others and exits 1;
//   - resuming a finished run says there is nothing to train (exit 0).
// Synchronisation is by the child's own output (its first step line, its interrupt message), never by
// sleeping; the 300 s limit on each wait only turns a hang into a failure.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "data/synthetic.h"
#include "support/test_util.h"
#include "train/checkpoint.h"

namespace nat {
namespace {

namespace fs = std::filesystem;
using testing::nat_executable;

// A running `nat` with its stdout and stderr on two pipes the test reads.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    // Everything the child needs is built before fork(): it only calls dup2 and execv after.
    std::vector<std::string> all = {nat_executable()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(err[1]);
    out_fd_ = out[0], err_fd_ = err[0], out_write_ = out[1];  // kept for fill_stdout(); closed by finish()
  }
  ~Child() {
    if (pid_ > 0 && status_ < 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    for (int fd : {out_fd_, err_fd_, out_write_})
      if (fd >= 0) ::close(fd);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Reads the pipes (stdout only while read_stdout_) until `done()` holds, both reach end of file, or
  // 300 s pass (a hang becomes a failure, not a stuck test).
  bool read_until(const std::function<bool()>& done) {
    const auto t0 = std::chrono::steady_clock::now();
    while (!done()) {
      if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(300)) return false;
      std::vector<pollfd> p;
      if (out_fd_ >= 0 && read_stdout_) p.push_back({out_fd_, POLLIN, 0});
      if (err_fd_ >= 0) p.push_back({err_fd_, POLLIN, 0});
      if (p.empty()) return done();
      if (::poll(p.data(), p.size(), 1000) < 0 && errno != EINTR) return false;
      for (const pollfd& q : p) {
        if (!(q.revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[4096];
        const ssize_t n = ::read(q.fd, buf, sizeof buf);
        const bool is_out = q.fd == out_fd_;
        if (n > 0) {
          (is_out ? out : err).append(buf, static_cast<size_t>(n));
        } else if (n == 0) {
          ::close(q.fd);
          (is_out ? out_fd_ : err_fd_) = -1;
        }
      }
    }
    return true;
  }
  bool read_until_out(const std::string& needle) {
    return read_until([&] { return out.find(needle) != std::string::npos; });
  }
  bool read_until_err(const std::string& needle) {
    return read_until([&] { return err.find(needle) != std::string::npos; });
  }

  // Reads everything until the child closes its pipes; returns its exit code (128 + signal if killed).
  int finish() {
    if (out_write_ >= 0) ::close(out_write_), out_write_ = -1;  // so that stdout can reach end of file
    read_stdout_ = true;
    read_until([] { return false; });
    return wait();
  }

  // Fills the child's stdout pipe to the brim and stops reading it, so that the child's next write to
  // stdout blocks until it dies. The filling goes through a second open file description of the pipe
  // (/proc/self/fd), which may be non-blocking without making the child's own descriptor non-blocking.
  bool fill_stdout() {
    read_stdout_ = false;
    const int fd = ::open(("/proc/self/fd/" + std::to_string(out_write_)).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return false;
    const std::string junk(4096, '#');
    while (::write(fd, junk.data(), junk.size()) > 0) {
    }
    bool full = errno == EAGAIN;
    while (::write(fd, "#", 1) == 1) {  // what is left is smaller than a page
    }
    full = full && errno == EAGAIN;
    ::close(fd);
    return full;
  }

  void signal(int sig) { ::kill(pid_, sig); }
  bool started() const { return pid_ > 0; }

  std::string out, err;

 private:
  int wait() {
    if (status_ >= 0) return status_;
    int st = 0;
    ::waitpid(pid_, &st, 0);
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
    return status_;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1, out_write_ = -1;
  bool read_stdout_ = true;
  int status_ = -1;
};

class CliReliability : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("nat_test_cli_reliability_" + std::to_string(::getpid()));
    fs::create_directories(root_);
    data::write_synthetic_image_folder((root_ / "data" / "train").string(), 32, 3, 40, 32, /*seed=*/1, 85);
    data::write_synthetic_image_folder((root_ / "data" / "val").string(), 9, 3, 40, 32, /*seed=*/2, 85);
    std::ofstream(root_ / "tiny.yaml") << "model: custom\nembed_dim: 8\ndepths: [1, 1]\nnum_heads: [1, 2]\n"
                                          "kernel_size: 3\nmlp_ratio: 2.0\nimg_size: 16\nbatch_size: 8\n"
                                          "workers: 1\nthreads: 1\nseed: 5\nepochs: 1\nwarmup_epochs: 0\n"
                                          "lr: 2.0e-3\nprogress: lines\nlog_interval: 1\nval_split: val\n"
                                          "mixup: 0.0\ncutmix: 0.0\nmodel_ema: false\n";
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  void SetUp() override {
    ASSERT_EQ(::access(nat_executable().c_str(), X_OK), 0) << nat_executable() << " is not built";
  }

  // `nat train` on the tiny config; `extra` overrides keys.
  static std::vector<std::string> train(const std::string& experiment, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"train",
                                  "--config",
                                  (root_ / "tiny.yaml").string(),
                                  "--data_dir",
                                  (root_ / "data").string(),
                                  "--output",
                                  (root_ / "runs").string(),
                                  "--experiment",
                                  experiment};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static fs::path run_dir(const std::string& experiment) { return root_ / "runs" / experiment; }

  // Runs `args` to the end; returns the exit code, with stdout and stderr in `out`.
  static int run(const std::vector<std::string>& args, std::string* out) {
    Child c(args);
    EXPECT_TRUE(c.started());
    int code = c.finish();
    *out = c.out + c.err;
    return code;
  }

  static fs::path root_;
};

fs::path CliReliability::root_;

TEST_F(CliReliability, SignalsSaveThenExit130Or143) {
  for (int sig : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(sig == SIGINT ? "SIGINT" : "SIGTERM");
    const std::string exp = sig == SIGINT ? "sigint" : "sigterm";
    Child c(train(exp, {"--epochs", "100000"}));                 // far more than ever runs: only the signal ends it
    ASSERT_TRUE(c.read_until_out("Train: ")) << c.out << c.err;  // in the loop: the handlers are installed
    c.signal(sig);
    const int code = c.finish();
    EXPECT_EQ(code, 128 + sig) << c.out << c.err;
    EXPECT_NE(c.out.find("Interrupted (signal " + std::to_string(sig) + ")"), std::string::npos) << c.out;
    EXPECT_NE(c.err.find(sig == SIGINT ? "interrupt (SIGINT)" : "SIGTERM: finishing this step"), std::string::npos)
        << c.err;
    EXPECT_NE(c.err.find("exit code " + std::to_string(128 + sig)), std::string::npos) << c.err;
    train::LoadedCheckpoint ck = train::load_checkpoint((run_dir(exp) / "last.safetensors").string());
    EXPECT_TRUE(ck.has_state);
    EXPECT_GE(ck.state.step, 1);
  }
}

TEST_F(CliReliability, SecondSigintQuitsAtOnce) {
  Child c(train("force", {"--epochs", "100000"}));
  ASSERT_TRUE(c.read_until_out("Train: ")) << c.out << c.err;
  // From here on the child blocks at its next line on stdout, so it can never finish the stop the first
  // SIGINT asks for: only the second one can end it.
  ASSERT_TRUE(c.fill_stdout());
  c.signal(SIGINT);
  ASSERT_TRUE(c.read_until_err("interrupt (SIGINT)")) << c.err;  // the first was handled
  c.signal(SIGINT);
  EXPECT_EQ(c.finish(), 130) << c.err;
  EXPECT_NE(c.err.find("second interrupt: quitting now"), std::string::npos) << c.err;
  // Whatever was on disk is complete: checkpoints are replaced atomically.
  const fs::path last = run_dir("force") / "last.safetensors";
  if (fs::exists(last)) EXPECT_TRUE(train::load_checkpoint(last.string()).has_state);
}

TEST_F(CliReliability, ALiveRunsDirectoryIsRefused) {
  std::string out;
  ASSERT_EQ(run(train("locked", {"--max-steps", "1"}), &out), 0) << out;
  // This test process stands in for the live run: it holds the directory's lock.
  int fd = ::open((run_dir("locked") / ".lock").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  const std::string ckpt = (run_dir("locked") / "last.safetensors").string();
  EXPECT_EQ(run(train("locked", {"--resume", ckpt}), &out), 2) << out;
  EXPECT_NE(out.find("is in use by another run"), std::string::npos) << out;
  ::close(fd);
  // A new run of the same name gets the next directory, even while the first is held.
  EXPECT_EQ(run(train("locked", {"--max-steps", "1"}), &out), 0) << out;
  EXPECT_TRUE(fs::exists(run_dir("locked-1") / "last.safetensors"));
}

TEST_F(CliReliability, EvalOfADivergedCheckpointFails) {
  std::string out;
  ASSERT_EQ(run(train("to-poison", {"--max-steps", "1"}), &out), 0) << out;
  train::LoadedCheckpoint ck = train::load_checkpoint((run_dir("to-poison") / "last.safetensors").string());
  for (auto& [name, t] : ck.file.tensors) {
    if (name == "head.weight") t.fill_(std::numeric_limits<double>::quiet_NaN());
  }
  const std::string nan_ckpt = (root_ / "nan.safetensors").string();
  nn::save_safetensors(nan_ckpt, ck.file.tensors, ck.file.metadata);
  const std::vector<std::string> eval = {
      "eval", "--config", (root_ / "tiny.yaml").string(), "--data_dir", (root_ / "data").string(), "--checkpoint"};
  std::vector<std::string> args = eval;
  args.push_back(nan_ckpt);
  EXPECT_EQ(run(args, &out), 2) << out;
  EXPECT_NE(out.find("'head.weight' holds"), std::string::npos) << out;
  EXPECT_NE(out.find("diverged"), std::string::npos) << out;
  EXPECT_EQ(out.find("top-1"), std::string::npos) << out;
  args = eval;
  args.push_back((run_dir("to-poison") / "last.safetensors").string());
  EXPECT_EQ(run(args, &out), 0) << out;  // the good one still evaluates
  EXPECT_NE(out.find("top-1"), std::string::npos) << out;
}

// Issue 16: without --config, eval used ImageNet defaults whatever the model was trained at (9.4 % instead of
// 99 % on digits). Now the checkpoint's recorded config decides, --config only overrides, and a weights-only
// file without a config is an error saying what to pass.
TEST_F(CliReliability, EvalUsesThePreprocessingTheCheckpointWasTrainedWith) {
  std::string out;
  ASSERT_EQ(run(train("recorded", {"--max-steps", "1", "--img_size", "24", "--crop_pct", "1.0", "--interpolation",
                                   "bilinear", "--mean", "0.25", "0.5", "0.75"}),
                &out),
            0)
      << out;
  const std::string ckpt = (run_dir("recorded") / "last.safetensors").string();
  ASSERT_EQ(run({"eval", "--checkpoint", ckpt}, &out), 0) << out;  // data_dir too comes from the checkpoint
  EXPECT_NE(out.find("resize the short side to 24 (bilinear), center crop 24 (crop_pct 1), mean [0.25, 0.5, 0.75]"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("(from the checkpoint's recorded config)"), std::string::npos) << out;
  EXPECT_NE(out.find("top-1"), std::string::npos) << out;
  // A config and keys override what was recorded, and the line says so.
  ASSERT_EQ(run({"eval", "--checkpoint", ckpt, "--config", (root_ / "tiny.yaml").string(), "--crop_pct", "0.5"}, &out),
            0)
      << out;
  EXPECT_NE(out.find("center crop 16 (crop_pct 0.5)"), std::string::npos) << out;
  EXPECT_NE(out.find("then " + (root_ / "tiny.yaml").string() + ", then the command line"), std::string::npos) << out;
  // Weights only (a converted official checkpoint, say): no guessing.
  train::LoadedCheckpoint ck = train::load_checkpoint(ckpt);
  const std::string weights = (root_ / "weights_only.safetensors").string();
  nn::save_safetensors(weights, ck.weights());
  EXPECT_EQ(run({"eval", "--checkpoint", weights, "--data_dir", (root_ / "data").string()}, &out), 2) << out;
  EXPECT_NE(out.find("records no training config"), std::string::npos) << out;
  EXPECT_NE(out.find("pass --config FILE"), std::string::npos) << out;
}

TEST_F(CliReliability, PredictNamesABadFileAndGoesOn) {
  std::string out;
  ASSERT_EQ(run(train("predict", {"--max-steps", "1"}), &out), 0) << out;
  std::vector<std::string> images;
  for (const auto& e : fs::recursive_directory_iterator(root_ / "data" / "val"))
    if (e.is_regular_file() && images.size() < 2) images.push_back(e.path().string());
  ASSERT_EQ(images.size(), 2u);
  const std::string bad = (root_ / "notes.jpg").string();
  std::ofstream(bad) << "not an image at all";
  Child c({"predict", "--checkpoint", (run_dir("predict") / "last.safetensors").string(), images[0], bad, images[1]});
  EXPECT_EQ(c.finish(), 1) << c.out << c.err;
  EXPECT_NE(c.out.find(images[0]), std::string::npos) << c.out;
  EXPECT_NE(c.out.find(images[1]), std::string::npos) << c.out;  // after the bad one
  EXPECT_EQ(c.out.find(bad), std::string::npos) << c.out;
  EXPECT_NE(c.err.find("nat predict: " + bad + ": skipped: "), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("1 of 3 file(s) failed"), std::string::npos) << c.err;
}

TEST_F(CliReliability, ResumingAFinishedRunSaysNothingToTrain) {
  std::string out;
  ASSERT_EQ(run(train("finished"), &out), 0) << out;
  const std::string ckpt = (run_dir("finished") / "last.safetensors").string();
  EXPECT_EQ(run(train("finished", {"--resume", ckpt}), &out), 0) << out;
  EXPECT_NE(out.find("Nothing to train: " + ckpt + " already holds all 1 epochs"), std::string::npos) << out;
  EXPECT_EQ(out.find("Trained "), std::string::npos) << out;
}

}  // namespace
}  // namespace nat
