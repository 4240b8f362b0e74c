// `nat bench model`: whole-model throughput, forward (eval, no grad) and one training step (train mode:
// forward + cross-entropy + backward + AdamW), in images/s, with the same model built in PyTorch
// (bench/torch_model.py: pure-PyTorch NA, torch.optim.AdamW) timed in the same run, eager and under
// torch.compile (its compile time reported apart).
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <tuple>

#include "app/args.h"
#include "app/bench_util.h"
#include "core/backend.h"
#include "nn/nat.h"
#include "ops/ops.h"

namespace nat::app {

namespace {

const char* kHelp =
    "usage: nat bench model [--model nat_mini] [--batch 8] [--img-size 224] [--reps 5] [--device cpu|cuda]\n"
    "                       [--no-torch] [--no-compile] [--cpu-time]\n\n"
    "Forward (eval mode, no autograd) and training-step (train mode: forward, mean cross-entropy, backward,\n"
    "AdamW update, gradients dropped) images/s for one NAT, median of --reps timed runs after one warm-up,\n"
    "and the same model in PyTorch (pure-PyTorch neighbourhood attention, torch.optim.AdamW) in the same run,\n"
    "eager and with the model under torch.compile (AdamW eager), the compile time shown apart.\n"
    "  --cpu-time    time with process CPU time (both sides) instead of wall time, for a busy machine; pair it\n"
    "                with OMP_NUM_THREADS=1 for a per-core comparison.\n"
    "  --no-compile  skip torch.compile (also NAT_BENCH_COMPILE=0): compiling a NAT training step can take tens\n"
    "                of minutes on a small machine; NAT_BENCH_COMPILE_TIMEOUT (seconds, default 1800) stops it.\n"
    "The peers run under $NAT_BENCH_PYTHON, default .bench-venv/bin/python (scripts/deps.sh --bench), else\n"
    "/usr/bin/python3; the versions are shown.\n";

// A minimal AdamW (PyTorch's update: decoupled weight decay, bias-corrected moments), local to this
// benchmark so the training step is complete before train/ has an optimizer. Composed from ops without
// autograd; weight decay applies to every parameter (the PyTorch side does the same).
class BenchAdamW {
 public:
  BenchAdamW(std::vector<Tensor> params, double lr = 1e-3, double weight_decay = 0.05)
      : params_(std::move(params)), m_(params_.size()), v_(params_.size()), lr_(lr), wd_(weight_decay) {}
  void step() {
    NoGradGuard no_grad;
    ++t_;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const double bc1 = 1 - std::pow(b1, t_), bc2 = 1 - std::pow(b2, t_);
    for (size_t i = 0; i < params_.size(); ++i) {
      Tensor g = grad(params_[i]);
      if (!g.defined()) continue;
      Tensor& p = params_[i];
      m_[i] = m_[i].defined() ? ops::add(ops::mul(m_[i], b1), ops::mul(g, 1 - b1)) : ops::mul(g, 1 - b1);
      Tensor g2 = ops::mul(g, g);
      v_[i] = v_[i].defined() ? ops::add(ops::mul(v_[i], b2), ops::mul(g2, 1 - b2)) : ops::mul(g2, 1 - b2);
      // step * m / (sqrt(v / bc2) + eps) with step = lr / bc1, as m / (sqrt(v) / (sqrt(bc2) step) + eps / step).
      const double step = lr_ / bc1;
      Tensor denom = ops::affine(ops::sqrt(v_[i]), 1 / (std::sqrt(bc2) * step), eps / step);
      p.copy_(ops::sub(ops::mul(p, 1 - lr_ * wd_), ops::div(m_[i], denom)));
    }
  }

