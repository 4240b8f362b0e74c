// Benchmark timing and the PyTorch baseline runner.
#include "app/bench_util.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "core/backend.h"

namespace nat::app {

namespace {
bool g_cpu_time = false;
}

void set_bench_cpu_time(bool on) { g_cpu_time = on; }
bool bench_cpu_time() { return g_cpu_time; }

double bench_now_ms() {
  if (!g_cpu_time)
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

double median_ms(const std::function<void()>& fn, int warmup, int reps, Device dev) {
  for (int i = 0; i < warmup; ++i) fn();
  backend(dev).synchronize(dev.index);
  std::vector<double> ts;
  for (int i = 0; i < reps; ++i) {
    double t0 = bench_now_ms();
    fn();
    backend(dev).synchronize(dev.index);
    ts.push_back(bench_now_ms() - t0);
  }
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

std::vector<nlohmann::json> run_torch_script(const std::string& script, const std::string& args) {
  std::string cmd = "/usr/bin/python3 " + std::string(NAT_SOURCE_DIR) + "/bench/" + script + " " + args + " 2>/dev/null";
  std::vector<nlohmann::json> out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char line[8192];
  while (std::fgets(line, sizeof line, p)) {
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (...) {
    }
  }
  pclose(p);
  return out;
}

}  // namespace nat::app
