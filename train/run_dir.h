// The run directory, as timm's: <output>/<experiment>/ holding args.yaml, summary.csv (one row per epoch:
// epoch, train_loss, eval_loss, eval_top1, eval_top5, lr; EMA columns follow when model_ema is on),
// train.log (the log lines), last.safetensors, best.safetensors and the checkpoint-<epoch>.safetensors
// files of the best `checkpoint_hist` epochs. Every file is replaced atomically; checkpoint-<epoch> and
// best are hard links to last when the file system allows (copies otherwise), as timm does.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace nat::train {

class RunDir {
 public:
  explicit RunDir(const std::string& path);  // created when missing
  ~RunDir();
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  void write_text(const std::string& name, const std::string& text) const;  // atomic
  // Appends a row to summary.csv, writing `columns` as the header when the file is new.
  void append_summary(const std::vector<std::string>& columns, const std::vector<std::string>& values) const;
  // Appends a line to train.log (flushed).
  void log(const std::string& line);
  // `to` becomes a hard link to (or, failing that, a copy of) `from`, atomically.
  void link(const std::string& from, const std::string& to) const;
  void remove(const std::string& name) const;

 private:
  std::string path_;
  std::FILE* log_ = nullptr;
};

// The name of a run directory: <output or output/train>/<experiment or YYYYmmdd-HHMMSS-model-img_size>.
std::string run_dir_path(const std::string& output, const std::string& experiment, const std::string& model,
                         int64_t img_size);

// Reads summary.csv back: the header and the rows (for `nat plot`).
std::pair<std::vector<std::string>, std::vector<std::vector<double>>> read_summary(const std::string& csv_path);

}  // namespace nat::train