 private:
  std::vector<Tensor> params_, m_, v_;
  double lr_, wd_;
  int64_t t_ = 0;
};

}  // namespace

int bench_model(const std::vector<std::string>& argv) {
  Args args("bench model", argv, {"model", "batch", "img-size", "reps", "device"},
            {"no-torch", "no-compile", "cpu-time"});
  if (args.help()) {
    std::printf("%s", kHelp);
    return 0;
  }
  set_bench_cpu_time(args.flag("cpu-time"));
  set_bench_compile(!args.flag("no-compile"));
  nn::NatConfig config = nn::parse_nat_spec(args.get("model", "nat_mini"));
  int64_t B = args.get_int("batch", 8, 1, 4096), img = args.get_int("img-size", 224, 8, 4096);
  int reps = static_cast<int>(args.get_int("reps", 5, 1, 1000));
  NAT_CHECK(B >= 1 && img >= 1 && reps >= 1, "--batch, --img-size and --reps must be >= 1");
  Device dev = parse_device(args.get("device", "cpu"));
  int threads = omp_get_max_threads();

  Generator gen(0);
  auto model = nn::create_nat(config, gen);
  model->to(dev);
  Tensor x = randn({B, config.in_chans, img, img}, DType::f32, dev, &gen);
  std::vector<int64_t> labels(static_cast<size_t>(B));
  for (int64_t i = 0; i < B; ++i)
    labels[static_cast<size_t>(i)] = (i * 7919) % std::max<int64_t>(config.num_classes, 1);
  Tensor y = Tensor::from_vector(labels, {B}, dev);

  model->eval();
  double fwd = median_ms(
      [&] {
        NoGradGuard ng;
        model->forward(x);
      },
      /*warmup=*/1, reps, dev);

  model->train();
  BenchAdamW opt(model->parameters());
  double step = median_ms(
      [&] {
        Tensor loss = ops::cross_entropy(model->forward(x), y);
        backward(loss);
        opt.step();
        model->zero_grad();
      },
      /*warmup=*/1, reps, dev);  // warm-up fills allocator caches, OpenBLAS buffers, the moment tensors

  std::printf("nat bench model: %s, batch %lld, %lldx%lld, %s, %d thread(s), %s time, median of %d\n",
              config.name.c_str(), static_cast<long long>(B), static_cast<long long>(img), static_cast<long long>(img),
              dev.str().c_str(), threads, bench_cpu_time() ? "CPU" : "wall", reps);
  std::printf("%-28s %12s %10s\n", "nat.cpp", "ms", "img/s");
  std::printf("%-28s %12.1f %10.2f\n", "forward (eval, no grad)", fwd, 1000.0 * static_cast<double>(B) / fwd);
  std::printf("%-28s %12.1f %10.2f\n", "training step (+bwd+AdamW)", step, 1000.0 * static_cast<double>(B) / step);
  std::fflush(stdout);
  if (args.flag("no-torch") || !dev.is_cpu()) return 0;

  // The peers run after nat.cpp, each in its own process, with the same thread count and clock.
  const std::string common = "--model-json " + shell_quote(config.to_json()) + " --batch " + std::to_string(B) +
                             " --img-size " + std::to_string(img) + " --threads " + std::to_string(threads) +
                             " --reps " + std::to_string(reps) + (bench_cpu_time() ? " --cpu-time" : "");
  std::printf("\nPyTorch peers through %s: eager%s ...\n", bench_python().c_str(),
              bench_compile() ? (", torch.compile (limit " + std::to_string(bench_compile_timeout_s()) + " s)").c_str()
                              : " (torch.compile skipped: --no-compile or NAT_BENCH_COMPILE=0)");
  std::fflush(stdout);
  std::vector<std::pair<std::string, PeerRun>> peers;
  peers.emplace_back("PyTorch eager", run_peer("torch_model.py", common));
  if (bench_compile())
    peers.emplace_back("torch.compile", run_peer("torch_model.py", common + " --compile", bench_compile_timeout_s()));
  for (const auto& [name, run] : peers)
    if (!run.rows.empty()) {
      std::printf("peers ran with: %s\n", peer_versions(run.rows.front()).c_str());
      break;
    }
  std::printf("%-16s %-28s %12s %10s %10s %12s\n", "peer", "", "ms", "img/s", "speed-up", "compile s");
  for (const auto& [name, run] : peers) {
    const nlohmann::json row = merge_peer_rows(run, "stage")[-1];
    if (run.rows.empty()) {
      std::printf("%-16s %s\n", name.c_str(), peer_missing(run).c_str());
      continue;
    }
    for (auto [what, key, nat_ms, ckey] :
         {std::tuple{"forward (eval, no grad)", "fwd_ms", fwd, "fwd_compile_s"},
          std::tuple{"training step (+bwd+AdamW)", "train_ms", step, "train_compile_s"}}) {
      const double ms = peer_value(row, key);
      char c[32] = "-";
      if (row.contains(ckey)) std::snprintf(c, sizeof c, "%.0f", peer_value(row, ckey));
      if (ms > 0)
        std::printf("%-16s %-28s %12.1f %10.2f %9.2fx %12s\n", name.c_str(), what, ms,
                    1000.0 * static_cast<double>(B) / ms, ms / nat_ms, c);
      else
        std::printf("%-16s %-28s %12s %10s %10s %12s  %s\n", name.c_str(), what, "-", "-", "-", c,
                    !peer_notes(row).empty() ? peer_notes(row).c_str() : run.error.c_str());
    }
  }
  std::printf(
      "speed-up: peer time / nat.cpp time (above 1: nat.cpp is faster); compile s: torch.compile's wall seconds, "
      "apart from the step time\n");
  return 0;
}

}  // namespace nat::app
