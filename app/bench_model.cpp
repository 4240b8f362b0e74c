// `nat bench model`: whole-model throughput, forward (eval, no grad) and one training step (train mode:
// forward + cross-entropy + backward + AdamW), in images/s, with the same model built in PyTorch
// (bench/torch_model.py: pure-PyTorch NA, torch.optim.AdamW) timed in the same run.
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "app/args.h"
#include "app/bench_util.h"
#include "core/backend.h"
#include "nn/nat.h"
#include "ops/ops.h"

namespace nat::app {

namespace {

const char* kHelp =
    "usage: nat bench model [--model nat_mini] [--batch 8] [--img-size 224] [--reps 5] [--device cpu|cuda]\n"
    "                       [--no-torch] [--cpu-time]\n\n"
    "Forward (eval mode, no autograd) and training-step (train mode: forward, mean cross-entropy, backward,\n"
    "AdamW update, gradients dropped) images/s for one NAT, median of --reps timed runs after one warm-up,\n"
    "and the same model in PyTorch (pure-PyTorch neighbourhood attention, torch.optim.AdamW) in the same run.\n"
    "  --cpu-time  time with process CPU time (both sides) instead of wall time, for a busy machine; pair it\n"
    "              with OMP_NUM_THREADS=1 for a per-core comparison.\n";

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

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

int bench_model(const std::vector<std::string>& argv) {
  Args args("bench model", argv, {"model", "batch", "img-size", "reps", "device"}, {"no-torch", "cpu-time"});
  if (args.help()) {
    std::printf("%s", kHelp);
    return 0;
  }
  set_bench_cpu_time(args.flag("cpu-time"));
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

  // PyTorch runs after nat.cpp, in a separate process, with the same thread count and clock.
  std::vector<nlohmann::json> torch;
  if (!args.flag("no-torch") && dev.is_cpu()) {
    torch = run_torch_script("torch_model.py", "--model-json " + shell_quote(config.to_json()) + " --batch " +
                                                   std::to_string(B) + " --img-size " + std::to_string(img) +
                                                   " --threads " + std::to_string(threads) + " --reps " +
                                                   std::to_string(reps) + (bench_cpu_time() ? " --cpu-time" : ""));
  }

  std::printf("nat bench model: %s, batch %lld, %lldx%lld, %s, %d thread(s), %s time, median of %d%s\n",
              config.name.c_str(), static_cast<long long>(B), static_cast<long long>(img), static_cast<long long>(img),
              dev.str().c_str(), threads, bench_cpu_time() ? "CPU" : "wall", reps,
              torch.empty() ? "" : (", vs PyTorch " + torch[0].value("torch", std::string("?"))).c_str());
  std::printf("%-28s %12s %10s %14s %10s %12s\n", "", "nat.cpp ms", "img/s", "PyTorch ms", "img/s", "speed-up");
  auto row = [&](const char* name, double ms, const char* key) {
    double tms = torch.empty() ? 0 : torch[0].value(key, 0.0);
    char tcol[32] = "-", timg[32] = "-", ratio[32] = "-";
    if (tms > 0) {
      std::snprintf(tcol, sizeof tcol, "%.1f", tms);
      std::snprintf(timg, sizeof timg, "%.2f", 1000.0 * static_cast<double>(B) / tms);
      std::snprintf(ratio, sizeof ratio, "%.2fx", tms / ms);
    }
    std::printf("%-28s %12.1f %10.2f %14s %10s %12s\n", name, ms, 1000.0 * static_cast<double>(B) / ms, tcol, timg,
                ratio);
  };
  row("forward (eval, no grad)", fwd, "fwd_ms");
  row("training step (+bwd+AdamW)", step, "train_ms");
  if (!torch.empty())
    std::printf("speed-up: PyTorch time / nat.cpp time (higher is better for nat.cpp)\n");
  else if (dev.is_cpu() && !args.flag("no-torch"))
    std::printf("PyTorch not found or failed (/usr/bin/python3 with python3-torch): no comparison\n");
  return 0;
}

}  // namespace nat::app
