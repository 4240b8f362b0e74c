// The `nat explain na` picture: for each chosen query, the H x W feature map with the query, the k*k keys it
// attends (and, at a border, a dashed box where a centred window would have been), the (2k-1) x (2k-1) rpb
// table with the cells its logits add, and the numbers behind both; optionally the inverse neighbourhood of
// one key (the queries whose windows contain it, which backward gathers dK and dV from). Everything drawn
// comes from app/viz/na_window.h, i.e. from ops/na_index.h.
#pragma once

#include <optional>
#include <vector>

#include "app/viz/na_window.h"

#if NAT_WITH_OPENCV
#include <opencv2/core.hpp>

namespace nat::viz {

// Where a grid was drawn: cell (r, c) covers [origin.x + c*cell, +cell) x [origin.y + r*cell, +cell).
struct GridPlacement {
  cv::Point origin;
  int cell = 0;
  int64_t rows = 0, cols = 0;
  cv::Rect rect(int64_t r, int64_t c) const {
    return {origin.x + static_cast<int>(c) * cell, origin.y + static_cast<int>(r) * cell, cell, cell};
  }
};

struct NaDiagramRow {
  std::optional<Window> window;      // a query row
  std::optional<Cell> inverse_key;   // an inverse-neighbourhood row
  std::vector<Cell> inverse;         // the queries attending inverse_key
  GridPlacement map;                 // the feature map grid
  std::optional<GridPlacement> rpb;  // the rpb table (query rows only)
};

struct NaDiagram {
  cv::Mat image;  // BGR
  std::vector<NaDiagramRow> rows;
};

NaDiagram render_na_diagram(const NaGeometry& g, const std::vector<Cell>& queries,
                            const std::optional<Cell>& inverse_key = std::nullopt);

}  // namespace nat::viz
#endif
