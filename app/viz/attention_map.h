// `nat attn`: the attention weights of one NA layer for chosen queries, per head, drawn over the input image.
// capture_attention() runs the model once with the layer's keep_attention hook on (the probabilities are
// recomputed from that layer's q, k and rpb by the unfused na2d_qk + softmax, nn/nat.h); render_attention()
// draws, for each query and head, the k x k weights as a heat map on the token cells they belong to — so the
// border rule (windows shifted inward) and dilation show — plus the same weights as an enlarged k x k grid.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/viz/na_window.h"
#include "nn/nat.h"

namespace nat::viz {

struct AttentionCapture {
  int64_t level = 0, layer = 0;
  int64_t kernel_size = 0, dilation = 1, heads = 0;
  int64_t height = 0, width = 0;                // the layer's token map
  int64_t padded_height = 0, padded_width = 0;  // what NA ran on (larger only under the padding policy)
  int64_t image_height = 0, image_width = 0;    // the input, pixels
  std::vector<float> probs;                     // [heads, padded_height, padded_width, k*k], batch element 0
  Tensor logits;
  NaGeometry geometry() const { return {padded_height, padded_width, kernel_size, dilation}; }
  // Weight of slot t (= a*k + b) for `query` under `head`.
  float weight(int64_t head, Cell query, int64_t t) const;
  // Σ_t weight(head, query, t): 1 up to rounding.
  double row_sum(int64_t head, Cell query) const;
};

// Runs `model` (eval mode, no autograd) on `images` [B, in_chans, H, W] and returns the probabilities of
// levels.<level>.blocks.<layer>.attn; throws naming the valid range when level or layer does not exist.
AttentionCapture capture_attention(nn::NAT& model, const Tensor& images, int64_t level, int64_t layer);

}  // namespace nat::viz

#if NAT_WITH_OPENCV
#include <opencv2/core.hpp>

#include "app/viz/na_diagram.h"

namespace nat::viz {

// How strongly the heat colour covers a key's token (the rest is the greyed input showing through).
constexpr double kHeatAlpha = 0.7;

struct AttentionTile {
  size_t query = 0;  // index into the queries passed to render_attention
  int64_t head = 0;
  cv::Rect image;       // where the input image sits (token (r, c) is tokens.rect(r, c))
  GridPlacement slots;  // the enlarged k x k grid of weights
  cv::Rect token_rect(int64_t r, int64_t c) const;
  double token_w = 0, token_h = 0;  // pixels per token in `image`
};

struct AttentionFigure {
  cv::Mat image;  // BGR
  std::vector<AttentionTile> tiles;
};

struct AttentionLabels {
  std::string title;     // what was run on what
  std::string subtitle;  // e.g. the checkpoint, or an UNTRAINED warning
  bool warn = false;     // draw the subtitle in red
};

// `input_rgb`: the image the model saw (CV_8UC3, RGB, image_height x image_width). `heads`: which heads (empty:
// all), drawn up to four per line.
AttentionFigure render_attention(const AttentionCapture& cap, const cv::Mat& input_rgb,
                                 const std::vector<Cell>& queries, const std::vector<int64_t>& heads,
                                 const AttentionLabels& labels);

}  // namespace nat::viz
#endif
