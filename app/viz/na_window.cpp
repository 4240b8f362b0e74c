// Window, rpb and inverse-neighbourhood cells for the NA diagrams, from ops/na_index.h only.
#include "app/viz/na_window.h"

#include "core/error.h"
#include "ops/na_index.h"

namespace nat::viz {

AxisWindow axis_window(int64_t i, int64_t length, int64_t k, int64_t d) {
  AxisWindow w;
  w.start = na_window_start(i, length, k, d);
  w.pb_start = na_pb_start(i, length, k, d);
  for (int64_t t = 0; t < k; ++t) {
    w.keys.push_back(w.start + t * d);
    w.rpb.push_back(w.pb_start + t);
  }
  return w;
}

void NaGeometry::validate() const {
  NAT_CHECK(kernel_size >= 1 && kernel_size % 2 == 1, "[na window] kernel size must be odd and >= 1, got ",
            kernel_size);
  NAT_CHECK(dilation >= 1, "[na window] dilation must be >= 1, got ", dilation);
  NAT_CHECK(height >= kernel_size * dilation && width >= kernel_size * dilation, "[na window] kernel size ",
            kernel_size, " x dilation ", dilation, " needs a map of at least ", kernel_size * dilation, " x ",
            kernel_size * dilation, ", got ", height, " x ", width);
}

bool Window::shifted() const { return keys.front() != centred_first || keys.back() != centred_last; }

Window na_window(const NaGeometry& g, Cell q) {
  g.validate();
  NAT_CHECK(q.row >= 0 && q.row < g.height && q.col >= 0 && q.col < g.width, "[na window] query (", q.row, ",", q.col,
            ") is outside the ", g.height, " x ", g.width, " map");
  const int64_t k = g.kernel_size, d = g.dilation, ns = k / 2;
  Window w;
  w.query = q;
  w.rows = axis_window(q.row, g.height, k, d);
  w.cols = axis_window(q.col, g.width, k, d);
  for (int64_t a = 0; a < k; ++a)
    for (int64_t b = 0; b < k; ++b) {
      w.keys.push_back({w.rows.keys[a], w.cols.keys[b]});
      w.rpb.push_back({w.rows.rpb[a], w.cols.rpb[b]});
    }
  w.centred_first = {q.row - ns * d, q.col - ns * d};
  w.centred_last = {q.row + ns * d, q.col + ns * d};
  return w;
}

std::vector<Cell> inverse_neighbourhood(const NaGeometry& g, Cell key) {
  g.validate();
  NAT_CHECK(key.row >= 0 && key.row < g.height && key.col >= 0 && key.col < g.width, "[na window] key (", key.row, ",",
            key.col, ") is outside the ", g.height, " x ", g.width, " map");
  int64_t r0 = 0, rn = 0, c0 = 0, cn = 0;
  na_inverse_range(key.row, g.height, g.kernel_size, g.dilation, r0, rn);
  na_inverse_range(key.col, g.width, g.kernel_size, g.dilation, c0, cn);
  std::vector<Cell> out;
  for (int64_t a = 0; a < rn; ++a)
    for (int64_t b = 0; b < cn; ++b) out.push_back({r0 + a * g.dilation, c0 + b * g.dilation});
  return out;
}

std::vector<Cell> default_queries(int64_t height, int64_t width) {
  return {{0, 0}, {height / 2, 0}, {height / 2, width / 2}};
}

}  // namespace nat::viz
