// bench_ops: op micro-benchmarks at NAT-Tiny shapes (embed 64, mlp_ratio 3, stages at 56/28/14/7 with
// heads 2/4/8/16, k = 7), f32, on the CPU or one CUDA device. Every benchmark is one row of the table built
// by benchmark_table(): a name, the shape it shows, its unit, and a prepare() that allocates inputs and
// returns the call to time with the bytes (GB/s) or FLOPs (GFLOP/s) that one call must move or compute.
// Adding an op family means adding rows there (and the same rows to bench/torch_ops.py).
// Timing: warm-up calls, then the median over --reps repetitions; a repetition runs `inner` calls back to
// back and synchronises the device, with `inner` chosen so a repetition lasts >= 2 ms (GPU launch
// latency would otherwise dominate). Outputs are allocated by the ops on every call, as in real use; the
// default 5 warm-up calls let the allocator reach its steady state (with 2, the first calls that get
// multi-MB outputs still pay first-touch page faults and the largest rows read up to 2x slow).
// --cpu-time (CPU only) reads the process CPU clock instead of the wall clock: on a machine busy with other
// work it still measures our own cost, summed over all of our threads (so use it with one thread).
#include <omp.h>
#include <time.h>

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
  std::function<Prepared(Device)> prepare;
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

// A [out, in] weight with entries of variance 1/in.
Tensor weight(const Shape& s, Device dev, uint64_t seed) {
  return ops::mul(input(s, dev, seed), 1.0 / std::sqrt(static_cast<double>(s[1])));
}

double nel(const Shape& s) { return static_cast<double>(numel(s)); }

void add(std::vector<Benchmark>& t, std::string name, std::string shape, Unit unit,
         std::function<Prepared(Device)> prepare) {
  t.push_back(Benchmark{std::move(name), std::move(shape), unit, std::move(prepare)});
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
    add(t, "layer_norm", shape_str(x), Unit::gbps, [x](Device d) {
      Tensor in = input(x, d, 5), w = input({x[2]}, d, 6), b = input({x[2]}, d, 7);
      return Prepared{[in, w, b] { ops::layer_norm(in, w, b); }, kF32 * (2 * nel(x) + 2 * x[2])};
    });
  }
  // Softmax over the 49 neighbours of each query, attention logits [B, heads, L*L, 49]: read, write.
  for (const Stage& s : kStages) {
    Shape x{B, s.heads, s.L * s.L, kNeighbours};
    add(t, "softmax", shape_str(x), Unit::gbps, [x](Device d) {
      Tensor in = input(x, d, 8);
      return Prepared{[in] { ops::softmax(in); }, 2 * kF32 * nel(x)};
    });
  }
  // Linear layers x [M, K] w^T + b, M = B*L*L tokens: qkv (C -> 3C), proj (C -> C), fc2 (3C -> C).
  // FLOPs: 2 M N K (the bias add and the GELU are not counted). Weights are scaled by 1/sqrt(K), as a
  // trained layer's roughly are, so outputs are O(1): GELU's cost depends on its input's range (libmvec's
  // SIMD erfc takes a scalar path far in the tail, see docs/cpu-performance.md).
  for (const Stage& s : kStages) {
    int64_t M = B * s.L * s.L;
    for (const auto& kn : {std::pair{s.C, 3 * s.C}, std::pair{s.C, s.C}, std::pair{3 * s.C, s.C}}) {
      int64_t K = kn.first, N = kn.second;
      std::string shape = shape_str({M, K}) + " x " + shape_str({N, K}) + "^T";
      add(t, "linear", shape, Unit::gflops, [M, K, N](Device d) {
        Tensor x = input({M, K}, d, 9), w = weight({N, K}, d, 10), b = input({N}, d, 11);
        return Prepared{[x, w, b] { ops::linear(x, w, b); }, 2.0 * M * N * K};
      });
    }
  }
  // fc1 as the MLP runs it: C -> 3C with the exact GELU fused into the bias epilogue (keeps the pre-activation).
  for (const Stage& s : kStages) {
    int64_t M = B * s.L * s.L, K = s.C, N = kMlpRatio * s.C;
    std::string shape = shape_str({M, K}) + " x " + shape_str({N, K}) + "^T";
    add(t, "linear_gelu", shape, Unit::gflops, [M, K, N](Device d) {
      Tensor x = input({M, K}, d, 12), w = weight({N, K}, d, 13), b = input({N}, d, 14);
      return Prepared{[x, w, b] { ops::linear(x, w, b, Activation::gelu); }, 2.0 * M * N * K};
    });
  }
  // 3x3 stride-2 pad-1 convolutions (im2col + GEMM): the tokenizer (3 -> 32 at 224, 32 -> 64 at 112) and the
  // downsamplers between stages (C -> 2C, no bias). FLOPs: 2 * N * O * Ho * Wo * C * 9.
  struct Conv {
    int64_t C, O, H;
    bool bias;
  };
  for (const Conv& c : {Conv{3, 32, 224, true}, Conv{32, 64, 112, true}, Conv{64, 128, 56, false},
                        Conv{128, 256, 28, false}, Conv{256, 512, 14, false}}) {
    Shape x{B, c.C, c.H, c.H}, w{c.O, c.C, 3, 3};
    const double Ho = static_cast<double>(c.H / 2);
    add(t, "conv2d", shape_str(x) + " * " + shape_str(w), Unit::gflops, [x, w, c, Ho](Device d) {
      Tensor in = input(x, d, 15), wt = input(w, d, 16), b = c.bias ? input({c.O}, d, 17) : Tensor();
      return Prepared{[in, wt, b] { ops::conv2d(in, wt, b, 2, 1); },
                      2.0 * static_cast<double>(x[0] * c.O) * Ho * Ho * static_cast<double>(c.C * 9)};
    });
  }
  return t;
}

