// dist_worker: the program tests/train/test_distributed.cpp runs under `mpirun -np N` (CPU, MPI backend).
// One scenario per invocation; it exits 0 when every check holds and prints "FAIL: ..." (exit 1) otherwise.
//   collectives  all_reduce sum/avg/max, broadcast from a non-zero root, all_gather, the string helpers
//   reducer      a small NAT's bucketed gradients equal the mean of every rank's own gradients; buckets are
//                launched in order, the first before backward ends (overlap), bucket 0 holding the head
//   stall        after a barrier, rank 1 sleeps before an all_reduce: rank 0's watchdog must abort
//                (dist_timeout 2 s), naming rank 1 from its heartbeat (its last collective is the barrier)
//   freeze       after a barrier, rank 0 stops itself (SIGSTOP: its heartbeat store too): rank 1's watchdog
//                must abort, saying the store did not answer, so rank 0 is the likely culprit
//   die          rank 1 exits abruptly before an all_reduce: the launcher must end rank 0 too
//   mismatch     rank 1 builds a different model: broadcast_parameters fails on every rank, naming it
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "autograd/autograd.h"
#include "core/error.h"
#include "core/rng.h"
#include "nn/nat.h"
#include "ops/loss.h"
#include "train/comm.h"
#include "train/reducer.h"

using namespace nat;
using namespace nat::train;

namespace {

int g_rank = 0;

#define CHECK_OR_FAIL(cond, ...)                                                 \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::printf("FAIL: rank %d: %s\n", g_rank, nat::str(__VA_ARGS__).c_str()); \
      std::fflush(stdout);                                                       \
      return 1;                                                                  \
    }                                                                            \
  } while (0)

int collectives(Communicator& c) {
  const int w = c.world_size(), r = c.rank();
  Tensor t = Tensor::full({5}, r + 1.0, DType::f32);
  c.all_reduce(t, ReduceOp::sum, "all_reduce sum");
  for (float v : t.to_vector<float>()) CHECK_OR_FAIL(v == w * (w + 1) / 2.0f, "sum gave ", v);
  Tensor a = Tensor::full({3}, r + 1.0, DType::f64);
  c.all_reduce(a, ReduceOp::avg, "all_reduce avg");
  for (double v : a.to_vector<double>()) CHECK_OR_FAIL(v == (w + 1) / 2.0, "avg gave ", v);
  Tensor m = Tensor::from_vector(std::vector<int64_t>{r, -r}, {2});
  c.all_reduce(m, ReduceOp::max, "all_reduce max");
  CHECK_OR_FAIL(m.to_vector<int64_t>() == (std::vector<int64_t>{w - 1, 0}), "max gave ", m.str());
  Tensor b = Tensor::full({4}, r == w - 1 ? 7.0 : -1.0, DType::f32);
  c.broadcast(b, w - 1, "broadcast from the last rank");
  for (float v : b.to_vector<float>()) CHECK_OR_FAIL(v == 7.0f, "broadcast gave ", v);
  Tensor g = c.all_gather(Tensor::full({2}, r * 10.0, DType::f32), "all_gather");
  CHECK_OR_FAIL(g.shape() == (Shape{w, 2}), "all_gather shape ", shape_str(g.shape()));
  std::vector<float> gv = g.to_vector<float>();
  for (int k = 0; k < w; ++k)
    CHECK_OR_FAIL(gv[2 * k] == k * 10.0f && gv[2 * k + 1] == k * 10.0f, "all_gather ", g.str());
  std::vector<std::string> s = c.all_gather_strings(std::string(static_cast<size_t>(r + 1), 'a' + r), "strings");
  for (int k = 0; k < w; ++k)
    CHECK_OR_FAIL(s[k] == std::string(static_cast<size_t>(k + 1), 'a' + k), "all_gather_strings[", k, "] '", s[k], "'");
  CHECK_OR_FAIL(c.broadcast_string(r == 0 ? "from rank 0" : "", 0, "string") == "from rank 0", "broadcast_string");
  c.barrier("barrier");
  return 0;
}

std::shared_ptr<nn::NAT> small_nat(int64_t embed_dim) {
  nn::NatConfig cfg;
  cfg.embed_dim = embed_dim, cfg.depths = {1, 2}, cfg.num_heads = {1, 2}, cfg.kernel_size = 3;
  cfg.mlp_ratio = 2.0, cfg.drop_path_rate = 0.0, cfg.num_classes = 5;
  Generator gen(11);
  return nn::create_nat(cfg, gen);
}

Tensor loss_of(nn::NAT& model, int rank) {
  Generator g(100 + static_cast<uint64_t>(rank));  // every rank its own batch
  Tensor x = Tensor::empty({3, 3, 16, 16});
  normal_(x, 0.0, 1.0, &g);
  Tensor y = Tensor::from_vector(std::vector<int64_t>{rank % 5, (rank + 1) % 5, (rank + 3) % 5}, {3});
  return ops::cross_entropy(model.forward(x), y);
}

