// The `nat explain na` windows against the index tables of docs/na.md §2 and §4: the cells computed by app/viz/na_window
// and the cells actually painted in the picture (read back from its pixels) are the tables' keys and rpb
// indices; the inverse neighbourhoods equal the sets found by scanning every query's window.
#include <gtest/gtest.h>

#include <set>

#include "app/viz/cli.h"
#include "app/viz/na_diagram.h"
#include "app/viz/na_window.h"
#include "support/expect_error.h"

#if NAT_WITH_OPENCV
#include "app/viz/draw.h"
#endif

using namespace nat;
using namespace nat::viz;

namespace {

// One §6.1 table: per-axis window starts and pb_starts for L, k, d.
struct Table {
  int64_t L, k, d;
  std::vector<int64_t> start, pb_start;
};

const std::vector<Table>& spec_tables() {
  static const std::vector<Table> t = {
      {10, 7, 1, {0, 0, 0, 0, 1, 2, 3, 3, 3, 3}, {6, 5, 4, 3, 3, 3, 3, 2, 1, 0}},
      {10, 3, 3, {0, 1, 2, 0, 1, 2, 3, 1, 2, 3}, {2, 2, 2, 1, 1, 1, 1, 0, 0, 0}},
      {9, 3, 2, {0, 1, 0, 1, 2, 3, 4, 3, 4}, {2, 2, 1, 1, 1, 1, 1, 0, 0}},
      {7, 7, 1, {0, 0, 0, 0, 0, 0, 0}, {6, 5, 4, 3, 2, 1, 0}},
  };
  return t;
}

std::vector<int64_t> table_keys(const Table& t, int64_t i) {
  std::vector<int64_t> keys;
  for (int64_t s = 0; s < t.k; ++s) keys.push_back(t.start[i] + s * t.d);
  return keys;
}

std::vector<int64_t> table_rpb(const Table& t, int64_t i) {
  std::vector<int64_t> r;
  for (int64_t s = 0; s < t.k; ++s) r.push_back(t.pb_start[i] + s);
  return r;
}

}  // namespace

TEST(AppNaWindow, AxisWindowsAreTheSpecTables) {
  for (const Table& t : spec_tables())
    for (int64_t i = 0; i < t.L; ++i) {
      AxisWindow w = axis_window(i, t.L, t.k, t.d);
      EXPECT_EQ(w.start, t.start[i]) << "L=" << t.L << " k=" << t.k << " d=" << t.d << " i=" << i;
      EXPECT_EQ(w.pb_start, t.pb_start[i]) << "L=" << t.L << " k=" << t.k << " d=" << t.d << " i=" << i;
      EXPECT_EQ(w.keys, table_keys(t, i));
      EXPECT_EQ(w.rpb, table_rpb(t, i));
    }
  // The key sets spelled out for L=10, k=3, d=3.
  EXPECT_EQ(axis_window(6, 10, 3, 3).keys, (std::vector<int64_t>{3, 6, 9}));
  EXPECT_EQ(axis_window(9, 10, 3, 3).keys, (std::vector<int64_t>{3, 6, 9}));
}

TEST(AppNaWindow, WindowIsTheProductOfTheAxesInSlotOrder) {
  NaGeometry g{.height = 10, .width = 9, .kernel_size = 3, .dilation = 2};
  for (int64_t i = 0; i < g.height; ++i)
    for (int64_t j = 0; j < g.width; ++j) {
      Window w = na_window(g, {i, j});
      ASSERT_EQ(w.keys.size(), 9u);
      for (int64_t a = 0; a < 3; ++a)
        for (int64_t b = 0; b < 3; ++b) {
          const Cell& key = w.keys[static_cast<size_t>(a * 3 + b)];
          const Cell product{w.rows.keys[a], w.cols.keys[b]};
          EXPECT_EQ(key, product);
          EXPECT_EQ(key.row % 2, i % 2);  // the query's dilation class
          EXPECT_EQ(key.col % 2, j % 2);
          // rpb index = (k - 1) + (key - query) / d on each axis.
          const Cell want{2 + (key.row - i) / 2, 2 + (key.col - j) / 2};
          EXPECT_EQ(w.rpb[static_cast<size_t>(a * 3 + b)], want);
        }
      EXPECT_EQ(w.shifted(), w.rows.start != i - 2 || w.cols.start != j - 2);
    }
}

TEST(AppNaWindow, InverseNeighbourhoodIsEveryQueryWhoseWindowHoldsTheKey) {
  for (NaGeometry g : {NaGeometry{.height = 10, .width = 10, .kernel_size = 7, .dilation = 1},
                       NaGeometry{.height = 10, .width = 9, .kernel_size = 3, .dilation = 3},
                       NaGeometry{.height = 16, .width = 14, .kernel_size = 5, .dilation = 2}}) {
    std::map<Cell, std::set<Cell>> seen_by;
    for (int64_t i = 0; i < g.height; ++i)
      for (int64_t j = 0; j < g.width; ++j)
        for (const Cell& key : na_window(g, {i, j}).keys) seen_by[key].insert({i, j});
    for (int64_t i = 0; i < g.height; ++i)
      for (int64_t j = 0; j < g.width; ++j) {
        std::vector<Cell> inv = inverse_neighbourhood(g, {i, j});
        const std::set<Cell>& want = seen_by[Cell{i, j}];
        EXPECT_EQ(std::set<Cell>(inv.begin(), inv.end()), want) << "key (" << i << ", " << j << ")";
        EXPECT_EQ(std::set<Cell>(inv.begin(), inv.end()).size(), inv.size());
      }
  }
}

