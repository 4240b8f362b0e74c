// Progress bar and log-line formatting.
#include "train/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace nat::train {

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) seconds = 0;
  auto s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return buf;
}

ProgressMode progress_mode(const std::string& key) {
  if (key == "bar") return ProgressMode::bar;
  if (key == "lines") return ProgressMode::lines;
  if (key == "none") return ProgressMode::none;
  return isatty(fileno(stdout)) ? ProgressMode::bar : ProgressMode::lines;
}

std::string timm_train_line(const StepStats& s) {
  char buf[512];
  double pct = s.updates ? 100.0 * static_cast<double>(s.update) / static_cast<double>(s.updates) : 0;
  double ips = s.step_s > 0 ? static_cast<double>(s.images) / s.step_s : 0;
  double ips_avg = s.step_s_avg > 0 ? static_cast<double>(s.images) / s.step_s_avg : 0;
  std::snprintf(buf, sizeof buf,
                "Train: %lld [%4lld/%lld (%3.0f%%)]  Loss: %#.3g (%#.3g)  Time: %.3fs, %7.2f/s  (%.3fs, %7.2f/s)  "
                "LR: %.3e  Data: %.3f (%.3f)  ETA: %s",
                static_cast<long long>(s.epoch), static_cast<long long>(s.update), static_cast<long long>(s.updates),
                pct, s.loss, s.loss_avg, s.step_s, ips, s.step_s_avg, ips_avg, s.lr, s.data_s, s.data_s_avg,
                format_duration(s.eta_s).c_str());
  return buf;
}

void ProgressBar::update(const StepStats& s, double elapsed_s) {
  if (mode_ != ProgressMode::bar) return;
  const int width = 24;
  double frac = s.updates ? static_cast<double>(s.update) / static_cast<double>(s.updates) : 0;
  int filled = static_cast<int>(frac * width + 0.5);
  std::string bar(static_cast<size_t>(filled), '#');
  bar += std::string(static_cast<size_t>(width - filled), '-');
  double its = s.step_s_avg > 0 ? 1.0 / s.step_s_avg : 0;
  double epoch_left = static_cast<double>(s.updates - s.update) * s.step_s_avg;
  std::printf("\rEpoch %lld/%lld |%s| %3.0f%% %lld/%lld [%s<%s, %.1f it/s, %.0f img/s, loss=%.4f, lr=%.2e, ETA %s]  ",
              static_cast<long long>(s.epoch + 1), static_cast<long long>(s.total_epochs), bar.c_str(), 100 * frac,
              static_cast<long long>(s.update), static_cast<long long>(s.updates), format_duration(elapsed_s).c_str(),
              format_duration(epoch_left).c_str(), its, its * static_cast<double>(s.images), s.loss_avg, s.lr,
              format_duration(s.eta_s).c_str());
  std::fflush(stdout);
  open_ = true;
}

void ProgressBar::finish() {
  if (!open_) return;
  std::printf("\n");
  std::fflush(stdout);
  open_ = false;
}

}  // namespace nat::train
