// `nat bench allreduce`: all-reduce bandwidth of this launch's communicator, nccl-tests style — for each
// message size the time of one all-reduce (mean of `iters` back-to-back, the slowest rank's), the
// algorithm bandwidth S/t and the bus bandwidth algbw x 2(n-1)/n, which is comparable across rank counts
// and reflects the hardware bottleneck (NVLink, PCIe, network; shared memory for MPI on one node).
// Launch it like training: `mpirun -np 2 nat bench allreduce` (CPU, MPI) or one process per GPU with
// --device cuda (NCCL). On the CPU, rank 0 then runs PyTorch's gloo all_reduce over the same sizes and world
// size (bench/torch_allreduce.py) for a ratio in the same run.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "app/args.h"
#include "app/bench_util.h"
#include "core/backend.h"
#include "core/error.h"
#include "train/comm.h"
#include "train/launch.h"

namespace nat::app {

namespace {

const char* kAllreduceHelp =
    "usage: mpirun -np N nat bench allreduce [--min-bytes B] [--max-bytes B] [--iters N] [--device cpu|cuda]\n"
    "                                        [--backend auto|mpi|nccl] [--no-torch]\n\n"
    "All-reduce (sum, float32) of --min-bytes (default 8) to --max-bytes (default 64 MiB), x4 per row,\n"
    "--iters (default 20) per size after 3 warm-ups. Prints time, algbw = bytes/time and busbw = algbw x\n"
    "2(n-1)/n (nccl-tests' definitions) and checks every result. With one process there is nothing to\n"
    "measure (busbw 0). --device cuda uses NCCL: one process per GPU (mpirun, srun or torchrun variables).\n";

int64_t parse_bytes(const std::string& s) {
  size_t pos = 0;
  double v = std::stod(s, &pos);
  std::string unit = s.substr(pos);
  double mul = unit.empty() || unit == "B"    ? 1
               : unit == "K" || unit == "KiB" ? 1024.0
               : unit == "M" || unit == "MiB" ? 1048576.0
               : unit == "G" || unit == "GiB" ? 1073741824.0
                                              : -1;
  NAT_CHECK(mul > 0 && v > 0 && v * mul <= 64.0 * 1073741824.0, "[bench allreduce] size '", s,
            "': expected a number with an optional K, M or G, at most 64 GiB");
  return static_cast<int64_t>(v * mul);
}

std::string human(int64_t bytes) {
  char b[32];
  if (bytes >= (1 << 20))
    std::snprintf(b, sizeof b, "%.0f MiB", bytes / 1048576.0);
  else if (bytes >= 1024)
    std::snprintf(b, sizeof b, "%.0f KiB", bytes / 1024.0);
  else
    std::snprintf(b, sizeof b, "%lld B", static_cast<long long>(bytes));
  return b;
}

}  // namespace

int bench_allreduce(const std::vector<std::string>& argv) {
  Args args("bench allreduce", argv, {"min-bytes", "max-bytes", "iters", "device", "backend"}, {"no-torch"});
  if (args.help()) {
    std::printf("%s", kAllreduceHelp);
    return 0;
  }
  const int64_t lo = parse_bytes(args.get("min-bytes", "8")), hi = parse_bytes(args.get("max-bytes", "64M"));
  const int iters = static_cast<int>(args.get_int("iters", 20, 1, 100000));
  NAT_CHECK(lo >= 4 && hi >= lo && iters >= 1, "[bench allreduce] need 4 <= min-bytes <= max-bytes and iters >= 1");
  const train::LaunchInfo launch = train::detect_launch();
  Device dev = parse_device(args.get("device", "cpu"));
  if (dev.is_cuda()) dev = Device::cuda(launch.local_rank % std::max(1, cuda_device_count()));
  train::CommOptions co;
  co.backend = args.get("backend", "auto");
  auto comm = train::make_communicator(launch, dev, co);
  const int n = comm->world_size(), rank = comm->rank();
  const double bus_factor = 2.0 * (n - 1) / n;
  if (rank == 0)
    std::printf(
        "nat bench allreduce: %d rank(s), %s backend on %s, float32 sum, %d iterations per size\n%12s %12s "
        "%11s %12s %12s %6s\n",
        n, comm->backend().c_str(), dev.str().c_str(), iters, "size", "count", "time (us)", "algbw (GB/s)",
        "busbw (GB/s)", "check");
  std::vector<int64_t> sizes;
  for (int64_t s = lo; s <= hi; s *= 4) sizes.push_back(s);
  std::vector<double> busbw;
  for (int64_t bytes : sizes) {
    const int64_t count = bytes / 4;
    Tensor t = Tensor::full({count}, rank + 1.0, DType::f32, dev);
    for (int w = 0; w < 3; ++w) comm->all_reduce(t, train::ReduceOp::sum, "warm-up all_reduce");
    // Check: after 3 sums of (r + 1) over r, every element is n(n+1)/2 * n^2.
    const double want = n * (n + 1) / 2.0 * n * n;
    const float got = static_cast<float>(t.slice(0, count - 1, count).cpu().item());
    const bool ok = std::abs(got - want) <= 1e-6 * want;
    comm->barrier("barrier before timing");
    if (dev.is_cuda()) backend(dev).synchronize(dev.index);
    const double t0 = bench_now_ms();
    std::vector<std::shared_ptr<train::Work>> work;
    for (int i = 0; i < iters; ++i) work.push_back(comm->all_reduce_async(t, train::ReduceOp::sum, "timed all_reduce"));
    for (auto& w : work) w->wait();
    if (dev.is_cuda()) backend(dev).synchronize(dev.index);
    double ms = (bench_now_ms() - t0) / iters;
    ms = comm->all_reduce_values({ms, ok ? 0.0 : 1.0}, train::ReduceOp::max, "slowest rank")[0];
    const double alg = static_cast<double>(bytes) / (ms * 1e6);
    busbw.push_back(alg * bus_factor);
    if (rank == 0)
      std::printf("%12s %12lld %11.1f %12.3f %12.3f %6s\n", human(bytes).c_str(), static_cast<long long>(count),
                  ms * 1e3, alg, alg * bus_factor, ok ? "ok" : "WRONG");
  }
  if (rank == 0) {
    std::printf("peak busbw %.3f GB/s\n", *std::max_element(busbw.begin(), busbw.end()));
    if (dev.is_cpu() && n > 1 && !args.flag("no-torch")) {
      std::string sz;
      for (int64_t s : sizes) {
        if (!sz.empty()) sz += ',';
        sz += std::to_string(s);
      }
      const PeerRun peer = run_peer("torch_allreduce.py", "--world " + std::to_string(n) + " --sizes " + sz +
                                                              " --iters " + std::to_string(iters));
      const std::vector<nlohmann::json>& torch = peer.rows;
      if (torch.empty()) {
        std::printf("%s\n", peer_missing(peer).c_str());
      } else {
        std::printf(
            "\nPyTorch (%s), gloo all_reduce, %d processes on this node (bench/torch_allreduce.py):\n%12s %11s "
            "%12s %18s\n",
            peer_versions(torch[0]).c_str(), n, "size", "time (us)", "busbw (GB/s)", "ratio (torch/nat)");
        for (size_t i = 0; i < torch.size() && i < sizes.size(); ++i) {
          const double tms = torch[i]["ms"].get<double>(),
                       tb = static_cast<double>(sizes[i]) / (tms * 1e6) * bus_factor;
          std::printf("%12s %11.1f %12.3f %17.2fx\n", human(sizes[i]).c_str(), tms * 1e3, tb, busbw[i] / tb);
        }
        std::printf("ratio above 1: nat.cpp's all-reduce is faster\n");
      }
    }
  }
  comm->barrier("final barrier");
  return 0;
}

}  // namespace nat::app
