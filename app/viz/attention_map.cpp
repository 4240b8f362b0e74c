// Capturing one NA layer's attention probabilities and drawing them over the input image.
#include "app/viz/attention_map.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "autograd/autograd.h"
#include "core/error.h"
#include "nn/summary.h"

#if NAT_WITH_OPENCV
#include <opencv2/imgproc.hpp>

#include "app/viz/draw.h"
#endif

namespace nat::viz {

float AttentionCapture::weight(int64_t head, Cell q, int64_t t) const {
  const int64_t kk = kernel_size * kernel_size;
  return probs[static_cast<size_t>(((head * padded_height + q.row) * padded_width + q.col) * kk + t)];
}

double AttentionCapture::row_sum(int64_t head, Cell q) const {
  double s = 0;
  for (int64_t t = 0; t < kernel_size * kernel_size; ++t) s += weight(head, q, t);
  return s;
}

AttentionCapture capture_attention(nn::NAT& model, const Tensor& images, int64_t level, int64_t layer) {
  const int64_t levels = model.config.num_levels();
  NAT_CHECK(level >= 0 && level < levels, "[attn] --level ", level, " does not exist: ", model.config.name,
            " has levels 0..", levels - 1);
  const int64_t depth = model.config.depths[static_cast<size_t>(level)];
  NAT_CHECK(layer >= 0 && layer < depth, "[attn] --layer ", layer, " does not exist: level ", level, " has layers 0..",
            depth - 1);
  NAT_CHECK(images.dim() == 4, "[attn] expected images [B, C, H, W], got ", shape_str(images.shape()));
  auto na = model.level(static_cast<size_t>(level))->layer(static_cast<size_t>(layer))->attn;

  AttentionCapture cap;
  cap.level = level;
  cap.layer = layer;
  cap.kernel_size = na->options.kernel_size;
  cap.dilation = na->options.dilation;
  cap.heads = na->options.num_heads;
  cap.image_height = images.size(2);
  cap.image_width = images.size(3);
  // The token map the layer sees, from the model table (exact conv arithmetic, no forward needed).
  const std::string name = "levels." + std::to_string(level) + ".blocks." + std::to_string(layer) + ".attn";
  nn::ModelSummary s = nn::summarize(model, 1, cap.image_height, cap.image_width);
  for (const auto& row : s.rows)
    if (row.name == name) cap.height = row.output[1], cap.width = row.output[2];
  NAT_CHECK(cap.height > 0, "[attn] ", name, " is missing from the model table");

  const bool was_training = model.is_training();
  model.eval();
  na->keep_attention = true;
  Tensor attention;
  try {
    NoGradGuard no_grad;
    cap.logits = model.forward(images);
    attention = na->attention;
  } catch (...) {
    na->keep_attention = false;
    na->attention = Tensor();
    model.train(was_training);
    throw;
  }
  na->keep_attention = false;
  na->attention = Tensor();
  model.train(was_training);

  NAT_CHECK(attention.defined() && attention.dim() == 5, "[attn] ", name, " stored no attention");
  cap.padded_height = attention.size(2);
  cap.padded_width = attention.size(3);
  cap.probs = attention.select(0, 0).to(DType::f32).to_vector<float>();
  return cap;
}

#if NAT_WITH_OPENCV

cv::Rect AttentionTile::token_rect(int64_t r, int64_t c) const {
  int x0 = image.x + static_cast<int>(std::lround(static_cast<double>(c) * token_w));
  int x1 = image.x + static_cast<int>(std::lround(static_cast<double>(c + 1) * token_w));
  int y0 = image.y + static_cast<int>(std::lround(static_cast<double>(r) * token_h));
  int y1 = image.y + static_cast<int>(std::lround(static_cast<double>(r + 1) * token_h));
  return {x0, y0, std::max(1, x1 - x0), std::max(1, y1 - y0)};
}

namespace {

constexpr int kMargin = 24;
constexpr int kImageSide = 224;  // the longer side of the drawn input
constexpr int kTilesPerLine = 4;
constexpr int kColormap = cv::COLORMAP_INFERNO;
const cv::Scalar kQueryMark(80, 255, 80);  // bright green, visible on the heat colours

std::string pct(double v) {
  char b[16];
  std::snprintf(b, sizeof b, v >= 0.0995 ? "%.0f" : "%.1f", 100 * v);
  return b;
}

}  // namespace

AttentionFigure render_attention(const AttentionCapture& cap, const cv::Mat& input_rgb,
                                 const std::vector<Cell>& queries, const std::vector<int64_t>& heads_in,
                                 const AttentionLabels& labels) {
  NAT_CHECK(input_rgb.type() == CV_8UC3 && input_rgb.rows == cap.image_height && input_rgb.cols == cap.image_width,
            "[attn] the input image must be ", cap.image_height, " x ", cap.image_width, " RGB");
  std::vector<int64_t> heads = heads_in;
  if (heads.empty())
    for (int64_t h = 0; h < cap.heads; ++h) heads.push_back(h);
  for (int64_t h : heads)
    NAT_CHECK(h >= 0 && h < cap.heads, "[attn] head ", h, " does not exist: this layer has heads 0..", cap.heads - 1);
  for (const Cell& q : queries)
    NAT_CHECK(q.row >= 0 && q.row < cap.height && q.col >= 0 && q.col < cap.width, "[attn] query (", q.row, ", ", q.col,
              ") is outside the ", cap.height, " x ", cap.width, " token map of level ", cap.level);
  const int64_t k = cap.kernel_size, kk = k * k;
  const NaGeometry geom = cap.geometry();

  // The input, greyed and dimmed so the heat colours stand out, at kImageSide on its longer side.
  const double scale =
      static_cast<double>(kImageSide) / static_cast<double>(std::max(cap.image_height, cap.image_width));
  const int img_w = static_cast<int>(std::lround(static_cast<double>(cap.image_width) * scale));
  const int img_h = static_cast<int>(std::lround(static_cast<double>(cap.image_height) * scale));
  const double token_w = static_cast<double>(img_w) / static_cast<double>(cap.width);
  const double token_h = static_cast<double>(img_h) / static_cast<double>(cap.height);
  const int area_w = static_cast<int>(std::ceil(token_w * static_cast<double>(cap.padded_width)));
  const int area_h = static_cast<int>(std::ceil(token_h * static_cast<double>(cap.padded_height)));
  cv::Mat base;
  {
    cv::Mat resized, grey, grey3;
    cv::resize(input_rgb, resized, {img_w, img_h}, 0, 0, cv::INTER_AREA);
    cv::cvtColor(resized, grey, cv::COLOR_RGB2GRAY);
    cv::cvtColor(grey, grey3, cv::COLOR_GRAY2BGR);
    base = cv::Mat(area_h, area_w, CV_8UC3, cv::Scalar(90, 90, 90));  // padded tokens, if any, stay grey
    grey3.convertTo(base(cv::Rect(0, 0, img_w, img_h)), -1, 0.55, 0);
  }

  const int scell = static_cast<int>(std::clamp<int64_t>(175 / k, 12, 28));
  const int slots_w = scell * static_cast<int>(k);
  const int tile_w = area_w + 16 + slots_w + 22;
  const int tile_h = 26 + std::max(area_h, slots_w + 18) + 14;
  const int per_line = std::min<int>(kTilesPerLine, static_cast<int>(heads.size()));
  const int lines_per_query = static_cast<int>((heads.size() + kTilesPerLine - 1) / kTilesPerLine);
  const int query_head_h = 34;
  const int header_h = 176;
  const int width = std::max(2 * kMargin + per_line * tile_w, 1180);
  const int height =
      header_h + static_cast<int>(queries.size()) * (query_head_h + lines_per_query * tile_h + 10) + kMargin;

  AttentionFigure fig;
  fig.image = cv::Mat(height, width, CV_8UC3, colour::kBackground);
  cv::Mat& img = fig.image;
  put_text(img, labels.title, {kMargin, 32}, 0.7, 2);
  put_text(img, labels.subtitle, {kMargin, 60}, 0.55, labels.warn ? 2 : 1,
           labels.warn ? cv::Scalar(30, 30, 200) : colour::kText);
  std::ostringstream l1, l2;
  l1 << "Level " << cap.level << " is a " << cap.height << " x " << cap.width << " token map (one token = "
     << std::lround(static_cast<double>(cap.image_height) / static_cast<double>(cap.height)) << " px of the "
     << cap.image_height << " x " << cap.image_width << " input); kernel k = " << k << ", dilation d = " << cap.dilation
     << ".";
  put_text(img, l1.str(), {kMargin, 88}, 0.5);
  l2 << "Each query spreads weight 1 over its " << kk << " keys (uniform: " << pct(1.0 / static_cast<double>(kk))
     << "% each). Left: each key's weight painted on its token (white: the window's outline).";
  put_text(img, l2.str(), {kMargin, 110}, 0.5);
  put_text(img, "Right: the same weights by slot (row-major, as the kernel stores them), in %.", {kMargin, 132}, 0.5);
  int lx = colour_ramp(img, {kMargin, 148, 160, 14}, kColormap, "0", "max in the tile", "weight:");
  cv::circle(img, {lx + 8, 155}, 7, kQueryMark, 2, cv::LINE_AA);
  put_text(img, "query", {lx + 22, 161}, 0.5);
  if (cap.padded_height > cap.height || cap.padded_width > cap.width) {
    cv::rectangle(img, cv::Rect(lx + 90, 148, 14, 14), cv::Scalar(90, 90, 90), cv::FILLED);
    put_text(img, "zero-padded tokens (the map is smaller than k x d: padding policy, spec 1.5)", {lx + 110, 161}, 0.5);
  }

  int y = header_h;
  for (size_t qi = 0; qi < queries.size(); ++qi) {
    const Cell q = queries[qi];
    const Window w = na_window(geom, q);
    cv::line(img, {kMargin, y}, {width - kMargin, y}, colour::kGridLine, 1);
    std::ostringstream qh;
    const int64_t sr = w.rows.start - w.centred_first.row, sc = w.cols.start - w.centred_first.col;
    qh << "query (" << q.row << ", " << q.col << "): keys in rows " << w.rows.keys.front() << ".." << w.rows.keys.back()
       << ", cols " << w.cols.keys.front() << ".." << w.cols.keys.back();
    if (cap.dilation > 1) qh << " (every " << cap.dilation << "th)";
    if (sr || sc)
      qh << "  - border rule: window shifted " << (sr ? (sr > 0 ? "down " : "up ") + std::to_string(std::abs(sr)) : "")
         << (sr && sc ? ", " : "") << (sc ? (sc > 0 ? "right " : "left ") + std::to_string(std::abs(sc)) : "");
    else
      qh << "  - interior: window centred on the query";
    put_text(img, qh.str(), {kMargin, y + 24}, 0.55, 2);
    const int a_q = static_cast<int>((q.row - w.rows.start) / cap.dilation);
    const int b_q = static_cast<int>((q.col - w.cols.start) / cap.dilation);

    for (size_t hi = 0; hi < heads.size(); ++hi) {
      const int64_t h = heads[hi];
      const int tx = kMargin + static_cast<int>(hi % kTilesPerLine) * tile_w;
      const int ty = y + query_head_h + static_cast<int>(hi / kTilesPerLine) * tile_h;
      AttentionTile tile;
      tile.query = qi;
      tile.head = h;
      tile.image = {tx, ty + 26, area_w, area_h};
      tile.token_w = token_w;
      tile.token_h = token_h;
      tile.slots = {{tx + area_w + 16, ty + 26 + 18}, scell, k, k};

      float wmax = 0;
      for (int64_t t = 0; t < kk; ++t) wmax = std::max(wmax, cap.weight(h, q, t));
      std::ostringstream th;
      th << "head " << h << "   max " << pct(wmax) << "%   sum " << std::fixed;
      th.precision(4);
      th << cap.row_sum(h, q);
      put_text(img, th.str(), {tx, ty + 18}, 0.5);

      base.copyTo(img(tile.image));
      for (int64_t t = 0; t < kk; ++t) {
        const Cell key = w.keys[static_cast<size_t>(t)];
        const double v = wmax > 0 ? cap.weight(h, q, t) / wmax : 0;
        cv::Rect r = tile.token_rect(key.row, key.col) & tile.image;
        cv::Vec3b c = colormap_colour(v, kColormap);
        cv::Mat roi = img(r);
        cv::Mat overlay(roi.size(), CV_8UC3, cv::Scalar(c[0], c[1], c[2]));
        cv::addWeighted(overlay, kHeatAlpha, roi, 1 - kHeatAlpha, 0, roi);
        if (token_w >= 6) cv::rectangle(img, r, cv::Scalar(235, 235, 235), 1);
      }
      {  // the window's outline (its bounding box) and the query mark
        cv::Rect a = tile.token_rect(w.keys.front().row, w.keys.front().col);
        cv::Rect b = tile.token_rect(w.keys.back().row, w.keys.back().col);
        cv::rectangle(img, cv::Rect(a.tl(), b.br()) & tile.image, cv::Scalar(255, 255, 255), 1);
        // A ring inside the query's token (around it when tokens are tiny), clipped to the tile.
        cv::Rect qr = tile.token_rect(q.row, q.col);
        int rad = std::max(6, static_cast<int>(std::lround(0.35 * std::min(token_w, token_h))) + 3);
        cv::Mat area = img(tile.image);
        cv::circle(area, {qr.x - tile.image.x + qr.width / 2, qr.y - tile.image.y + qr.height / 2}, rad, kQueryMark, 2,
                   cv::LINE_AA);
      }
      put_text(img, "slots (%)", {tile.slots.origin.x, tile.slots.origin.y - 6}, 0.45, 1, colour::kMuted);
      for (int64_t a = 0; a < k; ++a)
        for (int64_t b = 0; b < k; ++b) {
          const float v = cap.weight(h, q, a * k + b);
          cv::Rect r = tile.slots.rect(a, b);
          cv::Vec3b c = colormap_colour(wmax > 0 ? v / wmax : 0, kColormap);
          cv::rectangle(img, r, cv::Scalar(c[0], c[1], c[2]), cv::FILLED);
          cv::rectangle(img, r, cv::Scalar(255, 255, 255), 1);
          if (scell >= 22) {
            double lum = 0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2];
            put_text_centred(img, pct(v), {r.x + r.width / 2, r.y + r.height / 2}, 0.33,
                             lum > 140 ? cv::Scalar(20, 20, 20) : cv::Scalar(245, 245, 245));
          }
        }
      cv::rectangle(img, tile.slots.rect(a_q, b_q), kQueryMark, 2);
      fig.tiles.push_back(tile);
    }
    y += query_head_h + lines_per_query * tile_h + 10;
  }
  return fig;
}

#endif

}  // namespace nat::viz
