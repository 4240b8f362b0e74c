// `nat bench <what>`: speed measurements, each compared with PyTorch in the same run where a PyTorch
// formulation exists (Debian's python3-torch on the CPU). Results are medians of timed repetitions
// after a warm-up. Record results in docs/benchmarks.md (machine, date, command, ratio).
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
#include "core/rng.h"
#include "ops/na.h"
#include "ops/ops.h"

namespace nat::app {

namespace {

const char* kHelp =
    "usage: nat bench na [--batch B] [--reps N] [--device cpu|cuda] [--no-torch] [--cpu-time]\n\n"
    "  --cpu-time  time with process CPU time (both sides) instead of wall time: for a machine that is\n"
    "              busy with other work; run with OMP_NUM_THREADS=1 for a per-core comparison\n\n"
    "  na     Neighborhood Attention (na2d: scale, QK+rpb, softmax, AV) at the four NAT-Tiny stage shapes,\n"
    "         k = 7, head_dim 32: forward and forward+backward times, GB/s against the bytes that must\n"
    "         move (q, k, v, rpb in; out written; backward also reads dout and writes dq, dk, dv, drpb),\n"
    "         and the same shapes through a pure-PyTorch NA (neighbourhood gather + einsum) in the same run.\n"
    "  loader the data pipeline, vs torchvision + PIL (nat bench loader --help)\n"
    "  model  a whole NAT: forward and training-step images/s, vs PyTorch (nat bench model --help)\n"
    "  train  the whole train loop (loader + step) for nat_mini at 224 (nat bench train --help)\n"
    "  allreduce  the communicator's all-reduce bus bandwidth, under mpirun (nat bench allreduce --help)\n";

int bench_na(const Args& args) {
  int64_t B = args.get_int("batch", 8, 1, 4096);
  int reps = static_cast<int>(args.get_int("reps", 5, 1, 1000));
  Device dev = parse_device(args.get("device", "cpu"));
  const int64_t heads[4] = {2, 4, 8, 16}, L[4] = {56, 28, 14, 7}, C = 32, K = 7;
  int threads = omp_get_max_threads();
  std::vector<nlohmann::json> torch;
  if (!args.flag("no-torch") && dev.is_cpu())
    torch = run_torch_script("torch_na.py", "--batch " + std::to_string(B) + " --threads " + std::to_string(threads) +
                                                " --reps " + std::to_string(reps) +
                                                (bench_cpu_time() ? " --cpu-time" : ""));
  std::printf("nat bench na: batch %lld, k %lld, head_dim %lld, %s, %d thread(s), %s time%s\n",
              static_cast<long long>(B), static_cast<long long>(K), static_cast<long long>(C), dev.str().c_str(),
              threads, bench_cpu_time() ? "CPU" : "wall",
              torch.empty() ? "" : (", vs PyTorch " + torch[0].value("torch", std::string("?"))).c_str());
  std::printf("%-5s %-19s %8s %8s %9s %8s | %10s %10s %9s %8s\n", "stage", "q/k/v shape", "fwd ms", "GB/s", "torch ms",
              "ratio", "f+b ms", "GB/s", "torch ms", "ratio");
  for (int s = 0; s < 4; ++s) {
    Shape ts{B, heads[s], L[s], L[s], C};
    Generator g(s);
    Tensor q = randn(ts, DType::f32, dev, &g), k = randn(ts, DType::f32, dev, &g), v = randn(ts, DType::f32, dev, &g);
    Tensor rpb = randn({heads[s], 2 * K - 1, 2 * K - 1}, DType::f32, dev, &g);
    Tensor dout = randn(ts, DType::f32, dev, &g);
    double fwd = median_ms(
        [&] {
          NoGradGuard ng;
          ops::na2d(q, k, v, rpb, K);
        },
        1, reps, dev);
    for (Tensor* t : {&q, &k, &v, &rpb}) set_requires_grad(*t);
    double fb = median_ms(
        [&] {
          for (Tensor* t : {&q, &k, &v, &rpb}) zero_grad(*t);
          backward(ops::na2d(q, k, v, rpb, K), dout);
        },
        1, reps, dev);
    double tok = static_cast<double>(q.nbytes()), rb = static_cast<double>(rpb.nbytes());
    double fwd_bytes = 4 * tok + rb, fb_bytes = fwd_bytes + 4 * tok + 2 * rb + tok;  // + dout, dq, dk, dv, drpb
    char tf[32] = "-", tfr[32] = "-", tb[32] = "-", tbr[32] = "-";
    for (const auto& j : torch)
      if (j.value("stage", -1) == s) {
        std::snprintf(tf, sizeof tf, "%.2f", j["fwd_ms"].get<double>());
        std::snprintf(tfr, sizeof tfr, "%.1fx", j["fwd_ms"].get<double>() / fwd);
        std::snprintf(tb, sizeof tb, "%.2f", j["fwdbwd_ms"].get<double>());
        std::snprintf(tbr, sizeof tbr, "%.1fx", j["fwdbwd_ms"].get<double>() / fb);
      }
    std::printf("%-5d %-19s %8.2f %8.2f %9s %8s | %10.2f %10.2f %9s %8s\n", s, shape_str(ts).c_str(), fwd,
                fwd_bytes / fwd / 1e6, tf, tfr, fb, fb_bytes / fb / 1e6, tb, tbr);
  }
  if (!torch.empty())
    std::printf("ratio: PyTorch time / nat.cpp time (above 1: nat.cpp is faster)\n");
  else if (dev.is_cpu() && !args.flag("no-torch"))
    std::printf("PyTorch not found (/usr/bin/python3 with python3-torch): no comparison\n");
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
  Args args("bench", argv, {"batch", "reps", "device"}, {"no-torch", "cpu-time"});
  set_bench_cpu_time(args.flag("cpu-time"));
  if (args.help() || args.positional().empty()) {
    std::printf("%s", kHelp);
    return args.help() ? 0 : 1;
  }
  const std::string& what = args.positional()[0];
  if (what == "na") return bench_na(args);
  NAT_THROW("unknown benchmark '", what, "' (available: na, loader, model, train, allreduce)");
}

}  // namespace nat::app
