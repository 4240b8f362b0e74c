// Communicators in one process: the local backend, backend selection errors, the in-order CommWorker and
// its watchdog (a collective past the timeout ends the process with kCommTimeoutExit, naming rank,
// operation and its number, and through a heartbeat store the rank that has not arrived), and the GradReducer's bucket
// layout, hook order and errors on a world of one. The MPI backend across processes is tested in test_distributed.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "autograd/autograd.h"
#include "core/rng.h"
#include "nn/nat.h"
#include "ops/loss.h"
#include "support/expect_error.h"
#include "train/comm.h"
#include "train/comm_worker.h"
#include "train/reducer.h"
#include "train/rendezvous.h"

namespace nat::train {
namespace {

TEST(Comm, LocalCommunicatorIsTheIdentity) {
  auto c = make_local_communicator();
  EXPECT_EQ(c->backend(), "local");
  EXPECT_EQ(c->world_size(), 1);
  Tensor t = Tensor::full({3}, 2.5);
  c->all_reduce(t, ReduceOp::avg, "avg");
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{2.5f, 2.5f, 2.5f}));
  Tensor g = c->all_gather(t, "gather");
  EXPECT_EQ(g.shape(), (Shape{1, 3}));
  EXPECT_EQ(c->all_reduce_values({1.0, 2.0}, ReduceOp::sum, "values"), (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(c->all_gather_strings("me", "s"), (std::vector<std::string>{"me"}));
  EXPECT_EQ(c->broadcast_string("x", 0, "b"), "x");
  NAT_EXPECT_ERROR(c->all_reduce(Tensor::zeros({4, 4}).transpose(0, 1), ReduceOp::sum, "t"), "must be contiguous");
}

TEST(Comm, BackendChoiceErrorsSayWhatToDo) {
  LaunchInfo two;
  two.world_size = 2, two.launcher = "torchrun";
  CommOptions o;
  NAT_EXPECT_ERROR(make_communicator(two, Device::cpu(), o), "needs MPI, but this process was not started by an MPI");
  o.backend = "nccl";
  NAT_EXPECT_ERROR(make_communicator(two, Device::cpu(), o), "dist_backend nccl needs a CUDA device");
  o.backend = "gloo";
  NAT_EXPECT_ERROR(make_communicator(two, Device::cpu(), o), "expected auto, mpi or nccl");
  o.backend = "", o.timeout_s = 0;
  NAT_EXPECT_ERROR(make_communicator(two, Device::cpu(), o), "dist_timeout must be positive");
  // One process: always the local communicator, whatever the backend.
  EXPECT_EQ(make_communicator(LaunchInfo{}, Device::cpu(), CommOptions{})->backend(), "local");
}

TEST(CommWorker, RunsInSubmissionOrderAndRethrowsOnWait) {
  CommWorker w(0, 30.0, {});
  std::vector<int> order;
  std::vector<std::shared_ptr<Work>> work;
  for (int i = 0; i < 20; ++i)
    work.push_back(w.submit("op " + std::to_string(i), [&order, i] {
      if (i % 3 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      order.push_back(i);
    }));
  auto bad = w.submit("failing op", [] { NAT_THROW("[test] it broke"); });
  for (auto& x : work) x->wait();
  NAT_EXPECT_ERROR(bad->wait(), "it broke");
  EXPECT_TRUE(bad->done());
  std::vector<int> want(20);
  for (int i = 0; i < 20; ++i) want[i] = i;
  EXPECT_EQ(order, want);
}

TEST(CommWorkerDeathTest, TimeoutEndsTheProcessNamingRankAndOperation) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        CommWorker w(3, 0.2, {});
        w.submit("all_reduce of gradient bucket 7", [] {
           std::this_thread::sleep_for(std::chrono::seconds(30));
         })->wait();
      },
      ::testing::ExitedWithCode(kCommTimeoutExit),
      "\\[rank 3\\] nat: all_reduce of gradient bucket 7 \\(collective #1\\) did not finish within 0.2 s "
      "\\(dist_timeout\\); another rank stalled or died \\(no heartbeat side channel");
}

TEST(CommWorker, NumbersCollectivesInSubmissionOrder) {
  CommWorker w(0, 30.0, {});
  EXPECT_EQ(w.progress().seq, 0u);
  for (const char* what : {"broadcast of the parameters", "barrier", "all_reduce of the step's loss"})
    w.submit(what, [] {})->wait();
  EXPECT_EQ(w.progress().seq, 3u);
  EXPECT_EQ(w.progress().what, "all_reduce of the step's loss");
}

