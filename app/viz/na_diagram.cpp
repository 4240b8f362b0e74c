// Draws the `nat explain na` picture from na_window() / inverse_neighbourhood() cells.
#include "app/viz/na_diagram.h"

#if NAT_WITH_OPENCV
#include <algorithm>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "app/viz/draw.h"

namespace nat::viz {

namespace {

constexpr int kMargin = 24;
constexpr int kRowGap = 36;
constexpr int kLineHeight = 22;

std::string join(const std::vector<int64_t>& v) {
  std::ostringstream os;
  for (size_t i = 0; i < v.size(); ++i) os << (i ? " " : "") << v[i];
  return os.str();
}

std::string signed_shift(int64_t cells, const char* plus, const char* minus) {
  std::ostringstream os;
  os << (cells > 0 ? plus : minus) << " " << std::abs(cells);
  return os.str();
}

// Grid background, lines and index labels (every `step`-th index so labels do not collide).
void draw_grid(cv::Mat& img, const GridPlacement& g) {
  for (int64_t r = 0; r < g.rows; ++r)
    for (int64_t c = 0; c < g.cols; ++c) cv::rectangle(img, g.rect(r, c), colour::kCell, cv::FILLED);
  const double fs = 0.4;
  const int col_step = std::max(1, (text_size("00", fs).width + 6 + g.cell - 1) / g.cell);
  const int row_step = std::max(1, (text_size("0", fs).height + 6 + g.cell - 1) / g.cell);
  for (int64_t c = 0; c < g.cols; c += col_step)
    put_text_centred(img, std::to_string(c), {g.rect(0, c).x + g.cell / 2, g.origin.y - 10}, fs, colour::kMuted);
  for (int64_t r = 0; r < g.rows; r += row_step) {
    std::string s = std::to_string(r);
    put_text(img, s, {g.origin.x - 6 - text_size(s, fs).width, g.rect(r, 0).y + g.cell / 2 + 5}, fs, 1, colour::kMuted);
  }
}

void draw_grid_lines(cv::Mat& img, const GridPlacement& g) {
  if (g.cell < 6) return;
  for (int64_t r = 0; r <= g.rows; ++r) {
    int y = g.origin.y + static_cast<int>(r) * g.cell;
    cv::line(img, {g.origin.x, y}, {g.origin.x + static_cast<int>(g.cols) * g.cell, y}, colour::kGridLine, 1);
  }
  for (int64_t c = 0; c <= g.cols; ++c) {
    int x = g.origin.x + static_cast<int>(c) * g.cell;
    cv::line(img, {x, g.origin.y}, {x, g.origin.y + static_cast<int>(g.rows) * g.cell}, colour::kGridLine, 1);
  }
}

void fill(cv::Mat& img, const GridPlacement& g, Cell c, const cv::Scalar& colour) {
  cv::rectangle(img, g.rect(c.row, c.col), colour, cv::FILLED);
}

void marker(cv::Mat& img, const GridPlacement& g, Cell c) {
  cv::Rect r = g.rect(c.row, c.col);
  cv::circle(img, {r.x + r.width / 2, r.y + r.height / 2}, std::max(2, g.cell / 5), cv::Scalar(20, 20, 20), cv::FILLED,
             cv::LINE_AA);
}

}  // namespace

NaDiagram render_na_diagram(const NaGeometry& g, const std::vector<Cell>& queries,
                            const std::optional<Cell>& inverse_key) {
  g.validate();
  const int64_t k = g.kernel_size, d = g.dilation, H = g.height, W = g.width, R = 2 * k - 1;
  const int cell = static_cast<int>(std::clamp<int64_t>(380 / std::max(H, W), 4, 34));
  const int rcell = static_cast<int>(std::clamp<int64_t>(240 / R, 6, 26));
  // Room around the map for the dashed "centred window" box of border queries.
  const int halo = std::min<int>(static_cast<int>((k / 2) * d) * cell, 60);
  const int label_w = 34;
  const int map_x = kMargin + label_w + halo;
  const int map_w = static_cast<int>(W) * cell, map_h = static_cast<int>(H) * cell;
  const int rpb_x = map_x + map_w + halo + 70;
  const int rpb_w = static_cast<int>(R) * rcell, rpb_h = rpb_w;
  const int text_x = rpb_x + std::max(rpb_w, text_size("rpb table, 25 x 25 per head", 0.5).width) + 40;
  const int text_w = 600;
  const int header_h = 142;
  // A row: caption line, column labels, then the map inside its halo (the rpb table and text to its right).
  const int grid_top = 56;
  // Vertical room for a query's dashed box: only as much as its centred window leaves the map, up to `halo`.
  auto above = [&](const Window& w) {
    return std::min<int>(halo, static_cast<int>(std::max<int64_t>(0, -w.centred_first.row)) * cell);
  };
  auto below = [&](const Window& w) {
    return std::min<int>(halo, static_cast<int>(std::max<int64_t>(0, w.centred_last.row - (H - 1))) * cell);
  };
  auto row_height = [&](int up, int down) {
    return grid_top + std::max({up + map_h + down, rpb_h, 7 * kLineHeight}) + 8;
  };

  NaDiagram out;
  const int width = text_x + text_w;
  int height = header_h + (d > 1 ? 22 : 0) + kMargin;
  for (const Cell& q : queries) {
    Window w = na_window(g, q);
    height += row_height(above(w), below(w)) + kRowGap;
  }
  if (inverse_key) height += row_height(0, 0) + kRowGap;
  out.image = cv::Mat(height, width, CV_8UC3, colour::kBackground);
  cv::Mat& img = out.image;

  // Title and legend.
  std::ostringstream title;
  title << "Neighborhood attention on a " << H << " x " << W << " map: kernel k = " << k << ", dilation d = " << d;
  put_text(img, title.str(), {kMargin, 32}, 0.7, 2);
  std::ostringstream sub;
  sub << "Every query attends exactly k x k = " << k * k
      << " keys. Near a border the window shifts inward (never padded"
      << " or masked).";
  put_text(img, sub.str(), {kMargin, 60}, 0.5);
  int ly = 92;
  if (d > 1) {
    std::ostringstream dil;
    dil << "Dilation " << d << ": the keys are " << d << " apart and share the query's row and column mod " << d
        << "; each class is its own smaller NA problem.";
    put_text(img, dil.str(), {kMargin, 84}, 0.5);
    ly += 22;
  }
  int lx = kMargin;
  lx = legend_item(img, {lx, ly}, colour::kQuery, "query");
  lx = legend_item(img, {lx, ly}, colour::kKey, "key it attends");
  if (d > 1) lx = legend_item(img, {lx, ly}, colour::kClass, "query's dilation class");
  lx = legend_item(img, {lx, ly}, colour::kQuery, "centred window (where the border rule moved it from)", true);
  if (inverse_key) {
    lx = legend_item(img, {lx, ly}, colour::kChosenKey, "a key");
    legend_item(img, {lx, ly}, colour::kInverse, "the queries attending it");
  }
  lx = kMargin;
  ly += 26;
  lx = legend_item(img, {lx, ly}, colour::kRpb, "rpb entry its logits add (rows: vertical offset, cols: horizontal)");
  cv::circle(img, {lx + 7, ly - 5}, 4, cv::Scalar(20, 20, 20), cv::FILLED, cv::LINE_AA);
  put_text(img, "rpb centre: offset 0 (key = query)", {lx + 20, ly}, 0.5);

  int y0 = header_h + (d > 1 ? 22 : 0);
  for (const Cell& q : queries) {
    NaDiagramRow row;
    Window w = na_window(g, q);
    const int up = above(w), down = below(w);
    row.map = {{map_x, y0 + grid_top + up}, cell, H, W};
    row.rpb = GridPlacement{{rpb_x, y0 + grid_top}, rcell, R, R};
    cv::line(img, {kMargin, y0 + 4}, {width - kMargin, y0 + 4}, colour::kGridLine, 1);

    std::ostringstream cap;
    cap << "feature map " << H << " x " << W << ", query (" << q.row << ", " << q.col << ")";
    put_text(img, cap.str(), {map_x - halo, y0 + 28}, 0.5);
    draw_grid(img, row.map);
    if (d > 1)
      for (int64_t r = q.row % d; r < H; r += d)
        for (int64_t c = q.col % d; c < W; c += d) fill(img, row.map, {r, c}, colour::kClass);
    for (const Cell& key : w.keys) fill(img, row.map, key, colour::kKey);
    fill(img, row.map, q, colour::kQuery);
    draw_grid_lines(img, row.map);
    if (w.shifted()) {
      cv::Rect a = row.map.rect(w.centred_first.row, w.centred_first.col);
      cv::Rect b = row.map.rect(w.centred_last.row, w.centred_last.col);
      cv::Rect box(a.tl(), b.br());
      cv::Rect panel(map_x - halo, row.map.origin.y - up, map_w + 2 * halo, up + map_h + down);
      dashed_rectangle(img, box & panel, colour::kQuery, 2, 6);
    }

    std::ostringstream rcap;
    rcap << "rpb table, " << R << " x " << R << " per head";
    put_text(img, rcap.str(), {rpb_x, y0 + 28}, 0.5);
    draw_grid(img, *row.rpb);
    for (const Cell& c : w.rpb) fill(img, *row.rpb, c, colour::kRpb);
    draw_grid_lines(img, *row.rpb);
    marker(img, *row.rpb, {k - 1, k - 1});

    const int64_t shift_r = w.rows.start - w.centred_first.row, shift_c = w.cols.start - w.centred_first.col;
    std::vector<std::string> lines;
    std::ostringstream l;
    l << "query (" << q.row << ", " << q.col << "): "
      << (shift_r && shift_c   ? "corner region, window shifted on both axes"
          : shift_r || shift_c ? "border region, window shifted on one axis"
                               : "interior, window centred");
    lines.push_back(l.str());
    auto axis_line = [&](const char* name, const AxisWindow& a, int64_t shift, const char* plus, const char* minus) {
      std::ostringstream s;
      s << name << ": keys " << join(a.keys) << "   (start " << a.start
        << (shift ? ", shifted " + signed_shift(shift, plus, minus) : std::string(", centred")) << ")";
      lines.push_back(s.str());
    };
    axis_line("rows", w.rows, shift_r, "down", "up");
    axis_line("cols", w.cols, shift_c, "right", "left");
    std::ostringstream rp;
    rp << "rpb cells: rows " << w.rows.pb_start << ".." << w.rows.pb_start + k - 1 << ", cols " << w.cols.pb_start
       << ".." << w.cols.pb_start + k - 1;
    lines.push_back(rp.str());
    lines.push_back("");
    std::ostringstream f1, f2;
    f1 << "start = r + d * clamp(i/d - " << k / 2 << ", 0, L_r - " << k << "), r = i mod d";
    f2 << "rpb index = " << k - 1 << " + (key - query) / d";
    lines.push_back(f1.str());
    lines.push_back("      (na_window_start in ops/na_index.h)");
    lines.push_back(f2.str() + "   (na_pb_start)");
    for (size_t i = 0; i < lines.size(); ++i)
      put_text(img, lines[i], {text_x, y0 + 28 + static_cast<int>(i) * kLineHeight}, i == 0 ? 0.55 : 0.5,
               i == 0 ? 2 : 1, i >= 5 ? colour::kMuted : colour::kText);
    row.window = w;
    out.rows.push_back(row);
    y0 += row_height(up, down) + kRowGap;
  }

  if (inverse_key) {
    NaDiagramRow row;
    row.inverse_key = *inverse_key;
    row.inverse = inverse_neighbourhood(g, *inverse_key);
    row.map = {{map_x, y0 + grid_top}, cell, H, W};
    cv::line(img, {kMargin, y0 + 4}, {width - kMargin, y0 + 4}, colour::kGridLine, 1);
    std::ostringstream cap;
    cap << "backward: who attends key (" << inverse_key->row << ", " << inverse_key->col << ")";
    put_text(img, cap.str(), {map_x - halo, y0 + 28}, 0.5);
    draw_grid(img, row.map);
    for (const Cell& c : row.inverse) fill(img, row.map, c, colour::kInverse);
    fill(img, row.map, *inverse_key, colour::kChosenKey);
    draw_grid_lines(img, row.map);
    int64_t r0 = row.inverse.front().row, r1 = row.inverse.back().row;
    int64_t c0 = row.inverse.front().col, c1 = row.inverse.back().col;
    std::vector<std::string> lines;
    std::ostringstream a, b, c;
    a << "key (" << inverse_key->row << ", " << inverse_key->col << ") is in the windows of " << row.inverse.size()
      << " queries";
    b << "rows " << r0 << ".." << r1 << ", cols " << c0 << ".." << c1 << (d > 1 ? " (step d)" : "");
    c << "an interior key is seen by k x k = " << k * k << "; border keys by more or fewer";
    lines = {a.str(),
             b.str(),
             c.str(),
             "",
             "dK and dV at this key sum over exactly these queries",
             "(a gather, no atomics: na_inverse_range, spec 2.2)"};
    for (size_t i = 0; i < lines.size(); ++i)
      put_text(img, lines[i], {rpb_x, y0 + 28 + static_cast<int>(i) * kLineHeight}, i == 0 ? 0.55 : 0.5, i == 0 ? 2 : 1,
               i >= 4 ? colour::kMuted : colour::kText);
    out.rows.push_back(row);
  }
  return out;
}

}  // namespace nat::viz
#endif
