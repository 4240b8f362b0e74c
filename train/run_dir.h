// The run directory, as timm's: <output>/<experiment>/ holding args.yaml, summary.csv (one row per epoch:
// epoch, train_loss, eval_loss, eval_top1, eval_top5, lr; EMA columns follow when model_ema is on),
// train.log (the log lines), last.safetensors, best.safetensors and the checkpoint-<epoch>.safetensors
// files of the best `checkpoint_hist` epochs. Every file is replaced atomically; checkpoint-<epoch> and
// best are hard links to last when the file system allows (copies otherwise), as timm does.
//
// One run owns a directory at a time: a new run claims a fresh one with an exclusive mkdir (the next
// free <dir>-1, -2, ... as timm's get_outdir), and every run holds an advisory lock (flock on `.lock`,
// which records the holder's pid) until it ends, so a resume into a directory another live process
// trains in is refused. Write errors name the file and carry strerror(errno).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace nat::train {

class RunDir {
 public:
  // Opens `path` (created when missing) and takes its lock; throws, naming the holder's pid, when another
  // process holds it.
  explicit RunDir(const std::string& path);
  ~RunDir();
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  void write_text(const std::string& name, const std::string& text) const;  // atomic
  // Writes the summary.csv row of `epoch` (`values[0]` is the epoch): an earlier row of the same epoch and
  // the rows of later epochs (left by a run that went further before this one resumed from an earlier
  // checkpoint) are dropped, so no epoch appears twice. The file is rewritten atomically. A header that
  // differs from `columns` (EMA switched on or off) becomes their union; missing cells stay empty.
  void write_summary_row(const std::vector<std::string>& columns, const std::vector<std::string>& values,
                         int64_t epoch) const;
  // Drops the summary.csv rows of epochs >= `epoch` (a resume from that epoch); returns how many.
  int64_t drop_summary_rows_from(int64_t epoch) const;
  // Appends a line to train.log (flushed); throws naming the file and strerror when the write fails.
  void log(const std::string& line);
  // `to` becomes a hard link to (or, failing that, a copy of) `from`, atomically.
  void link(const std::string& from, const std::string& to) const;
  void remove(const std::string& name) const;
  // Deletes the temporaries an interrupted atomic write left behind (kill -9 during a checkpoint write):
  // *.safetensors.tmp, summary.csv.tmp, args.yaml.tmp; no other file. Returns their names. Safe only under
  // the lock, which the constructor took.
  std::vector<std::string> remove_stale_temporaries() const;

 private:
  std::string path_;
  std::FILE* log_ = nullptr;
  int lock_fd_ = -1;
};

// The name of a run directory: <output or output/train>/<experiment or YYYYmmdd-HHMMSS-model-img_size>.
std::string run_dir_path(const std::string& output, const std::string& experiment, const std::string& model,
                         int64_t img_size);

// Creates a new run directory with an exclusive mkdir: `base` when it does not exist yet, else the first
// of base-1, base-2, ... that does not. Two runs started at once never get the same one. Returns it.
std::string claim_new_run_dir(const std::string& base);

// Bytes an unprivileged writer (or root, counting the reserved blocks) can still write on the file system
// holding `path` (statvfs).
int64_t free_bytes(const std::string& path);

// Throws, naming `path`, the free bytes and `needed`, when fewer than `needed` bytes are free there.
// `free_override` >= 0 replaces the measured free space (tests simulate a full disk with it).
void check_free_space(const std::string& path, int64_t needed, const std::string& what, int64_t free_override = -1);

// Reads summary.csv back: the header and the rows (for `nat plot`).
std::pair<std::vector<std::string>, std::vector<std::vector<double>>> read_summary(const std::string& csv_path);

}  // namespace nat::train
