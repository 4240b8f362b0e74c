// `nat bench <what>`: speed measurements, each compared in the same run with its PyTorch peers where a
// PyTorch formulation exists (eager, torch.compile, NATTEN; the interpreter is bench_python()). Results are
// medians of timed repetitions after a warm-up. Record results in docs/benchmarks.md (machine, date,
// command, versions, ratio).
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/args.h"
#include "app/bench_util.h"
#include "app/commands.h"
#include "core/backend.h"
#include "core/error.h"
#include "core/rng.h"
#include "ops/na.h"
#include "ops/ops.h"

namespace nat::app {

namespace {

const char* kHelp =
    "usage: nat bench na [--batch B] [--reps N] [--stages 0,1,2,3] [--device cpu|cuda] [--no-torch] [--no-compile]\n"
    "                    [--cpu-time]\n\n"
    "  --stages      which NAT-Tiny stages to time (default all four)\n"
    "  --cpu-time    time with process CPU time (both sides) instead of wall time: for a machine that is\n"
    "                busy with other work; run with OMP_NUM_THREADS=1 for a per-core comparison\n"
    "  --no-compile  skip the torch.compile peer (also NAT_BENCH_COMPILE=0); NAT_BENCH_COMPILE_TIMEOUT\n"
    "                (seconds, default 1800) stops a compile that takes longer\n\n"
    "  na     Neighborhood Attention (na2d: scale, QK+rpb, softmax, AV) at the four NAT-Tiny stage shapes,\n"
    "         k = 7, head_dim 32: forward and forward+backward times, GB/s against the bytes that must\n"
    "         move (q, k, v, rpb in; out written; backward also reads dout and writes dq, dk, dv, drpb),\n"
    "         then, in the same run, the PyTorch peers (bench/torch_na.py): a pure-PyTorch NA (neighbourhood\n"
    "         gather + einsum) eager and under torch.compile, and NATTEN's na2d on the CPU (no rpb).\n"
    "  loader the data pipeline, vs timm's create_transform (nat bench loader --help)\n"
    "  model  a whole NAT: forward and training-step images/s, vs PyTorch (nat bench model --help)\n"
    "  train  the whole train loop (loader + step) for nat_mini at 224 (nat bench train --help)\n"
    "  allreduce  the communicator's all-reduce bus bandwidth, under mpirun (nat bench allreduce --help)\n\n"
    "The PyTorch peers run under $NAT_BENCH_PYTHON, default .bench-venv/bin/python (scripts/deps.sh --bench:\n"
    "PyPI's current torch, timm, natten), else /usr/bin/python3 (Debian's PyTorch 1.13); the versions are shown.\n";

int bench_na(const Args& args) {
  int64_t B = args.get_int("batch", 8, 1, 4096);
  int reps = static_cast<int>(args.get_int("reps", 5, 1, 1000));
  Device dev = parse_device(args.get("device", "cpu"));
  const int64_t heads[4] = {2, 4, 8, 16}, L[4] = {56, 28, 14, 7}, C = 32, K = 7;
  int threads = omp_get_max_threads();
  bool want[4] = {false, false, false, false};
  const std::string stages = args.get("stages", "0,1,2,3");
  for (size_t i = 0; i < stages.size(); ++i) {
    const char c = stages[i];
    NAT_CHECK((c >= '0' && c <= '3' && (i + 1 == stages.size() || stages[i + 1] == ',')) || (c == ',' && i > 0),
              "--stages '", stages, "': expected stage numbers 0-3 separated by commas, e.g. 0,2");
    if (c != ',') want[c - '0'] = true;
  }
  std::printf("nat bench na: batch %lld, k %lld, head_dim %lld, %s, %d thread(s), %s time\n", static_cast<long long>(B),
              static_cast<long long>(K), static_cast<long long>(C), dev.str().c_str(), threads,
              bench_cpu_time() ? "CPU" : "wall");
  std::printf("%-5s %-19s %10s %8s | %10s %8s\n", "stage", "q/k/v shape", "fwd ms", "GB/s", "f+b ms", "GB/s");
  double fwd[4] = {0, 0, 0, 0}, fb[4] = {0, 0, 0, 0};
  for (int s = 0; s < 4; ++s) {
    if (!want[s]) continue;
    Shape ts{B, heads[s], L[s], L[s], C};
    Generator g(s);
    Tensor q = randn(ts, DType::f32, dev, &g), k = randn(ts, DType::f32, dev, &g), v = randn(ts, DType::f32, dev, &g);
    Tensor rpb = randn({heads[s], 2 * K - 1, 2 * K - 1}, DType::f32, dev, &g);
    Tensor dout = randn(ts, DType::f32, dev, &g);
    fwd[s] = median_ms(
        [&] {
          NoGradGuard ng;
          ops::na2d(q, k, v, rpb, K);
        },
        1, reps, dev);
    for (Tensor* t : {&q, &k, &v, &rpb}) set_requires_grad(*t);
    fb[s] = median_ms(
        [&] {
          for (Tensor* t : {&q, &k, &v, &rpb}) zero_grad(*t);
          backward(ops::na2d(q, k, v, rpb, K), dout);
        },
        1, reps, dev);
    double tok = static_cast<double>(q.nbytes()), rb = static_cast<double>(rpb.nbytes());
    double fwd_bytes = 4 * tok + rb, fb_bytes = fwd_bytes + 4 * tok + 2 * rb + tok;  // + dout, dq, dk, dv, drpb
    std::printf("%-5d %-19s %10.2f %8.2f | %10.2f %8.2f\n", s, shape_str(ts).c_str(), fwd[s], fwd_bytes / fwd[s] / 1e6,
                fb[s], fb_bytes / fb[s] / 1e6);
    std::fflush(stdout);
  }
  if (args.flag("no-torch") || !dev.is_cpu()) return 0;

  // The peers run after nat.cpp, each in its own process (a crash or a time limit in one loses only its rows).
  const std::string common = "--batch " + std::to_string(B) + " --threads " + std::to_string(threads) + " --reps " +
                             std::to_string(reps) + " --stages " + stages + (bench_cpu_time() ? " --cpu-time" : "");
  struct Peer {
    const char* flag;
    PeerRun run;
  };
  std::vector<Peer> peers;
  std::printf("\nPyTorch peers through %s: eager%s, NATTEN ...\n", bench_python().c_str(),
              bench_compile() ? (", torch.compile (limit " + std::to_string(bench_compile_timeout_s()) + " s)").c_str()
                              : " (torch.compile skipped: --no-compile or NAT_BENCH_COMPILE=0)");
  std::fflush(stdout);
  peers.push_back({"eager", run_peer("torch_na.py", common + " --peer eager")});
  if (bench_compile())
    peers.push_back({"compile", run_peer("torch_na.py", common + " --peer compile", bench_compile_timeout_s())});
  peers.push_back({"natten", run_peer("torch_na.py", common + " --peer natten")});

  std::string versions;
  for (const Peer& p : peers)
    if (!p.run.rows.empty() && versions.empty()) versions = peer_versions(p.run.rows.front());
  if (!versions.empty()) std::printf("peers ran with: %s\n", versions.c_str());
  // A peer's notes (what it cannot do, and why) repeat across stages: the table cites them by number.
  std::vector<std::string> notes;
  auto cite = [&](const nlohmann::json& row) {
    std::string refs;
    for (const char* key : {"note", "note_bwd", "note_compile"}) {
      if (!row.contains(key) || !row[key].is_string()) continue;
      auto it = std::find(notes.begin(), notes.end(), row[key].get<std::string>());
      if (it == notes.end()) it = notes.insert(notes.end(), row[key].get<std::string>());
      refs += (refs.empty() ? "[" : ",") + std::to_string(it - notes.begin() + 1);
    }
    return refs.empty() ? refs : refs + "]";
  };
  std::printf("%-5s %-32s %10s %9s %10s %9s %12s  %s\n", "stage", "peer", "fwd ms", "speed-up", "f+b ms", "speed-up",
              "compile s", "notes");
  for (const Peer& p : peers) {
    auto rows = merge_peer_rows(p.run, "stage");
    if (rows.empty()) {
      std::printf("%-5s %-32s %s\n", "-", p.flag, peer_missing(p.run).c_str());
      continue;
    }
    for (const auto& [s, row] : rows) {
      if (s < 0 || s > 3 || !want[s]) continue;
      char f[32] = "-", fr[32] = "-", b[32] = "-", br[32] = "-", c[48] = "-";
      if (double ms = peer_value(row, "fwd_ms"); ms > 0) {
        std::snprintf(f, sizeof f, "%.2f", ms);
        std::snprintf(fr, sizeof fr, "%.1fx", ms / fwd[s]);
      }
      if (double ms = peer_value(row, "fwdbwd_ms"); ms > 0) {
        std::snprintf(b, sizeof b, "%.2f", ms);
        std::snprintf(br, sizeof br, "%.1fx", ms / fb[s]);
      }
      if (row.contains("fwd_compile_s"))
        std::snprintf(c, sizeof c, "%.0f+%.0f", peer_value(row, "fwd_compile_s"), peer_value(row, "fwdbwd_compile_s"));
      else if (row.contains("setup_s"))
        std::snprintf(c, sizeof c, "(mask %.1f)", peer_value(row, "setup_s"));
      std::printf("%-5d %-32s %10s %9s %10s %9s %12s  %s\n", s, row.value("name", std::string(p.flag)).c_str(), f, fr,
                  b, br, c, cite(row).c_str());
    }
    if (p.run.timed_out || !p.run.error.empty()) std::printf("%-5s %-32s %s\n", "-", p.flag, p.run.error.c_str());
  }
  for (size_t i = 0; i < notes.size(); ++i) std::printf("[%zu] %s\n", i + 1, notes[i].c_str());
  std::printf(
      "speed-up: peer time / nat.cpp time (above 1: nat.cpp is faster); compile s: torch.compile's wall seconds "
      "for the forward + the forward-backward, apart from the step times; mask: NATTEN's first-call Flex block-mask "
      "build, wall seconds\n");
  return 0;
}

}  // namespace

int bench_loader(const std::vector<std::string>& argv);     // app/bench_loader.cpp
int bench_model(const std::vector<std::string>& argv);      // app/bench_model.cpp
int bench_train(const std::vector<std::string>& argv);      // app/bench_train.cpp
int bench_allreduce(const std::vector<std::string>& argv);  // app/bench_allreduce.cpp

int cmd_bench(const std::vector<std::string>& argv) {
  if (!argv.empty() && argv[0] == "loader") return bench_loader({argv.begin() + 1, argv.end()});
  if (!argv.empty() && argv[0] == "model") return bench_model({argv.begin() + 1, argv.end()});
  if (!argv.empty() && argv[0] == "train") return bench_train({argv.begin() + 1, argv.end()});
  if (!argv.empty() && argv[0] == "allreduce") return bench_allreduce({argv.begin() + 1, argv.end()});
  Args args("bench", argv, {"batch", "reps", "device", "stages"}, {"no-torch", "no-compile", "cpu-time"});
  set_bench_cpu_time(args.flag("cpu-time"));
  set_bench_compile(!args.flag("no-compile"));
  if (args.help() || args.positional().empty()) {
    std::printf("%s", kHelp);
    return args.help() ? 0 : 1;
  }
  const std::string& what = args.positional()[0];
  if (what == "na") return bench_na(args);
  NAT_THROW("unknown benchmark '", what, "' (available: na, loader, model, train, allreduce)");
}

}  // namespace nat::app
