// `nat bench train`: the whole training loop — loader (decode, NAT's augmentation recipe, mixup/cutmix)
// and optimizer update (forward, loss, backward, clipping, AdamW) — for nat_mini at 224 on synthetic
// ImageNet-like JPEGs, through the same Trainer as `nat train`. Reports images/s and the fraction of the
// loop spent waiting for data. Record results in docs/benchmarks.md.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "app/args.h"
#include "app/bench_util.h"
#include "core/error.h"
#include "data/synthetic.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace fs = std::filesystem;

namespace nat::app {

namespace {

const char* kHelp =
    "usage: nat bench train [--model nat_mini] [--size 224] [--batch 8] [--steps 6] [--warmup 2]\n"
    "                       [--workers N] [--threads N] [--images 128] [--device cpu|cuda] [--dir DIR] [--no-torch]\n"
    "                       [--no-compile]\n\n"
    "  Trains --model at --size on --images synthetic 500x375 JPEGs (10 classes, written to a temporary\n"
    "  folder unless --dir is given) with NAT's full train recipe (RandomResizedCrop, RandAugment\n"
    "  rand-m9-mstd0.5-inc1, random erasing, mixup/cutmix, label smoothing, AdamW, clipping 5.0) through\n"
    "  nat train's loop, and times --steps optimizer updates after --warmup: images/s, seconds per update,\n"
    "  and the share of the time the loop waited for the loader. --workers loader threads (default: half\n"
    "  the cores, at least 1), --threads compute threads (default: OpenMP's). On the CPU the same loop then\n"
    "  runs in PyTorch in the same run (bench/torch_train.py: torchvision ImageFolder + DataLoader with the same\n"
    "  transforms and worker count, mixup/cutmix, the NAT of bench/torch_model.py, AdamW) for a ratio, eager\n"
    "  and with the model under torch.compile (its compile time apart; --no-compile or NAT_BENCH_COMPILE=0 skips\n"
    "  it, NAT_BENCH_COMPILE_TIMEOUT seconds, default 1800, stops it). The peers run under $NAT_BENCH_PYTHON,\n"
    "  default .bench-venv/bin/python (scripts/deps.sh --bench), else /usr/bin/python3.\n";

}  // namespace

int bench_train(const std::vector<std::string>& argv) {
  Args args("bench train", argv,
            {"model", "size", "batch", "steps", "warmup", "workers", "threads", "images", "device", "dir"},
            {"no-torch", "no-compile"});
  if (args.help()) {
    std::printf("%s", kHelp);
    return 0;
  }
  set_bench_compile(!args.flag("no-compile"));
  const int64_t steps = args.get_int("steps", 6, 1, 1000000), warmup = args.get_int("warmup", 2, 0, 1000000);
  const int64_t images = args.get_int("images", 128, 1, 10000000);
  const int64_t cores = std::max<int64_t>(1, std::thread::hardware_concurrency());
  NAT_CHECK(steps >= 1 && warmup >= 0, "--steps must be >= 1 and --warmup >= 0");

  bool temporary = !args.has("dir");
  fs::path dir = temporary ? fs::temp_directory_path() / ("nat-bench-train-" + std::to_string(::getpid()))
                           : fs::path(args.get("dir"));
  if (!fs::exists(dir / "train")) {
    std::printf("writing %lld synthetic 500x375 JPEGs to %s ...\n", static_cast<long long>(images), dir.c_str());
    data::write_synthetic_image_folder((dir / "train").string(), images, 10, 500, 375, /*seed=*/0, 90);
  }

  train::TrainConfig c;
  c.model = args.get("model", "nat_mini");
  c.data.data_dir = dir.string();
  c.data.img_size = args.get_int("size", 224, 8, 4096);
  c.data.batch_size = args.get_int("batch", 8, 1, 4096);
  c.data.workers = args.get_int("workers", std::max<int64_t>(1, cores / 2), 0, 1024);
  c.threads = args.get_int("threads", 0, 0, 1024);
  c.device = args.get("device", "cpu");
  c.disable_eval = true;
  c.epochs = 1000, c.warmup_epochs = 0;
  c.max_steps = warmup + steps;
  c.progress = "none";
  c.output = (dir / "runs").string();
  c.experiment = "bench";
  c.validate();

  std::vector<train::StepInfo> log;
  train::TrainerHooks hooks;
  hooks.quiet = true;
  hooks.on_step = [&](const train::StepInfo& s) {
    log.push_back(s);
    std::printf("  update %lld: %.3f s (data wait %.3f s), loss %.4f\n", static_cast<long long>(s.step), s.step_s,
                s.data_s, s.loss);
    std::fflush(stdout);
  };
  double load = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = 0;
    std::fclose(f);
  }
  train::Trainer trainer(c, hooks);
  const int64_t per_epoch = (images / c.data.batch_size);
  std::printf(
      "nat bench train: %s at %lld, batch %lld, %lld loader workers, %d compute threads, %s, %lld CPU cores "
      "(load average %.1f before the run)\n",
      c.model.c_str(), static_cast<long long>(c.data.img_size), static_cast<long long>(c.data.batch_size),
      static_cast<long long>(c.data.workers), omp_get_max_threads(), c.device.c_str(), static_cast<long long>(cores),
      load);
  NAT_CHECK(per_epoch >= 1, "--images must hold at least one batch");
  trainer.fit();
  double t = 0, wait = 0;
  int64_t n = 0;
  for (size_t i = static_cast<size_t>(warmup); i < log.size(); ++i)
    t += log[i].step_s, wait += log[i].data_s, n += log[i].images;
  NAT_CHECK(n > 0, "no timed updates");
  std::printf(
      "\n%s train loop at %lld: %.2f img/s, %.3f s per update of %lld images, waiting for data %.1f%% of the "
      "time (%lld timed updates after %lld warm-up)\n",
      c.model.c_str(), static_cast<long long>(c.data.img_size), static_cast<double>(n) / t,
      t / static_cast<double>(log.size() - static_cast<size_t>(warmup)), static_cast<long long>(c.data.batch_size),
      100.0 * wait / t, static_cast<long long>(steps), static_cast<long long>(warmup));
  const double img_s = static_cast<double>(n) / t;
  if (c.device == "cpu" && !args.flag("no-torch")) {
    char extra[256];
    std::snprintf(extra, sizeof extra,
                  " --batch %lld --img-size %lld --steps %lld --warmup %lld --workers %lld --threads %d",
                  static_cast<long long>(c.data.batch_size), static_cast<long long>(c.data.img_size),
                  static_cast<long long>(steps), static_cast<long long>(warmup), static_cast<long long>(c.data.workers),
                  omp_get_max_threads());
    const std::string common = "--data " + shell_quote(dir.string()) + " --model-json " +
                               shell_quote(train::nat_config_json(trainer.model().config)) + extra;
    std::vector<std::pair<std::string, PeerRun>> peers;
    peers.emplace_back("PyTorch eager", run_peer("torch_train.py", common));
    if (bench_compile())
      peers.emplace_back("torch.compile", run_peer("torch_train.py", common + " --compile", bench_compile_timeout_s()));
    for (const auto& [name, run] : peers) {
      const nlohmann::json row = run.rows.empty() ? nlohmann::json::object() : run.rows.back();
      const double t_img_s = peer_value(row, "img_s");
      if (t_img_s <= 0) {
        std::printf("%s: %s\n", name.c_str(), run.rows.empty() ? peer_missing(run).c_str() : peer_notes(row).c_str());
        continue;
      }
      std::printf(
          "%s (%s), same loop (bench/torch_train.py): %.2f img/s, %.3f s per update, waiting for data %.1f%%%s\n"
          "ratio nat.cpp / %s: %.2fx (above 1: nat.cpp is faster)\n",
          name.c_str(), peer_versions(row).c_str(), t_img_s, peer_value(row, "step_s"),
          100.0 * peer_value(row, "wait_frac"),
          row.contains("compile_s")
              ? (", compile " + std::to_string(static_cast<int>(peer_value(row, "compile_s"))) + " s apart").c_str()
              : "",
          name.c_str(), img_s / t_img_s);
    }
  }
  if (temporary)
    fs::remove_all(dir);
  else
    fs::remove_all(dir / "runs");
  return 0;
}

}  // namespace nat::app
