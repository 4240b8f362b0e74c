// Shared pieces of the `nat bench` commands: the clock (wall, or process CPU time for a busy machine),
// the median of timed repetitions, and running a PyTorch peer script that prints JSON lines.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/device.h"

namespace nat::app {

void set_bench_cpu_time(bool on);  // --cpu-time
bool bench_cpu_time();
double bench_now_ms();
// Median of `reps` timed calls after `warmup` untimed ones, with the device synchronised around each.
double median_ms(const std::function<void()>& fn, int warmup, int reps, Device dev);

// The interpreter of every PyTorch peer: $NAT_BENCH_PYTHON when set, else <source>/.bench-venv/bin/python
// when it exists (scripts/deps.sh --bench: PyPI's current torch, torchvision, timm, natten), else
// /usr/bin/python3 (Debian's PyTorch 1.13).
std::string bench_python();
// Whether the peers also run under torch.compile: on unless --no-compile or NAT_BENCH_COMPILE=0
// (compiling a NAT training step can take many minutes on a small machine).
void set_bench_compile(bool on);
bool bench_compile();
// The wall-clock limit of one torch.compile peer run, in seconds: $NAT_BENCH_COMPILE_TIMEOUT, default 1800.
int bench_compile_timeout_s();
// `s` quoted for /bin/sh.
std::string shell_quote(const std::string& s);

// What a peer script returned: one JSON object per output line, and when it printed none (or was stopped),
// why: the last line it wrote to stderr, or the time limit.
struct PeerRun {
  std::vector<nlohmann::json> rows;
  std::string error;       // empty when the script exited 0
  bool timed_out = false;  // stopped at timeout_s
};
// Runs `bench_python() <source>/bench/<script> <args>`; timeout_s > 0 stops it (and its children) after
// that many seconds, keeping the rows it printed so far.
PeerRun run_peer(const std::string& script, const std::string& args, int timeout_s = 0);
// "python 3.11.2 (/path), torch 2.15.0, torchvision ..., natten ..." from the "versions" object every peer
// prints (bench/peer_info.py); "" when `row` has none.
std::string peer_versions(const nlohmann::json& row);
// The run's rows merged by their integer `key` (e.g. "stage"; -1 for rows without it): a peer prints a
// stage's forward and backward on separate lines so that a time limit keeps what finished.
std::map<int, nlohmann::json> merge_peer_rows(const PeerRun& run, const char* key);
// The row's "note", "note_bwd" and "note_compile" joined with "; " (what the peer could not do, and why).
std::string peer_notes(const nlohmann::json& row);
// A number from the row, or 0 when absent.
double peer_value(const nlohmann::json& row, const char* key);
// One line saying that no peer result came back and how to get one (names the interpreter and the error).
std::string peer_missing(const PeerRun& run);

}  // namespace nat::app
