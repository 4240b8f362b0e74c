// `nat bench loader`: images/s of the full train pipeline (read, decode, RandomResizedCrop, flip,
// RandAugment, normalise, RandomErasing, batch mixup/cutmix with smoothed targets) on synthetic
// natural-looking JPEGs, with one worker thread (= per core) and with all cores, and the same recipe
// through timm's own create_transform + Mixup (bench/torch_loader.py; hand-written torchvision transforms
// where timm is missing, e.g. Debian's python3-torchvision), one process, one thread, in the same run.
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "app/args.h"
#include "app/bench_util.h"
#include "core/error.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/synthetic.h"

namespace fs = std::filesystem;

namespace nat::app {

namespace {

const char* kLoaderHelp =
    "usage: nat bench loader [--images 256] [--size 224] [--batch 32] [--threads N] [--seconds 6]\n"
    "                        [--dir DIR] [--keep] [--no-torch]\n\n"
    "  Generates --images natural-looking 500x375 JPEGs (quality 90, ~ImageNet file sizes) in 10 classes\n"
    "  under DIR/train (default: a temporary folder, removed afterwards unless --keep; an existing DIR is\n"
    "  reused), then measures the NAT train recipe at --size: nat.cpp's loader with 1 worker thread\n"
    "  (images/s per core) and with --threads (default: all cores), and the same recipe through timm's\n"
    "  create_transform + Mixup (bench/torch_loader.py, one process, torch.set_num_threads(1); torchvision\n"
    "  transforms written to the recipe where timm is missing) under $NAT_BENCH_PYTHON, default\n"
    "  .bench-venv/bin/python (scripts/deps.sh --bench), else /usr/bin/python3.\n"
    "  Each run is timed for --seconds after one warm-up batch. images/s is wall-clock; images/CPU-s uses\n"
    "  the process's CPU time, the fair per-core comparison on a machine that is busy with other work.\n";

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a.empty() ? "?" : a + " " + b + " " + c;
}

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Run {
  double images_per_s = 0;
  double images_per_cpu_s = 0;  // process CPU time: robust to other load on the machine
  int64_t images = 0;
  data::LoaderStats stats;
};

Run run_nat(const std::shared_ptr<const data::ImageFolder>& ds, const data::DataConfig& cfg, int64_t workers,
            double seconds) {
  data::LoaderOptions o = data::train_loader_options(cfg);
  o.workers = workers;
  o.pin_memory = false;
  data::Loader loader(ds, cfg, o);
  int64_t epoch = 0;
  loader.start_epoch(epoch);
  NAT_CHECK(loader.next().has_value(), "[bench loader] no batch");  // warm-up
  data::LoaderStats s0 = loader.stats();
  Run r;
  auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  double elapsed = 0;
  while (elapsed < seconds) {
    std::optional<data::Batch> b = loader.next();
    if (!b) {
      loader.start_epoch(++epoch);
      continue;
    }
    r.images += b->size();
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  r.images_per_s = static_cast<double>(r.images) / elapsed;
  r.images_per_cpu_s = static_cast<double>(r.images) / (cpu_seconds() - c0);
  data::LoaderStats s1 = loader.stats();
  r.stats = s1;
  r.stats.samples = s1.samples - s0.samples;
  r.stats.read_s = s1.read_s - s0.read_s;
  r.stats.decode_s = s1.decode_s - s0.decode_s;
  r.stats.augment_s = s1.augment_s - s0.augment_s;
  r.stats.mix_s = s1.mix_s - s0.mix_s;
  return r;
}

nlohmann::json run_torch_loader(const std::string& dir, int64_t size, int64_t batch, double seconds) {
  PeerRun run =
      run_peer("torch_loader.py", "--dir " + shell_quote(dir) + " --size " + std::to_string(size) + " --batch " +
                                      std::to_string(batch) + " --seconds " + std::to_string(seconds));
  nlohmann::json out = run.rows.empty() ? nlohmann::json::object() : run.rows.back();
  if (!out.contains("images_per_s")) out["error"] = peer_missing(run);
  return out;
}

}  // namespace

int bench_loader(const std::vector<std::string>& argv) {
  Args args("bench loader", argv, {"images", "size", "batch", "threads", "seconds", "dir"}, {"keep", "no-torch"});
  if (args.help()) {
    std::printf("%s", kLoaderHelp);
    return 0;
  }
  const int64_t images = args.get_int("images", 256, 1, 1000000), size = args.get_int("size", 224, 8, 4096),
                batch = args.get_int("batch", 32, 1, 4096);
  const int64_t threads = args.get_int("threads", std::max(1u, std::thread::hardware_concurrency()), 1, 1024);
  const double seconds = static_cast<double>(args.get_int("seconds", 6, 1, 3600));
  NAT_CHECK(images >= batch && batch >= 2 && batch % 2 == 0, "need --images >= --batch and an even --batch >= 2");
  const bool temp = !args.has("dir");
  const std::string dir =
      temp ? (fs::temp_directory_path() / ("nat-bench-loader-" + std::to_string(::getpid()))).string()
           : args.get("dir");
  const std::string train = (fs::path(dir) / "train").string();

  std::error_code ec;
  int64_t have = 0;
  if (fs::is_directory(train, ec))
    for (auto& e : fs::recursive_directory_iterator(train, ec))
      if (e.is_regular_file()) ++have;
  if (have < images) {
    std::printf("generating %lld synthetic 500x375 JPEGs in %s ...\n", static_cast<long long>(images), train.c_str());
    std::fflush(stdout);
    int64_t bytes = data::write_synthetic_image_folder(train, images, 10, 500, 375, /*seed=*/1, /*quality=*/90);
    std::printf("  %.1f kB per file on average\n", static_cast<double>(bytes) / static_cast<double>(images) / 1000.0);
  }

  data::DataConfig cfg;  // the NAT recipe (nat-spec §4.1)
  cfg.data_dir = dir;
  cfg.img_size = size;
  cfg.batch_size = batch;
  cfg.validate();
  data::ImageFolderOptions fo;
  fo.cache_dir = "";
  auto ds = std::make_shared<const data::ImageFolder>(train, fo);

  std::printf(
      "nat bench loader: %lld images, batch %lld, size %lld, recipe: RandomResizedCrop(random interp) + "
      "hflip + %s + RandomErasing(%g, %s) + mixup %g / cutmix %g, smoothing %g\n",
      static_cast<long long>(ds->size()), static_cast<long long>(batch), static_cast<long long>(size), cfg.aa.c_str(),
      cfg.reprob, cfg.remode.c_str(), cfg.mixup, cfg.cutmix, cfg.smoothing);
  std::printf("%s, %u hardware threads; load average before: %s\n", cpu_model().c_str(),
              std::thread::hardware_concurrency(), load_average().c_str());
  std::fflush(stdout);

  std::vector<std::pair<int64_t, Run>> runs;
  for (int64_t w : {int64_t{1}, threads}) {
    if (!runs.empty() && w == runs.back().first) continue;
    runs.emplace_back(w, run_nat(ds, cfg, w, seconds));
  }
  nlohmann::json torch;
  if (!args.flag("no-torch")) torch = run_torch_loader(train, size, batch, seconds);

  std::printf("\n%-34s %8s %10s %14s %16s\n", "pipeline", "threads", "images/s", "images/s/core", "images/CPU-s");
  for (auto& [w, r] : runs)
    std::printf("%-34s %8lld %10.1f %14.1f %16.1f\n", "nat.cpp", static_cast<long long>(w), r.images_per_s,
                r.images_per_s / static_cast<double>(w), r.images_per_cpu_s);
  double torch_rate = 0, torch_cpu_rate = 0;
  if (torch.contains("images_per_s")) {
    torch_rate = torch["images_per_s"].get<double>();
    torch_cpu_rate = torch.value("images_per_cpu_s", 0.0);
    std::string name = torch.value("impl", std::string("torchvision")) == "timm"
                           ? "timm " + torch["versions"].value("timm", std::string("?")) + " create_transform"
                           : "torchvision " + torch.value("torchvision", std::string("?")) + " + PIL " +
                                 torch.value("pil", std::string("?"));
    std::printf("%-34s %8d %10.1f %14.1f %16.1f\n", name.c_str(), 1, torch_rate, torch_rate, torch_cpu_rate);
  } else if (!args.flag("no-torch")) {
    std::printf("%s\n", torch.value("error", std::string("?")).c_str());
  }
  if (torch.contains("versions")) std::printf("peer ran with: %s\n", peer_versions(torch).c_str());
  const Run& one = runs.front().second;
  const double n = static_cast<double>(std::max<int64_t>(one.stats.samples, 1));
  std::printf(
      "\nnat.cpp, 1 thread, CPU time per image: read %.2f ms, decode %.2f ms, augment+normalise %.2f ms, "
      "mixup+erasing %.2f ms\n",
      1e3 * one.stats.read_s / n, 1e3 * one.stats.decode_s / n, 1e3 * one.stats.augment_s / n,
      1e3 * one.stats.mix_s / n);
  if (torch_rate > 0)
    std::printf("per core: nat.cpp / peer = %.2fx by wall time, %.2fx by CPU time (target >= 2x)\n",
                one.images_per_s / torch_rate, torch_cpu_rate > 0 ? one.images_per_cpu_s / torch_cpu_rate : 0.0);
  std::printf("load average after: %s\n", load_average().c_str());
  if (temp && !args.flag("keep"))
    fs::remove_all(dir, ec);
  else
    std::printf("images kept in %s\n", dir.c_str());
  return 0;
}

}  // namespace nat::app
