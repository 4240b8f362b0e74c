// What one Neighborhood Attention query reads, as cells to draw: its k*k keys (in slot order) and the rpb
// cells its logits add, on a 2-D map with per-axis window rules (docs/na.md §2–§4), plus the inverse
// neighbourhood of a key (§2.2: the queries whose windows hold it, which dK/dV gather from). Computed only
// with ops/na_index.h, the functions the kernels call, so a diagram drawn from these cells shows exactly the
// windows the kernels use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nat::viz {

struct Cell {
  int64_t row = 0, col = 0;
  bool operator==(const Cell&) const = default;
  auto operator<=>(const Cell&) const = default;
};

// One axis of a window: key positions start, start + d, ..., start + (k - 1) d and rpb indices
// pb_start, ..., pb_start + k - 1 along that axis.
struct AxisWindow {
  int64_t start = 0, pb_start = 0;
  std::vector<int64_t> keys, rpb;
};
AxisWindow axis_window(int64_t i, int64_t length, int64_t kernel_size, int64_t dilation);

struct NaGeometry {
  int64_t height = 0, width = 0, kernel_size = 7, dilation = 1;
  void validate() const;  // odd k >= 1, d >= 1, both sides >= k * d; throws naming the value
};

struct Window {
  Cell query;
  AxisWindow rows, cols;
  std::vector<Cell> keys;  // k*k, slot t = a*k + b at (rows.keys[a], cols.keys[b])
  std::vector<Cell> rpb;   // k*k, slot t's cell in the (2k-1) x (2k-1) table
  // The window centred on the query, as it would be without the border rule (may leave the map); equal to
  // `keys` exactly for interior queries.
  Cell centred_first, centred_last;
  bool shifted() const;  // the border rule moved the window on some axis
};
Window na_window(const NaGeometry& g, Cell query);

// The queries that attend `key`, in row-major order, from na_inverse_range on each axis.
std::vector<Cell> inverse_neighbourhood(const NaGeometry& g, Cell key);

// The default queries of `nat explain na` and `nat attn`: a corner, an edge and the centre.
std::vector<Cell> default_queries(int64_t height, int64_t width);

}  // namespace nat::viz