int reducer(const std::shared_ptr<Communicator>& comm) {
  Communicator& c = *comm;
  auto model = small_nat(16);
  auto params = model->named_parameters();
  // Reference: this rank's own gradients, gathered, averaged in f64.
  backward(loss_of(*model, c.rank()));
  int64_t total = 0;
  for (auto& [n, p] : params) total += p.numel();
  std::vector<float> mine;
  for (auto& [n, p] : params) {
    std::vector<float> g = grad(p).contiguous().to_vector<float>();
    mine.insert(mine.end(), g.begin(), g.end());
    zero_grad(p);
  }
  std::vector<float> all = c.all_gather(Tensor::from_vector(mine, {total}), "gather gradients").to_vector<float>();
  std::vector<double> mean(static_cast<size_t>(total), 0.0);
  for (int r = 0; r < c.world_size(); ++r)
    for (int64_t i = 0; i < total; ++i) mean[i] += all[static_cast<size_t>(r * total + i)] / c.world_size();

  // Small buckets, so the model spreads over several.
  ReducerOptions ro;
  ro.first_bucket_bytes = 4 << 10, ro.bucket_bytes = 16 << 10, ro.trace = true;
  GradReducer red(comm, params, ro);
  CHECK_OR_FAIL(red.buckets().size() >= 3, "expected several buckets, got ", red.describe());
  CHECK_OR_FAIL(red.buckets()[0].bytes <= ro.first_bucket_bytes || red.buckets()[0].params.size() == 1,
                "bucket 0 exceeds the first-bucket cap: ", red.describe());
  CHECK_OR_FAIL(red.buckets()[0].params.front() == params.size() - 1, "bucket 0 must start with the last parameter (",
                params.back().first, ")");
  red.prepare(true);
  backward(loss_of(*model, c.rank()));
  // Overlap: by the time backward returns, the first buckets are already in flight or done — launched
  // before the last parameter became ready.
  const auto& ev = red.events();
  size_t first_launch = ev.size(), last_ready = 0;
  int expected_bucket = 0;
  for (size_t i = 0; i < ev.size(); ++i) {
    if (ev[i].kind == ReducerEvent::launch) {
      if (first_launch == ev.size()) first_launch = i;
      CHECK_OR_FAIL(ev[i].bucket == expected_bucket, "bucket ", ev[i].bucket, " launched out of order (expected ",
                    expected_bucket, ")");
      ++expected_bucket;
    } else {
      last_ready = i;
    }
  }
  CHECK_OR_FAIL(expected_bucket == static_cast<int>(red.buckets().size()), "only ", expected_bucket, " of ",
                red.buckets().size(), " buckets launched during backward");
  CHECK_OR_FAIL(first_launch < last_ready, "no overlap: the first all-reduce started after the last gradient");
  red.finish();
  int64_t i = 0;
  double worst = 0;
  for (auto& [n, p] : params)
    for (float v : grad(p).contiguous().to_vector<float>()) worst = std::max(worst, std::abs(v - mean[i++]));
  CHECK_OR_FAIL(worst < 1e-6, "reduced gradients differ from the mean by up to ", worst);
  std::printf("rank %d: %s; %zu events, first launch at event %zu, last ready at %zu; max |diff| %.3g\n", c.rank(),
              red.describe().c_str(), ev.size(), first_launch, last_ready, worst);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string scenario = argc > 1 ? argv[1] : "";
  try {
    LaunchInfo launch = detect_launch();
    g_rank = launch.rank;
    CommOptions co;
    co.backend = "mpi";
    co.timeout_s = scenario == "stall" || scenario == "freeze" ? 2.0 : 120.0;
    std::shared_ptr<Communicator> comm = make_communicator(launch, Device::cpu(), co);
    if (scenario == "collectives") return collectives(*comm);
    if (scenario == "reducer") return reducer(comm);
    if (scenario == "stall" || scenario == "freeze") {
      comm->barrier("barrier 'before the stall'");
      if (scenario == "stall" && comm->rank() == 1) std::this_thread::sleep_for(std::chrono::seconds(60));
      if (scenario == "freeze" && comm->rank() == 0) {
        ::raise(SIGSTOP);
        // Only the launcher's teardown continues it (SIGCONT before SIGTERM): stay out of the collective.
        std::this_thread::sleep_for(std::chrono::seconds(60));
      }
      comm->all_reduce(Tensor::ones({8}), ReduceOp::sum, "all_reduce 'stall test'");
      std::printf("FAIL: rank %d: the all_reduce returned although a rank stalled\n", comm->rank());
      return 1;
    }
    if (scenario == "die") {
      if (comm->rank() == 1) std::_Exit(3);
      comm->all_reduce(Tensor::ones({8}), ReduceOp::sum, "all_reduce 'die test'");
      std::printf("FAIL: rank %d: the all_reduce returned although rank 1 died\n", comm->rank());
      return 1;
    }
    if (scenario == "mismatch") {
      auto model = small_nat(comm->rank() == 1 ? 24 : 16);
      broadcast_parameters(*comm, model->named_parameters());
      std::printf("FAIL: rank %d: different models were accepted\n", comm->rank());
      return 1;
    }
    std::fprintf(stderr, "usage: dist_worker collectives|reducer|stall|freeze|die|mismatch (under mpirun)\n");
    return 2;
  } catch (const Error& e) {
    std::printf("rank %d: error: %s\n", g_rank, e.what());
    std::fflush(stdout);
    return 3;
  }
}