TEST(CommWorker, HeartbeatStartUpHandsRankZerosStoreToTheOthers) {
  // What the backends do around their start-up exchange, with the exchanged string passed by hand.
  LaunchInfo zero, one;
  zero.world_size = one.world_size = 2, one.rank = 1;
  zero.launcher = one.launcher = "torchrun", zero.master_addr = one.master_addr = "127.0.0.1";
  std::shared_ptr<HeartbeatStore> store;
  const std::string where = start_heartbeat_store(zero, &store);
  ASSERT_TRUE(store);
  EXPECT_NE(where.find(":" + std::to_string(store->port())), std::string::npos) << where;
  HeartbeatOptions o = heartbeat_options(one, nullptr, where);
  EXPECT_EQ(o.port, store->port());
  EXPECT_EQ(o.rank, 1);
  {
    CommWorker rank1(1, 1.0, {});  // beats every 0.25 s
    rank1.start_heartbeat(o);
    rank1.submit("barrier 'start'", [] {})->wait();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (store->snapshot()[1].progress.seq != 1 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    EXPECT_EQ(store->snapshot()[1].progress.what, "barrier 'start'");
  }
  // No store in a world of one, or on ranks other than 0; an IPv6 host keeps its colons.
  LaunchInfo single;
  EXPECT_EQ(start_heartbeat_store(single, &store), "");
  EXPECT_FALSE(store);
  EXPECT_EQ(start_heartbeat_store(one, &store), "");
  o = heartbeat_options(one, nullptr, "[fe80::1]:4242");
  EXPECT_EQ(o.addr, "fe80::1");
  EXPECT_EQ(o.port, 4242);
  EXPECT_EQ(heartbeat_options(one, nullptr, "").port, 0);  // no side channel: start_heartbeat does nothing
}

TEST(CommWorkerDeathTest, TimeoutNamesTheRankThatHasNotArrived) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // Rank 0's worker with its heartbeat store; rank 1, a thread here, stays at collective #1.
  EXPECT_EXIT(
      {
        auto store = std::make_shared<HeartbeatStore>(2);
        Heartbeat rank1({nullptr, "127.0.0.1", store->port(), 1, 2, 0.05}, [] {
          return CollectiveProgress{1, "barrier 'start'"};
        });
        CommWorker w(0, 1.0, {});
        w.start_heartbeat({store, "", 0, 0, 2});
        w.submit("barrier 'start'", [] {})->wait();
        w.submit("all_reduce of the step's loss", [] {
           std::this_thread::sleep_for(std::chrono::seconds(30));
         })->wait();
      },
      ::testing::ExitedWithCode(kCommTimeoutExit),
      "\\[rank 0\\] nat: all_reduce of the step's loss \\(collective #2\\) did not finish within 1 s "
      "\\(dist_timeout\\); rank 1 has not arrived: its last collective is #1 \\(barrier 'start'\\), "
      "heartbeat [0-9.]+ s ago; aborting the communicator");
}

TEST(CommWorkerDeathTest, DeviceOperationIsWatchedUntilItsEventFires) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // The host part returns at once (it only enqueued); the watch says it never completes.
  EXPECT_EXIT(
      {
        CommWorker w(1, 0.2, {});
        w.submit(
            "ncclAllReduce bucket 0", [] {}, [] { return false; });
        std::this_thread::sleep_for(std::chrono::seconds(30));
      },
      ::testing::ExitedWithCode(kCommTimeoutExit),
      "\\[rank 1\\] nat: ncclAllReduce bucket 0 \\(collective #1\\) did not finish");
  // An asynchronous error aborts at once, calling the abort hook first.
  EXPECT_EXIT(
      {
        CommWorker w(
            2, 60.0,
            {[] { std::fprintf(stderr, "abort hook ran\n"); }, [] { return std::string("remote process exited"); }});
        w.submit(
            "broadcast", [] {}, [] { return false; });
        std::this_thread::sleep_for(std::chrono::seconds(30));
      },
      ::testing::ExitedWithCode(kCommTimeoutExit), "broadcast failed: remote process exited(.|\n)*abort hook ran");
}

TEST(CommWorker, FinishedDeviceOperationsDoNotTimeOut) {
  std::atomic<bool> fired{false};
  CommWorker w(0, 0.3, {});
  w.submit(
      "quick", [] {}, [&] { return fired.load(); });
  fired = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // past the timeout: still alive
  SUCCEED();
}

// ---- the reducer on a world of one ----

std::shared_ptr<nn::NAT> model(int64_t embed_dim, std::vector<int64_t> depths) {
  nn::NatConfig cfg;
  cfg.embed_dim = embed_dim, cfg.depths = std::move(depths), cfg.num_heads = {2, 4, 8, 16};
  cfg.num_heads.resize(cfg.depths.size());
  cfg.kernel_size = 3, cfg.drop_path_rate = 0.0, cfg.num_classes = 10;
  Generator gen(1);
  return nn::create_nat(cfg, gen);
}

