// The run directory (train/run_dir.h) under hostile conditions (issue 17): two runs claiming the same
// directory at once, a second process resuming into a directory a live run holds, summary.csv across
// repeated resumes, stale .tmp files, write errors with their errno, and the free-space check.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/expect_error.h"
#include "train/run_dir.h"

namespace nat::train {
namespace {

namespace fs = std::filesystem;

class RunDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("nat_test_run_dir_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  static std::string read(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  fs::path root_;
};

TEST_F(RunDirTest, NewRunsClaimDistinctDirectories) {
  const std::string base = (root_ / "out" / "exp").string();
  EXPECT_EQ(claim_new_run_dir(base), base);  // creates the parents too
  EXPECT_EQ(claim_new_run_dir(base), base + "-1");
  EXPECT_EQ(claim_new_run_dir(base), base + "-2");
  // An existing directory is taken even when empty: exclusive creation is the only race-free test.
  EXPECT_TRUE(fs::is_directory(base + "-2"));
  std::ofstream(root_ / "file") << "x";
  NAT_EXPECT_ERROR(claim_new_run_dir((root_ / "file" / "exp").string()), "[run] cannot create", "file");
}

TEST_F(RunDirTest, ClaimsRaceFreeAcrossProcesses) {
  // Eight processes claim the same name at once: eight different directories.
  const std::string base = (root_ / "race").string();
  std::vector<pid_t> kids;
  for (int i = 0; i < 8; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        claim_new_run_dir(base);
        ::_exit(0);
      } catch (...) {
        ::_exit(1);
      }
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int st = 0;
    ::waitpid(k, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  int dirs = 0;
  for (const auto& e : fs::directory_iterator(root_)) dirs += e.is_directory();
  EXPECT_EQ(dirs, 8);
}

TEST_F(RunDirTest, ALiveRunLocksItsDirectory) {
  const std::string d = (root_ / "run").string();
  {
    RunDir a(d);
    NAT_EXPECT_ERROR(RunDir b(d), "[run] ", d.c_str(), "is in use by another run (pid ",
                     std::to_string(::getpid()).c_str(), "--experiment");
    // Another process is refused too (flock holds across processes).
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        RunDir c(d);
        ::_exit(0);
      } catch (const Error& e) {
        ::_exit(std::string(e.what()).find("is in use by another run") != std::string::npos ? 3 : 1);
      }
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 3) << "status " << st;
  }
  RunDir again(d);  // the lock ends with the run
  EXPECT_TRUE(fs::exists(d + "/.lock"));
}

TEST_F(RunDirTest, SummaryNeverRepeatsAnEpoch) {
  RunDir r((root_ / "run").string());
  const std::vector<std::string> cols = {"epoch", "train_loss", "lr"};
  r.write_summary_row(cols, {"0", "2.5", "0.1"}, 0);
  r.write_summary_row(cols, {"1", "2.0", "0.1"}, 1);
  r.write_summary_row(cols, {"2", "1.5", "0.1"}, 2);
  // Resumed from epoch 1's checkpoint: epoch 1 is written again and epoch 2's old row goes.
  r.write_summary_row(cols, {"1", "1.9", "0.1"}, 1);
  EXPECT_EQ(read(r.file("summary.csv")), "epoch,train_loss,lr\n0,2.5,0.1\n1,1.9,0.1\n");
  // A resume drops the rows of the epochs it will redo before training starts.
  EXPECT_EQ(r.drop_summary_rows_from(1), 1);
  EXPECT_EQ(r.drop_summary_rows_from(1), 0);
  EXPECT_EQ(read(r.file("summary.csv")), "epoch,train_loss,lr\n0,2.5,0.1\n");
  // A resume with the EMA switched on: the header becomes the union, older rows get empty cells.
  r.write_summary_row({"epoch", "train_loss", "lr", "ema_eval_loss"}, {"1", "1.8", "0.1", "1.7"}, 1);
  EXPECT_EQ(read(r.file("summary.csv")), "epoch,train_loss,lr,ema_eval_loss\n0,2.5,0.1,\n1,1.8,0.1,1.7\n");
  auto [header, rows] = read_summary(r.file("summary.csv"));  // nat plot reads it back
  ASSERT_EQ(header.size(), 4u);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(std::isnan(rows[0][3]));
  EXPECT_EQ(rows[1][3], 1.7);
}

TEST_F(RunDirTest, StaleTemporariesAreRemoved) {
  RunDir r((root_ / "run").string());
  std::ofstream(r.file("last.safetensors.tmp")) << "partial";
  std::ofstream(r.file("summary.csv.tmp")) << "partial";
  std::ofstream(r.file("last.safetensors")) << "complete";
  std::ofstream(r.file("notes.tmp")) << "the user's own";  // a run directory may be any folder: kept
  EXPECT_EQ(r.remove_stale_temporaries(), (std::vector<std::string>{"last.safetensors.tmp", "summary.csv.tmp"}));
  EXPECT_TRUE(fs::exists(r.file("last.safetensors")));
  EXPECT_TRUE(fs::exists(r.file(".lock")));
  EXPECT_TRUE(fs::exists(r.file("notes.tmp")));
  EXPECT_TRUE(r.remove_stale_temporaries().empty());
}

TEST_F(RunDirTest, WriteErrorsCarryErrno) {
  RunDir r((root_ / "run").string());
  r.log("fine");
  // train.log on a device that is always full: the first line fails, with the system's reason.
  fs::create_directories(root_ / "full");
  fs::create_symlink("/dev/full", root_ / "full" / "train.log");
  RunDir f((root_ / "full").string());
  NAT_EXPECT_ERROR(f.log("a line"), "[run] cannot write", "train.log", "No space left on device");
  // summary.csv in a directory that vanished: the atomic write names the file and the reason.
  RunDir gone((root_ / "gone").string());
  fs::remove_all(root_ / "gone");
  NAT_EXPECT_ERROR(gone.write_summary_row({"epoch"}, {"0"}, 0), "summary.csv", "No such file or directory");
}

TEST_F(RunDirTest, FreeSpaceCheckNamesPathFreeAndNeeded) {
  const std::string d = root_.string();
  EXPECT_GT(free_bytes(d), 0);
  // More than any disk holds (1 EiB): the real statvfs figure is too small.
  NAT_EXPECT_ERROR(check_free_space(d, int64_t{1} << 60, "one checkpoint"), "[run] ", d.c_str(), ") free, but",
                   "one checkpoint needs about 1152921504606846976 bytes (1.0 EiB)", "--output");
  NAT_EXPECT_ERROR(check_free_space(d, 5000, "one checkpoint", 4096), "has 4096 bytes (4.0 KiB) free",
                   "5000 bytes (4.9 KiB)");
  check_free_space(d, 4096, "one checkpoint", 4096);  // enough
}

}  // namespace
}  // namespace nat::train
