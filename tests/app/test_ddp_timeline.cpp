// `nat explain ddp`'s timeline: the overlap arithmetic on a hand-made timeline, and a real traced backward
// (world of one) whose events are consistent: every bucket launched after its first gradient and finished
// after its launch, ticks for every parameter, and a picture of the expected size.
#include <gtest/gtest.h>

#include "app/viz/ddp_timeline.h"
#include "autograd/autograd.h"
#include "core/rng.h"
#include "nn/nat.h"
#include "ops/loss.h"
#include "train/comm.h"

namespace nat::viz {
namespace {

TEST(DdpTimeline, HiddenFractionIsTheOverlapWithBackward) {
  DdpTimeline t;
  t.backward_ms = 15;
  t.buckets = {{1, 0.5, 0, 0, 10}, {2, 20, 3, 5, 25}};  // 10 ms all hidden; 20 ms of which 10 hidden
  EXPECT_DOUBLE_EQ(t.hidden_fraction(), 20.0 / 30.0);
  const std::string s = format_ddp_timeline(t);
  EXPECT_NE(s.find("100%"), std::string::npos) << s;
  EXPECT_NE(s.find(" 50%"), std::string::npos) << s;
  EXPECT_NE(s.find("67% of the all-reduce time overlapped backward"), std::string::npos) << s;
}

TEST(DdpTimeline, TracedBackwardIsConsistent) {
  nn::NatConfig cfg;
  cfg.embed_dim = 16, cfg.depths = {1, 1}, cfg.num_heads = {1, 2}, cfg.kernel_size = 3;
  cfg.drop_path_rate = 0.0, cfg.num_classes = 3;
  Generator g(5);
  auto model = nn::create_nat(cfg, g);
  auto params = model->named_parameters();
  train::ReducerOptions ro;
  ro.first_bucket_bytes = 1 << 10, ro.bucket_bytes = 8 << 10, ro.trace = true;
  train::GradReducer red(train::make_local_communicator(), params, ro);
  Tensor x = Tensor::empty({2, 3, 16, 16});
  normal_(x, 0.0, 1.0, &g);
  red.prepare(true);
  backward(ops::cross_entropy(model->forward(x), Tensor::from_vector(std::vector<int64_t>{0, 2}, {2})));
  red.finish();
  DdpTimeline t = ddp_timeline(red, 1.0, 2.0);
  ASSERT_EQ(t.buckets.size(), red.buckets().size());
  EXPECT_EQ(t.ready.size(), params.size());
  for (size_t i = 0; i < t.buckets.size(); ++i) {
    const BucketSpan& b = t.buckets[i];
    EXPECT_GE(b.first_ready_ms, 0) << i;
    EXPECT_GE(b.launch_ms, b.first_ready_ms) << i;
    EXPECT_GE(b.done_ms, b.launch_ms) << i;
    if (i) {
      EXPECT_GE(b.launch_ms, t.buckets[i - 1].launch_ms) << "launched in bucket order";
    }
  }
  EXPECT_GE(t.hidden_fraction(), 0.0);
  EXPECT_LE(t.hidden_fraction(), 1.0);
#if NAT_WITH_OPENCV
  cv::Mat img = render_ddp_timeline(t);
  EXPECT_EQ(img.cols, 1130);
  EXPECT_GT(img.rows, 104 + static_cast<int>(t.buckets.size()) * 30);
#endif
}

}  // namespace
}  // namespace nat::viz
