// bench_ops: op micro-benchmarks at NAT-Tiny shapes (embed 64, mlp_ratio 3, stages at 56/28/14/7 with
// heads 2/4/8/16, k = 7), f32, on the CPU or one CUDA device. Every benchmark is one row of the table built
// by benchmark_table(): a name, the shape it shows, its unit, and a prepare() that allocates inputs and
// returns the call to time with the bytes (GB/s) or FLOPs (GFLOP/s) that one call must move or compute.
// Adding an op family means adding rows there (and the same rows to bench/torch_ops.py).
// Timing: warm-up calls, then the median over --reps repetitions; a repetition runs `inner` calls back to
// back and synchronises the device, with `inner` chosen so a repetition lasts >= 2 ms (GPU launch
// latency would otherwise dominate). Outputs are allocated by the ops on every call, as in real use.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/rng.h"
#include "ops/elementwise_kernels.h"
#include "ops/ops.h"

// Op families written concurrently with this tool: their rows appear once their headers exist.
#if __has_include("ops/linalg.h")
#include "ops/linalg.h"
#define NAT_BENCH_HAVE_LINALG 1
#endif
#if __has_include("ops/norm.h")
#include "ops/norm.h"
#define NAT_BENCH_HAVE_NORM 1
#endif
#if __has_include("ops/softmax.h")
#include "ops/softmax.h"
#define NAT_BENCH_HAVE_SOFTMAX 1
#endif

