// The NCCL communicator on one GPU (label `cuda`): a world of one, asked for by name, runs NCCL's init,
// its own stream and the event ordering against the compute stream. Collectives on CUDA tensors must give
// the values the CPU reference says, and the gradient reducer over NCCL must leave a small NAT's CUDA
// gradients equal to the CPU model's. Several GPUs are exercised by scripts/gpu_check.sh.
#include <gtest/gtest.h>

#include "autograd/autograd.h"
#include "core/rng.h"
#include "nn/nat.h"
#include "ops/loss.h"
#include "support/test_util.h"
#include "train/comm.h"
#include "train/reducer.h"

namespace nat::train {
namespace {

using nat::testing::max_abs_diff;

std::shared_ptr<Communicator> nccl_world_of_one() {
  CommOptions o;
  o.backend = "nccl", o.timeout_s = 60;
  return make_communicator(LaunchInfo{}, Device::cuda(0), o);
}

TEST(CommNcclCuda, CollectivesOnAWorldOfOne) {
  NAT_SKIP_WITHOUT_CUDA();
  if (!nccl_compiled()) GTEST_SKIP() << "this build has no NCCL";
  auto c = nccl_world_of_one();
  EXPECT_EQ(c->backend(), "nccl");
  Generator g(4);
  Tensor host = Tensor::empty({1000});
  normal_(host, 0.0, 1.0, &g);
  for (ReduceOp op : {ReduceOp::sum, ReduceOp::avg, ReduceOp::max}) {
    Tensor t = host.cuda();
    c->all_reduce(t, op, "all_reduce");
    EXPECT_EQ(max_abs_diff(t.cpu(), host), 0.0);
  }
  Tensor b = host.cuda();
  c->broadcast(b, 0, "broadcast");
  EXPECT_EQ(max_abs_diff(b.cpu(), host), 0.0);
  Tensor all = c->all_gather(host.cuda(), "all_gather");
  EXPECT_EQ(all.shape(), (Shape{1, 1000}));
  EXPECT_EQ(max_abs_diff(all.cpu().reshape({1000}), host), 0.0);
  EXPECT_EQ(c->all_reduce_values({1.5, -2.0}, ReduceOp::sum, "values"), (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(c->broadcast_string("nccl", 0, "string"), "nccl");
  c->barrier("barrier");
}

TEST(CommNcclCuda, ReducerKeepsCudaGradientsEqualToTheCpus) {
  NAT_SKIP_WITHOUT_CUDA();
  if (!nccl_compiled()) GTEST_SKIP() << "this build has no NCCL";
  nn::NatConfig cfg;
  cfg.embed_dim = 16, cfg.depths = {1, 1}, cfg.num_heads = {1, 2}, cfg.kernel_size = 3;
  cfg.drop_path_rate = 0.0, cfg.num_classes = 4;
  Generator g1(9), g2(9);
  auto cpu = nn::create_nat(cfg, g1), gpu = nn::create_nat(cfg, g2);
  gpu->to(Device::cuda(0));
  Generator gx(1);
  Tensor x = Tensor::empty({2, 3, 16, 16});
  normal_(x, 0.0, 1.0, &gx);
  Tensor y = Tensor::from_vector(std::vector<int64_t>{0, 3}, {2});

  auto comm = nccl_world_of_one();
  ReducerOptions ro;
  ro.first_bucket_bytes = 1 << 10, ro.bucket_bytes = 4 << 10;
  GradReducer red(comm, gpu->named_parameters(), ro);
  ASSERT_GE(red.buckets().size(), 3u);
  red.prepare(true);
  backward(ops::cross_entropy(gpu->forward(x.cuda()), y.cuda()));
  red.finish();
  backward(ops::cross_entropy(cpu->forward(x), y));
  auto pc = cpu->named_parameters(), pg = gpu->named_parameters();
  for (size_t i = 0; i < pc.size(); ++i)
    EXPECT_LT(max_abs_diff(grad(pg[i].second).cpu(), grad(pc[i].second)), 1e-4) << pc[i].first;
}

}  // namespace
}  // namespace nat::train