TEST(GradReducer, BucketsFollowDdpsLayout) {
  auto m = model(64, {2, 2, 2, 2});  // ~4.6M parameters, ~18 MiB of f32 gradients
  auto params = m->named_parameters();
  ReducerOptions ro;
  ro.bucket_bytes = 4 << 20;
  GradReducer red(make_local_communicator(), params, ro);
  const auto& b = red.buckets();
  ASSERT_GE(b.size(), 4u) << red.describe();
  // Every parameter exactly once; bucket 0 starts with the last registered one (the head); the order is
  // reverse registration throughout.
  std::vector<size_t> seen;
  for (const auto& bk : b) seen.insert(seen.end(), bk.params.begin(), bk.params.end());
  ASSERT_EQ(seen.size(), params.size());
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], params.size() - 1 - i);
  // Caps: the first bucket 1 MiB, the others 4 MiB here, unless one tensor alone is larger.
  for (size_t i = 0; i < b.size(); ++i) {
    const int64_t cap = i == 0 ? ro.first_bucket_bytes : ro.bucket_bytes;
    if (b[i].params.size() > 1) {
      EXPECT_LE(b[i].bytes, cap) << "bucket " << i;
    }
    EXPECT_EQ(b[i].flat.numel(), b[i].numel);
    if (i + 1 < b.size()) {  // a bucket closes only when the next tensor would overflow it
      const int64_t next = static_cast<int64_t>(params[b[i + 1].params.front()].second.nbytes());
      EXPECT_GT(b[i].bytes + next, cap) << "bucket " << i;
    }
  }
  EXPECT_NE(red.describe().find(std::to_string(b.size()) + " bucket(s) over " + std::to_string(params.size())),
            std::string::npos);
}

TEST(GradReducer, LaunchesEachBucketOnceWhenItsLastGradientIsReady) {
  auto m = model(16, {1, 1});
  auto params = m->named_parameters();
  ReducerOptions ro;
  ro.first_bucket_bytes = 2 << 10, ro.bucket_bytes = 8 << 10, ro.trace = true;
  GradReducer red(make_local_communicator(), params, ro);
  Generator g(2);
  Tensor x = Tensor::empty({2, 3, 16, 16});
  normal_(x, 0.0, 1.0, &g);
  Tensor y = Tensor::from_vector(std::vector<int64_t>{1, 7}, {2});

  // Accumulating micro-batch: disarmed, nothing launched.
  red.prepare(false);
  backward(ops::cross_entropy(m->forward(x), y));
  EXPECT_TRUE(red.events().empty());
  std::vector<std::vector<float>> before;
  for (auto& [n, p] : params) before.push_back(grad(p).to_vector<float>());

  red.prepare(true);
  backward(ops::cross_entropy(m->forward(x), y));
  const auto& ev = red.events();
  std::set<size_t> ready;
  int launched = 0;
  for (const auto& e : ev) {
    if (e.kind == ReducerEvent::ready) {
      EXPECT_TRUE(ready.insert(e.param).second) << "parameter " << e.param << " ready twice";
    } else {
      EXPECT_EQ(e.bucket, launched++);
      for (size_t p : red.buckets()[static_cast<size_t>(e.bucket)].params)
        EXPECT_TRUE(ready.count(p)) << "bucket " << e.bucket << " launched before '" << params[p].first
                                    << "' was ready";
    }
  }
  EXPECT_EQ(ready.size(), params.size());
  EXPECT_EQ(launched, static_cast<int>(red.buckets().size()));
  red.finish();
  // A world of one averages nothing: the accumulated gradients are intact.
  for (size_t i = 0; i < params.size(); ++i) {
    std::vector<float> after = grad(params[i].second).to_vector<float>();
    for (size_t k = 0; k < after.size(); ++k) ASSERT_NEAR(after[k], 2 * before[i][k], 1e-5f * (1 + std::abs(after[k])));
  }
}

TEST(GradReducer, ParameterWithoutGradientIsAnError) {
  auto m = model(16, {1, 1});
  auto params = m->named_parameters();
  GradReducer red(make_local_communicator(), params);
  red.prepare(true);
  // Only the head takes part in this loss.
  Tensor feats = Tensor::ones({2, m->config.num_features()});
  Tensor logits = m->head->forward(feats);
  backward(ops::cross_entropy(logits, Tensor::from_vector(std::vector<int64_t>{0, 1}, {2})));
  NAT_EXPECT_ERROR(red.finish(), "parameter(s) received no gradient in this backward ('patch_embed.proj.0.weight'");
  NAT_EXPECT_ERROR(red.finish(), "finish() without prepare(true)");
}

}  // namespace
}  // namespace nat::train
