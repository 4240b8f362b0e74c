// Checkpoint metadata and weights (train/checkpoint.h) from damaged or hostile files (issue 17): every
// number read back has a range, so a step of INT64_MAX or a negative epoch is an error naming the file and
// the field; non-finite weights are found and named.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "support/expect_error.h"
#include "train/checkpoint.h"

namespace nat::train {
namespace {

std::map<std::string, std::string> good_metadata() {
  TrainState s;
  s.epoch = 3, s.batch = 2, s.step = 40, s.batch_size = 4;
  s.best_metric = 51.5, s.best_epoch = 2;
  s.kept = {{1, 40.0}, {2, 51.5}};
  return s.to_metadata();
}

TEST(Checkpoint, MetadataRoundTrips) {
  TrainState s = TrainState::from_metadata(good_metadata(), "ck.safetensors");
  EXPECT_EQ(s.epoch, 3);
  EXPECT_EQ(s.step, 40);
  EXPECT_EQ(s.best_metric, 51.5);
  ASSERT_EQ(s.kept.size(), 2u);
  EXPECT_EQ(s.kept[1].first, 2);
}

TEST(Checkpoint, EveryMetadataNumberHasARange) {
  struct Case {
    const char* key;
    std::string value;
  };
  const Case bad[] = {
      {"step", std::to_string(std::numeric_limits<int64_t>::max())},  // printed "LR: -inf" before
      {"step", "-1"},
      {"epoch", "-1"},
      {"epoch", "100000000"},
      {"batch", "-5"},
      {"dist.world_size", "0"},
      {"data.batch_size", "1000000000"},
      {"scaler.scale", "inf"},
      {"scaler.scale", "0"},
      {"scaler.growth_tracker", "-1"},
      {"meter.train_loss.sum", "inf"},
      {"meter.train_loss.count", "-2"},
      {"best.metric", "inf"},
      {"best.epoch", "-7"},
  };
  for (const auto& c : bad) {
    SCOPED_TRACE(std::string(c.key) + " = " + c.value);
    auto m = good_metadata();
    m[c.key] = c.value;
    NAT_EXPECT_ERROR(TrainState::from_metadata(m, "hostile.safetensors"), "[checkpoint] hostile.safetensors",
                     (std::string("metadata '") + c.key + "'").c_str(), "outside [");
  }
  auto m = good_metadata();
  m["checkpoints"] = "[[-3, \"1.5\"]]";
  NAT_EXPECT_ERROR(TrainState::from_metadata(m, "hostile.safetensors"), "hostile.safetensors", "'checkpoints'",
                   "epoch -3");
  m["checkpoints"] = "[[1, \"inf\"]]";
  NAT_EXPECT_ERROR(TrainState::from_metadata(m, "hostile.safetensors"), "'checkpoints'", "metric inf");
  m = good_metadata();
  m["best.metric"] = "nan";  // no best epoch yet: allowed
  EXPECT_TRUE(std::isnan(TrainState::from_metadata(m, "ck").best_metric));
}

TEST(Checkpoint, FirstNonFiniteNamesTheTensor) {
  nn::NamedTensors w = {{"a", Tensor::ones({3})}, {"b", Tensor::ones({2, 2})}, {"c", Tensor::zeros({2}, DType::i64)}};
  EXPECT_EQ(first_non_finite(w), "");
  w[1].second.data<float>()[3] = std::numeric_limits<float>::quiet_NaN();
  w[1].second.data<float>()[1] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(first_non_finite(w), "'b' holds 2 non-finite values (1 NaN) of 4");
}

}  // namespace
}  // namespace nat::train