namespace nat::bench {

namespace {

enum class Unit { gbps, gflops };
const char* unit_str(Unit u) { return u == Unit::gbps ? "GB/s" : "GFLOP/s"; }

struct Prepared {
  std::function<void()> run;  // one call of the op
  double work = 0;            // bytes moved (GB/s) or FLOPs (GFLOP/s) by one call
};

struct Benchmark {
  std::string name;   // op family and variant, e.g. "gelu", "linear"
  std::string shape;  // what the row shows; (name, shape) is the key bench/run_ops.sh joins on
  Unit unit = Unit::gbps;
  std::function<Prepared(Device)> prepare;  // empty for a TODO row
  std::string todo;                         // why the row cannot run yet
};

struct Stage {
  int64_t L, C, heads;  // feature map L x L, channels C
};
constexpr Stage kStages[] = {{56, 64, 2}, {28, 128, 4}, {14, 256, 8}, {7, 512, 16}};
constexpr int64_t kMlpRatio = 3, kNeighbours = 49;  // k = 7: 7 x 7 keys per query
constexpr double kF32 = 4.0;

Tensor input(const Shape& s, Device dev, uint64_t seed) {
  Generator g(seed);
  return randn(s, DType::f32, dev, &g);
}

double nel(const Shape& s) { return static_cast<double>(numel(s)); }

void add(std::vector<Benchmark>& t, std::string name, std::string shape, Unit unit,
         std::function<Prepared(Device)> prepare) {
  t.push_back(Benchmark{std::move(name), std::move(shape), unit, std::move(prepare), ""});
}
[[maybe_unused]] void add_todo(std::vector<Benchmark>& t, std::string name, std::string shape, Unit unit,
                               std::string why) {
  t.push_back(Benchmark{std::move(name), std::move(shape), unit, nullptr, std::move(why)});
}

std::vector<Benchmark> benchmark_table(int64_t B) {
  std::vector<Benchmark> t;
  // GELU (exact erf form) on the MLP hidden activations [B, L*L, 3C]: read x, write y.
  for (const Stage& s : kStages) {
    Shape x{B, s.L * s.L, kMlpRatio * s.C};
    add(t, "gelu", shape_str(x), Unit::gbps, [x](Device d) {
      Tensor in = input(x, d, 1);
      return Prepared{[in] { ops::gelu(in); }, 2 * kF32 * nel(x)};
    });
  }
  // GELU backward, the kernel behind ops::gelu's tape node: read x and dy, write dx (y = gelu(x) is
  // passed, as the op passes it, but the GELU derivative does not read it).
  for (const Stage& s : kStages) {
    Shape x{B, s.L * s.L, kMlpRatio * s.C};
    add(t, "gelu_backward", shape_str(x), Unit::gbps, [x](Device d) {
      Tensor in = input(x, d, 2), y = ops::gelu(in), gy = input(x, d, 3);
      Tensor gx = Tensor::empty(x, DType::f32, d);
      auto run = [in, y, gy, gx, d] {
        NAT_DISPATCH(d, unary_backward, UnaryOp::gelu, 0.0, 0.0, DType::f32, in.numel(), in.data_ptr(), y.data_ptr(),
                     gy.data_ptr(), gx.data_ptr(), d.index);
      };
      return Prepared{run, 3 * kF32 * nel(x)};
    });
  }
  // Sum over the last dim (rows of a [B, L*L, C] token map, and of the MLP hidden map): read x, write rows.
  std::vector<Shape> sum_shapes;
  for (const Stage& s : kStages) sum_shapes.push_back({B, s.L * s.L, s.C});
  sum_shapes.push_back({B, 56 * 56, kMlpRatio * 64});
  for (const Shape& x : sum_shapes)
    add(t, "sum_last", shape_str(x), Unit::gbps, [x](Device d) {
      Tensor in = input(x, d, 4);
      return Prepared{[in] { ops::sum(in, {-1}); }, kF32 * (nel(x) + nel(x) / static_cast<double>(x[2]))};
    });
  // LayerNorm over C on [B, L*L, C]: read x, weight, bias; write y.
  for (const Stage& s : kStages) {
    Shape x{B, s.L * s.L, s.C};
#ifdef NAT_BENCH_HAVE_NORM
    add(t, "layer_norm", shape_str(x), Unit::gbps, [x](Device d) {
      Tensor in = input(x, d, 5), w = input({x[2]}, d, 6), b = input({x[2]}, d, 7);
      return Prepared{[in, w, b] { ops::layer_norm(in, w, b); }, kF32 * (2 * nel(x) + 2 * x[2])};
    });
#else
    add_todo(t, "layer_norm", shape_str(x), Unit::gbps, "TODO: ops/norm.h (layer_norm) not present yet");
#endif
  }
  // Softmax over the 49 neighbours of each query, attention logits [B, heads, L*L, 49]: read, write.
  for (const Stage& s : kStages) {
    Shape x{B, s.heads, s.L * s.L, kNeighbours};
#ifdef NAT_BENCH_HAVE_SOFTMAX
    add(t, "softmax", shape_str(x), Unit::gbps, [x](Device d) {
      Tensor in = input(x, d, 8);
      return Prepared{[in] { ops::softmax(in); }, 2 * kF32 * nel(x)};
    });
#else
    add_todo(t, "softmax", shape_str(x), Unit::gbps, "TODO: ops/softmax.h not present yet");
#endif
  }
  // Linear layers x [M, K] w^T + b, M = B*L*L tokens: qkv and fc1 (C -> 3C), proj (C -> C), fc2 (3C -> C).
  // FLOPs: 2 M N K (the bias add is not counted).
  for (const Stage& s : kStages) {
    int64_t M = B * s.L * s.L;
    for (const auto& kn : {std::pair{s.C, 3 * s.C}, std::pair{s.C, s.C}, std::pair{3 * s.C, s.C}}) {
      int64_t K = kn.first, N = kn.second;
      std::string shape = shape_str({M, K}) + " x " + shape_str({N, K}) + "^T";
#ifdef NAT_BENCH_HAVE_LINALG
      add(t, "linear", shape, Unit::gflops, [M, K, N](Device d) {
        Tensor x = input({M, K}, d, 9), w = input({N, K}, d, 10), b = input({N}, d, 11);
        return Prepared{[x, w, b] { ops::linear(x, w, b); }, 2.0 * M * N * K};
      });
#else
      add_todo(t, "linear", shape, Unit::gflops, "TODO: ops/linalg.h (linear) not present yet");
#endif
    }
  }
  return t;
}

struct Timing {
  double ms = 0;  // median time of one call
  int inner = 1;  // calls per timed repetition
};

Timing time_call(const std::function<void()>& fn, int warmup, int reps, Device dev) {
  auto sync = [dev] { backend(dev).synchronize(dev.index); };
  using Clock = std::chrono::steady_clock;
  auto elapsed_ms = [](Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  };
  for (int i = 0; i < std::max(warmup, 1); ++i) fn();
  sync();
  auto t0 = Clock::now();
  fn();
  sync();
  double once = elapsed_ms(t0);
  Timing r;
  r.inner = static_cast<int>(std::clamp(std::ceil(2.0 / std::max(once, 1e-6)), 1.0, 1000.0));
  std::vector<double> ts;
  for (int i = 0; i < reps; ++i) {
    t0 = Clock::now();
    for (int j = 0; j < r.inner; ++j) fn();
    sync();
    ts.push_back(elapsed_ms(t0) / r.inner);
  }
  std::sort(ts.begin(), ts.end());
  r.ms = ts[ts.size() / 2];
  return r;
}

struct Options {
  std::string device = "cpu", json, filter;
  int threads = 0, reps = 10, warmup = 2;
  int64_t batch = 8;
};

const char* kUsage =
    "usage: bench_ops [--device cpu|cuda] [--threads N] [--batch B] [--reps N] [--warmup N]\n"
    "                 [--filter SUBSTRING] [--json FILE]\n"
    "Times nat.cpp ops at NAT-Tiny shapes (f32) and prints one row per benchmark: name, shape, median\n"
    "ms per call, and GB/s (bytes that must move) or GFLOP/s. --threads sets the OpenMP/BLAS threads\n"
    "(default: OpenMP's). --filter keeps rows whose name contains SUBSTRING. --json writes the results.\n";

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_ops: %s needs a value\n%s", a.c_str(), kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--device")
      o.device = value();
    else if (a == "--threads")
      o.threads = std::stoi(value());
    else if (a == "--batch")
      o.batch = std::stoll(value());
    else if (a == "--reps")
      o.reps = std::stoi(value());
    else if (a == "--warmup")
      o.warmup = std::stoi(value());
    else if (a == "--filter")
      o.filter = value();
    else if (a == "--json")
      o.json = value();
    else if (a == "-h" || a == "--help") {
      std::printf("%s", kUsage);
      std::exit(0);
    } else {
      std::fprintf(stderr, "bench_ops: unknown argument '%s'\n%s", a.c_str(), kUsage);
      std::exit(2);
    }
  }
  if (o.device != "cpu" && o.device != "cuda") {
    std::fprintf(stderr, "bench_ops: --device must be cpu or cuda, got '%s'\n", o.device.c_str());
    std::exit(2);
  }
  if (o.reps < 1 || o.batch < 1 || o.warmup < 0) {
    std::fprintf(stderr, "bench_ops: --reps and --batch must be >= 1 and --warmup >= 0\n");
    std::exit(2);
  }
  return o;
}

