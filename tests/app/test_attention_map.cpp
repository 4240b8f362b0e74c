// `nat attn` (app/viz/attention_map): the captured weights of each query sum to 1 per head, come from the
// layer asked for (shape, kernel, dilation, padded map), leave the model as it was; and the picture paints
// each key's weight on that key's token and slot.
#include <gtest/gtest.h>

#include <cmath>

#include "app/viz/attention_map.h"
#include "autograd/autograd.h"
#include "support/expect_error.h"
#include "support/test_util.h"

#if NAT_WITH_OPENCV
#include <opencv2/imgproc.hpp>

#include "app/viz/draw.h"
#endif

using namespace nat;
using namespace nat::viz;

namespace {

// At 32 px: level 0 is 8 x 8 tokens with dilation 2, level 1 is 4 x 4. At 16 px level 1 is 2 x 2, which the
// padding policy pads to k x k = 3 x 3.
const char* kSpec = R"({"base": "nat_mini", "embed_dim": 16, "depths": [1, 2], "num_heads": [2, 2],
                        "kernel_size": 3, "dilations": [[2], [1, 1]], "num_classes": 4})";

Tensor image(int64_t size) {
  Generator g(5);
  return randn({1, 3, size, size}, DType::f32, Device::cpu(), &g);
}

void expect_rows_sum_to_one(const AttentionCapture& cap) {
  for (int64_t h = 0; h < cap.heads; ++h)
    for (int64_t r = 0; r < cap.padded_height; ++r)
      for (int64_t c = 0; c < cap.padded_width; ++c) {
        ASSERT_NEAR(cap.row_sum(h, {r, c}), 1.0, 1e-5) << "head " << h << " query (" << r << ", " << c << ")";
        for (int64_t t = 0; t < cap.kernel_size * cap.kernel_size; ++t) ASSERT_GE(cap.weight(h, {r, c}, t), 0.0f);
      }
}

}  // namespace

TEST(AppAttentionMap, WeightsPerQuerySumToOnePerHead) {
  auto model = nn::create_nat(kSpec, 2);
  Tensor x = image(32);
  Tensor plain;
  {
    model->eval();
    NoGradGuard g;
    plain = model->forward(x);
    model->train();
  }
  AttentionCapture c0 = capture_attention(*model, x, 0, 0);
  EXPECT_EQ(c0.height, 8);
  EXPECT_EQ(c0.width, 8);
  EXPECT_EQ(c0.padded_height, 8);
  EXPECT_EQ(c0.dilation, 2);
  EXPECT_EQ(c0.heads, 2);
  EXPECT_EQ(c0.probs.size(), static_cast<size_t>(2 * 8 * 8 * 9));
  expect_rows_sum_to_one(c0);
  EXPECT_EQ(nat::testing::max_abs_diff(c0.logits, plain), 0.0) << "capturing changed the model's output";
  EXPECT_TRUE(model->is_training()) << "the model's mode must be restored";
  auto na = model->level(0)->layer(0)->attn;
  EXPECT_FALSE(na->keep_attention);
  EXPECT_FALSE(na->attention.defined());

  // Level 1 at 16 px is a 2 x 2 map, padded to 3 x 3 for k = 3 (docs/na.md §5).
  AttentionCapture c1 = capture_attention(*model, image(16), 1, 1);
  EXPECT_EQ(c1.height, 2);
  EXPECT_EQ(c1.padded_height, 3);
  EXPECT_EQ(c1.dilation, 1);
  expect_rows_sum_to_one(c1);

  NAT_EXPECT_ERROR(capture_attention(*model, x, 2, 0), "levels 0..1");
  NAT_EXPECT_ERROR(capture_attention(*model, x, 1, 2), "layers 0..1");
}

TEST(AppAttentionMap, WeightsDependOnTheQuery) {
  // Not a constant: different queries of a random model get different weights (the capture indexes queries).
  auto model = nn::create_nat(kSpec, 2);
  AttentionCapture c = capture_attention(*model, image(32), 0, 0);
  double diff = 0;
  for (int64_t t = 0; t < 9; ++t) diff += std::abs(c.weight(0, {0, 0}, t) - c.weight(0, {4, 4}, t));
  EXPECT_GT(diff, 1e-6);
}

#if NAT_WITH_OPENCV
TEST(AppAttentionMap, PictureShowsEachWeightOnItsTokenAndSlot) {
  auto model = nn::create_nat(kSpec, 2);
  Tensor x = image(32);
  AttentionCapture cap = capture_attention(*model, x, 0, 0);
  cv::Mat rgb(32, 32, CV_8UC3, cv::Scalar(128, 128, 128));
  std::vector<Cell> queries = default_queries(cap.height, cap.width);
  AttentionFigure fig = render_attention(cap, rgb, queries, {}, {.title = "t", .subtitle = "s", .warn = true});
  ASSERT_EQ(fig.tiles.size(), queries.size() * 2);
  for (const AttentionTile& tile : fig.tiles) {
    const Cell q = queries[tile.query];
    const Window w = na_window(cap.geometry(), q);
    float wmax = 0;
    for (int64_t t = 0; t < 9; ++t) wmax = std::max(wmax, cap.weight(tile.head, q, t));
    for (int64_t t = 0; t < 9; ++t) {
      const cv::Vec3b want = colormap_colour(cap.weight(tile.head, q, t) / wmax, cv::COLORMAP_INFERNO);
      // The slot grid: cell t = (a, b) filled with the weight's colour.
      cv::Rect s = tile.slots.rect(t / 3, t % 3);
      EXPECT_EQ(fig.image.at<cv::Vec3b>(s.y + 3, s.x + 3), want) << "slot " << t;
      // The image: key t's token, the heat colour blended over the dimmed grey input.
      const Cell key = w.keys[static_cast<size_t>(t)];
      cv::Rect r = tile.token_rect(key.row, key.col);
      cv::Vec3b got = fig.image.at<cv::Vec3b>(r.y + r.height / 2, r.x + r.width / 2);
      for (int ch = 0; ch < 3; ++ch)
        EXPECT_NEAR(got[ch], kHeatAlpha * want[ch] + (1 - kHeatAlpha) * (128 * 0.55), 3.0)
            << "key " << t << " channel " << ch;
    }
    // A token outside the window keeps the dimmed input (no heat).
    for (int64_t r = 0; r < cap.height; ++r)
      for (int64_t c = 0; c < cap.width; ++c) {
        bool in_window = std::find(w.keys.begin(), w.keys.end(), Cell{r, c}) != w.keys.end();
        if (in_window) continue;
        cv::Rect rr = tile.token_rect(r, c);
        cv::Vec3b got = fig.image.at<cv::Vec3b>(rr.y + rr.height / 2, rr.x + rr.width / 2);
        // The query's ring may cross a neighbour's centre; anything else must be the plain dimmed grey.
        if (std::abs(r - q.row) <= 1 && std::abs(c - q.col) <= 1) continue;
        EXPECT_NEAR(got[0], 128 * 0.55, 2.0) << "token (" << r << ", " << c << ")";
      }
  }
  NAT_EXPECT_ERROR(render_attention(cap, rgb, {{8, 0}}, {}, {}), "outside");
  NAT_EXPECT_ERROR(render_attention(cap, rgb, queries, {2}, {}), "heads 0..1");
}
#endif
