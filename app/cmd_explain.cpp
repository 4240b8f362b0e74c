// `nat explain na`: draws Neighborhood Attention's windows on a feature map — for a few queries the keys they
// attend and the rpb cells they use, optionally the inverse neighbourhood of a key — from the same index
// functions the kernels call (ops/na_index.h via app/viz/na_window.h), and prints the same numbers.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "app/args.h"
#include "app/commands.h"
#include "app/viz/cli.h"
#include "app/viz/na_diagram.h"
#include "app/viz/na_window.h"
#include "core/error.h"

#if NAT_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>
#endif

namespace nat::app {

namespace {

const char* kHelp =
    "usage: nat explain na --size H,W --kernel-size K [--dilation D] [--query ROW,COL ...]\n"
    "                      [--inverse ROW,COL] [--out na.png]\n\n"
    "Draws an H x W feature map and, for each query (default: a corner, an edge and the centre), the k x k\n"
    "keys it attends and the cells of the (2k-1) x (2k-1) relative positional bias its logits add. Near a\n"
    "border the window is shifted inward (a dashed box shows where a centred window would have been); with\n"
    "dilation D the keys are D apart and stay in the query's residue class. --inverse adds the queries that\n"
    "attend one key: the set backward gathers dK and dV from. The windows come from ops/na_index.h, the\n"
    "functions the NA kernels use. The numbers are printed too; --out (default na.png) gets the picture.\n";

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ' ';
    s += std::to_string(v[i]);
  }
  return s;
}

int explain_na(std::vector<std::string> argv) {
  std::vector<std::string> query_args = viz::take_option(argv, "query");
  Args a("explain na", argv, {"size", "kernel-size", "dilation", "inverse", "out"});
  if (a.help()) {
    std::printf("%s", kHelp);
    return 0;
  }
  NAT_CHECK(a.positional().empty(), "unexpected argument '", a.positional()[0], "' (see nat explain na --help)");
  auto [H, W] = viz::parse_size(a.required("size"), "--size");
  viz::NaGeometry g{
      .height = H, .width = W, .kernel_size = a.get_int("kernel-size", 7), .dilation = a.get_int("dilation", 1)};
  g.validate();
  std::vector<viz::Cell> queries;
  queries.reserve(query_args.size());
  for (const auto& q : query_args) queries.push_back(viz::parse_cell(q, "--query"));
  if (queries.empty()) queries = viz::default_queries(H, W);
  std::optional<viz::Cell> inverse;
  if (a.has("inverse")) inverse = viz::parse_cell(a.get("inverse"), "--inverse");

  std::printf("NA on a %lld x %lld map, kernel %lld, dilation %lld: each query attends %lld keys\n",
              static_cast<long long>(H), static_cast<long long>(W), static_cast<long long>(g.kernel_size),
              static_cast<long long>(g.dilation), static_cast<long long>(g.kernel_size) * g.kernel_size);
  for (const auto& q : queries) {
    viz::Window w = viz::na_window(g, q);
    std::printf(
        "  query (%lld, %lld)%s\n    rows: start %lld, keys %s; rpb rows %s\n"
        "    cols: start %lld, keys %s; rpb cols %s\n",
        static_cast<long long>(q.row), static_cast<long long>(q.col),
        w.shifted() ? "  (border: window shifted inward)" : "", static_cast<long long>(w.rows.start),
        join(w.rows.keys).c_str(), join(w.rows.rpb).c_str(), static_cast<long long>(w.cols.start),
        join(w.cols.keys).c_str(), join(w.cols.rpb).c_str());
  }
  if (inverse) {
    auto inv = viz::inverse_neighbourhood(g, *inverse);
    std::printf("  key (%lld, %lld) is attended by %zu queries: rows %lld..%lld, cols %lld..%lld (step %lld)\n",
                static_cast<long long>(inverse->row), static_cast<long long>(inverse->col), inv.size(),
                static_cast<long long>(inv.front().row), static_cast<long long>(inv.back().row),
                static_cast<long long>(inv.front().col), static_cast<long long>(inv.back().col),
                static_cast<long long>(g.dilation));
  }
#if NAT_WITH_OPENCV
  std::string out = a.get("out", "na.png");
  viz::NaDiagram d = viz::render_na_diagram(g, queries, inverse);
  NAT_CHECK(cv::imwrite(out, d.image, {cv::IMWRITE_PNG_COMPRESSION, 9}), "[explain] could not write ", out);
  std::printf("wrote %s (%d x %d)\n", out.c_str(), d.image.cols, d.image.rows);
#else
  std::printf("(no picture: this build has no OpenCV)\n");
#endif
  return 0;
}

}  // namespace

int cmd_explain(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf("usage: nat explain na [options]   (see nat explain na --help)\n\n%s", kHelp);
    return args.empty() ? 1 : 0;
  }
  NAT_CHECK(args[0] == "na", "unknown topic '", args[0], "' for nat explain (known: na)");
  return explain_na(std::vector<std::string>(args.begin() + 1, args.end()));
}

}  // namespace nat::app