struct Timing {
  double ms = 0;  // median time of one call
  int inner = 1;  // calls per timed repetition
};

// Milliseconds on the clock the run times with: the wall clock, or (--cpu-time) this process's CPU time.
double now_ms(bool cpu_time) {
  if (!cpu_time)
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

Timing time_call(const std::function<void()>& fn, int warmup, int reps, Device dev, bool cpu_time) {
  auto sync = [dev] { backend(dev).synchronize(dev.index); };
  for (int i = 0; i < std::max(warmup, 1); ++i) fn();
  sync();
  double t0 = now_ms(cpu_time);
  fn();
  sync();
  double once = now_ms(cpu_time) - t0;
  Timing r;
  r.inner = static_cast<int>(std::clamp(std::ceil(2.0 / std::max(once, 1e-6)), 1.0, 1000.0));
  std::vector<double> ts;
  for (int i = 0; i < reps; ++i) {
    t0 = now_ms(cpu_time);
    for (int j = 0; j < r.inner; ++j) fn();
    sync();
    ts.push_back((now_ms(cpu_time) - t0) / r.inner);
  }
  std::sort(ts.begin(), ts.end());
  r.ms = ts[ts.size() / 2];
  return r;
}

struct Options {
  std::string device = "cpu", json, filter;
  int threads = 0, reps = 10, warmup = 5;
  int64_t batch = 8;
  bool cpu_time = false;
};

const char* kUsage =
    "usage: bench_ops [--device cpu|cuda] [--threads N] [--batch B] [--reps N] [--warmup N]\n"
    "                 [--filter SUBSTRING] [--json FILE] [--cpu-time]\n"
    "Times nat.cpp ops at NAT-Tiny shapes (f32) and prints one row per benchmark: name, shape, median\n"
    "ms per call, and GB/s (bytes that must move) or GFLOP/s. --threads sets the OpenMP/BLAS threads\n"
    "(default: OpenMP's). --filter keeps rows whose name contains SUBSTRING. --json writes the results.\n"
    "--cpu-time times with the process's CPU time instead of wall time (CPU device only): for a machine\n"
    "busy with other work. It sums over our threads, so pair it with --threads 1 for a per-core figure.\n";

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
    else if (a == "--cpu-time")
      o.cpu_time = true;
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
  if (o.cpu_time && o.device != "cpu") {
    std::fprintf(stderr, "bench_ops: --cpu-time measures host CPU time and only means something with --device cpu\n");
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
  const char* clock = o.cpu_time ? "process CPU time" : "wall time";
  std::printf(
      "bench_ops (nat.cpp): %s, %d thread(s), batch %lld, f32, %s, median of %d reps after %d warm-up "
      "call(s)\n",
      dev.str().c_str(), threads, static_cast<long long>(o.batch), clock, o.reps, o.warmup);
  std::printf("%-14s %-36s %10s %10s %s\n", "benchmark", "shape", "ms", "rate", "unit");

  nlohmann::json results = nlohmann::json::array();
  for (const Benchmark& b : benchmark_table(o.batch)) {
    if (!o.filter.empty() && b.name.find(o.filter) == std::string::npos) continue;
    Prepared p = b.prepare(dev);
    Timing tm = time_call(p.run, o.warmup, o.reps, dev, o.cpu_time);
    double rate = p.work / (tm.ms * 1e-3) / 1e9;
    std::printf("%-14s %-36s %10.3f %10.2f %s\n", b.name.c_str(), b.shape.c_str(), tm.ms, rate, unit_str(b.unit));
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
                          {"reps", o.reps},    {"warmup", o.warmup},  {"clock", clock},     {"results", results}};
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