TEST(AppNaWindow, RejectsBadGeometryAndArguments) {
  NAT_EXPECT_ERROR(na_window({.height = 6, .width = 10, .kernel_size = 7}, {0, 0}), "at least 7 x 7");
  NAT_EXPECT_ERROR(na_window({.height = 10, .width = 10, .kernel_size = 4}, {0, 0}), "odd");
  NAT_EXPECT_ERROR(na_window({.height = 10, .width = 10, .kernel_size = 3}, {10, 0}), "outside");
  NAT_EXPECT_ERROR(parse_cell("3", "--query"), "ROW,COL");
  NAT_EXPECT_ERROR(parse_cell("3,x", "--query"), "integers");
  EXPECT_EQ(parse_size("14", "--size"), (std::pair<int64_t, int64_t>{14, 14}));
  EXPECT_EQ(parse_size("7,9", "--size"), (std::pair<int64_t, int64_t>{7, 9}));
  std::vector<std::string> argv = {"--query", "0,0", "--size", "9", "--query=3,4"};
  EXPECT_EQ(take_option(argv, "query"), (std::vector<std::string>{"0,0", "3,4"}));
  EXPECT_EQ(argv, (std::vector<std::string>{"--size", "9"}));
}

#if NAT_WITH_OPENCV
namespace {

bool is(const cv::Mat& img, const GridPlacement& g, Cell c, const cv::Scalar& colour) {
  cv::Rect r = g.rect(c.row, c.col);
  cv::Vec3b px = img.at<cv::Vec3b>(r.y + r.height / 4, r.x + r.width / 4);
  return px ==
         cv::Vec3b(static_cast<uint8_t>(colour[0]), static_cast<uint8_t>(colour[1]), static_cast<uint8_t>(colour[2]));
}

}  // namespace

// Render each §6.1 table as a square map, with queries on both diagonals (every row and every column index
// of the table is some query's), then read the painted cells back from the pixels.
TEST(AppNaWindow, DrawnWindowsAreTheSpecTables) {
  for (const Table& t : spec_tables()) {
    SCOPED_TRACE("L=" + std::to_string(t.L) + " k=" + std::to_string(t.k) + " d=" + std::to_string(t.d));
    NaGeometry g{.height = t.L, .width = t.L, .kernel_size = t.k, .dilation = t.d};
    std::vector<Cell> queries;
    for (int64_t i = 0; i < t.L; ++i) queries.push_back({i, (i * 3) % t.L});
    NaDiagram d = render_na_diagram(g, queries);
    ASSERT_EQ(d.rows.size(), queries.size());
    for (size_t n = 0; n < queries.size(); ++n) {
      const Cell q = queries[n];
      const NaDiagramRow& row = d.rows[n];
      std::set<int64_t> drawn_rows, drawn_cols;
      std::set<Cell> drawn_rpb;
      for (int64_t r = 0; r < t.L; ++r)
        for (int64_t c = 0; c < t.L; ++c) {
          bool query = is(d.image, row.map, {r, c}, colour::kQuery), key = is(d.image, row.map, {r, c}, colour::kKey);
          EXPECT_EQ(query, (Cell{r, c} == q)) << "cell (" << r << ", " << c << ") of query " << n;
          if (query || key) drawn_rows.insert(r), drawn_cols.insert(c);
          if (!query && !key) {
            EXPECT_TRUE(is(d.image, row.map, {r, c}, colour::kCell) || is(d.image, row.map, {r, c}, colour::kClass));
          }
        }
      ASSERT_TRUE(row.rpb.has_value());
      for (int64_t r = 0; r < 2 * t.k - 1; ++r)
        for (int64_t c = 0; c < 2 * t.k - 1; ++c)
          if (is(d.image, *row.rpb, {r, c}, colour::kRpb)) {
            drawn_rpb.insert({r, c});
          } else {
            EXPECT_TRUE(is(d.image, *row.rpb, {r, c}, colour::kCell));
          }
      auto kr = table_keys(t, q.row), kc = table_keys(t, q.col);
      EXPECT_EQ(drawn_rows, std::set<int64_t>(kr.begin(), kr.end())) << "query " << n;
      EXPECT_EQ(drawn_cols, std::set<int64_t>(kc.begin(), kc.end())) << "query " << n;
      // Every key cell of the product is painted (not just the right rows and columns).
      for (int64_t r : kr)
        for (int64_t c : kc) EXPECT_TRUE(is(d.image, row.map, {r, c}, colour::kKey) || (Cell{r, c} == q));
      std::set<Cell> want_rpb;
      for (int64_t r : table_rpb(t, q.row))
        for (int64_t c : table_rpb(t, q.col)) want_rpb.insert({r, c});
      EXPECT_EQ(drawn_rpb, want_rpb) << "query " << n;
    }
  }
}

TEST(AppNaWindow, DrawnInverseNeighbourhoodIsTheAttendingQueries) {
  NaGeometry g{.height = 10, .width = 9, .kernel_size = 3, .dilation = 3};
  const Cell key{6, 0};
  NaDiagram d = render_na_diagram(g, {}, key);
  ASSERT_EQ(d.rows.size(), 1u);
  std::set<Cell> drawn;
  for (int64_t r = 0; r < g.height; ++r)
    for (int64_t c = 0; c < g.width; ++c)
      if (is(d.image, d.rows[0].map, {r, c}, colour::kInverse) || Cell{r, c} == key) drawn.insert({r, c});
  EXPECT_TRUE(is(d.image, d.rows[0].map, key, colour::kChosenKey));
  std::set<Cell> want;
  for (int64_t i = 0; i < g.height; ++i)
    for (int64_t j = 0; j < g.width; ++j)
      for (const Cell& k : na_window(g, {i, j}).keys)
        if (k == key) want.insert({i, j});
  EXPECT_EQ(drawn, want);
}
#endif
