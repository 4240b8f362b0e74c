// Benchmark timing and the PyTorch peer runner.
#include "app/bench_util.h"

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/backend.h"

namespace nat::app {

namespace {
bool g_cpu_time = false;
bool g_compile = true;
}  // namespace

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

std::string bench_python() {
  if (const char* p = std::getenv("NAT_BENCH_PYTHON"); p && *p) return p;
  const std::string venv = std::string(NAT_SOURCE_DIR) + "/.bench-venv/bin/python";
  std::error_code ec;
  if (std::filesystem::exists(venv, ec)) return venv;
  return "/usr/bin/python3";
}

void set_bench_compile(bool on) { g_compile = on; }
bool bench_compile() {
  const char* env = std::getenv("NAT_BENCH_COMPILE");
  return g_compile && !(env && std::string(env) == "0");
}

int bench_compile_timeout_s() {
  const char* env = std::getenv("NAT_BENCH_COMPILE_TIMEOUT");
  const int s = env && *env ? std::atoi(env) : 1800;
  return s > 0 ? s : 1800;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

PeerRun run_peer(const std::string& script, const std::string& args, int timeout_s) {
  PeerRun run;
  // stderr goes to a file: PyTorch's warnings must not reach our output, but the last line names a failure.
  char err_path[] = "/tmp/nat-bench-peer.XXXXXX";
  const int fd = mkstemp(err_path);
  if (fd >= 0) close(fd);
  // timeout(1) signals the whole process group, so torch.compile's compile workers stop with the script.
  std::string cmd = (timeout_s > 0 ? "timeout -k 10 " + std::to_string(timeout_s) + " " : std::string()) +
                    shell_quote(bench_python()) + " " + shell_quote(std::string(NAT_SOURCE_DIR) + "/bench/" + script) +
                    " " + args + " 2>" + (fd >= 0 ? shell_quote(err_path) : std::string("/dev/null"));
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    run.error = "cannot start " + bench_python();
    return run;
  }
  std::string line;
  char buf[8192];
  while (std::fgets(buf, sizeof buf, p)) {
    line += buf;
    if (line.empty() || line.back() != '\n') continue;
    try {
      auto j = nlohmann::json::parse(line);
      if (j.is_object()) run.rows.push_back(std::move(j));
    } catch (...) {
    }
    line.clear();
  }
  const int status = pclose(p);
  const int rc = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.timed_out = timeout_s > 0 && (rc == 124 || rc == 137);
  if (run.timed_out) {
    run.error = "stopped after " + std::to_string(timeout_s) + " s (NAT_BENCH_COMPILE_TIMEOUT)";
  } else if (rc != 0) {
    std::string last;
    std::ifstream f(err_path);
    for (std::string l; std::getline(f, l);)
      if (l.find_first_not_of(" \t") != std::string::npos) last = l;
    run.error = (rc == 127 ? "no such interpreter, or it cannot start: " : "exit status " + std::to_string(rc) + ": ") +
                (last.size() > 300 ? last.substr(0, 300) + "..." : last);
  }
  if (fd >= 0) std::remove(err_path);
  return run;
}

std::string peer_versions(const nlohmann::json& row) {
  if (!row.contains("versions") || !row["versions"].is_object()) return "";
  const nlohmann::json& v = row["versions"];
  std::string out;
  for (const char* key : {"python", "torch", "torchvision", "timm", "natten", "Pillow"}) {
    if (!v.contains(key) || !v[key].is_string()) continue;
    if (!out.empty()) out += ", ";
    out += std::string(key) + " " + v[key].get<std::string>();
  }
  return out;
}

std::map<int, nlohmann::json> merge_peer_rows(const PeerRun& run, const char* key) {
  std::map<int, nlohmann::json> out;
  for (const auto& row : run.rows) {
    const int k = row.contains(key) && row[key].is_number_integer() ? row[key].get<int>() : -1;
    out[k].update(row);
  }
  return out;
}

std::string peer_notes(const nlohmann::json& row) {
  std::string out;
  for (const char* key : {"note", "note_bwd", "note_compile"})
    if (row.contains(key) && row[key].is_string()) out += (out.empty() ? "" : "; ") + row[key].get<std::string>();
  return out;
}

double peer_value(const nlohmann::json& row, const char* key) {
  return row.contains(key) && row[key].is_number() ? row[key].get<double>() : 0.0;
}

std::string peer_missing(const PeerRun& run) {
  return "no PyTorch peer result from " + bench_python() + (run.error.empty() ? "" : " (" + run.error + ")") +
         "; scripts/deps.sh --bench makes .bench-venv, NAT_BENCH_PYTHON picks another interpreter";
}

}  // namespace nat::app