int run(const Options& o) {
  if (o.threads > 0) omp_set_num_threads(o.threads);
  int threads = omp_get_max_threads();
  if (o.device == "cuda" && !cuda_available()) {
    std::fprintf(stderr, "bench_ops: --device cuda, but %s\n",
                 cuda_compiled() ? "no CUDA device is visible" : "this build has no CUDA backend (NAT_CUDA=OFF)");
    return 2;
  }
  Device dev = o.device == "cuda" ? Device::cuda(0) : Device::cpu();
  std::printf("bench_ops (nat.cpp): %s, %d thread(s), batch %lld, f32, median of %d reps after %d warm-up call(s)\n",
              dev.str().c_str(), threads, static_cast<long long>(o.batch), o.reps, o.warmup);
  std::printf("%-14s %-32s %10s %10s %s\n", "benchmark", "shape", "ms", "rate", "unit");

  nlohmann::json results = nlohmann::json::array(), todo = nlohmann::json::array();
  for (const Benchmark& b : benchmark_table(o.batch)) {
    if (!o.filter.empty() && b.name.find(o.filter) == std::string::npos) continue;
    if (!b.prepare) {
      std::printf("%-14s %-32s %10s %10s %s\n", b.name.c_str(), b.shape.c_str(), "-", "-", b.todo.c_str());
      todo.push_back({{"name", b.name}, {"shape", b.shape}, {"todo", b.todo}});
      continue;
    }
    Prepared p = b.prepare(dev);
    Timing tm = time_call(p.run, o.warmup, o.reps, dev);
    double rate = p.work / (tm.ms * 1e-3) / 1e9;
    std::printf("%-14s %-32s %10.3f %10.2f %s\n", b.name.c_str(), b.shape.c_str(), tm.ms, rate, unit_str(b.unit));
    std::fflush(stdout);
    results.push_back({{"name", b.name},
                       {"shape", b.shape},
                       {"ms", tm.ms},
                       {"rate", rate},
                       {"unit", unit_str(b.unit)},
                       {"work", p.work},
                       {"inner", tm.inner}});
  }
  if (!o.json.empty()) {
    nlohmann::json doc = {{"tool", "nat.cpp"}, {"device", dev.str()}, {"threads", threads}, {"batch", o.batch},
                          {"reps", o.reps},    {"warmup", o.warmup},  {"results", results}, {"todo", todo}};
    std::ofstream f(o.json);
    if (!f) {
      std::fprintf(stderr, "bench_ops: cannot write %s\n", o.json.c_str());
      return 1;
    }
    f << doc.dump(2) << "\n";
  }
  return 0;
}

}  // namespace

}  // namespace nat::bench

int main(int argc, char** argv) {
  try {
    return nat::bench::run(nat::bench::parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ops: %s\n", e.what());
    return 1;
  }
}
