// `nat explain na`: draws Neighborhood Attention's windows on a feature map — for a few queries the keys they
// attend and the rpb cells they use, optionally the inverse neighbourhood of a key — from the same index
// functions the kernels call (ops/na_index.h via app/viz/na_window.h), and prints the same numbers.
// `nat explain ddp`: one traced data-parallel step (train/reducer.h) as a table and a timeline picture.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "app/args.h"
#include "app/commands.h"
#include "app/viz/cli.h"
#include "app/viz/ddp_timeline.h"
#include "app/viz/na_diagram.h"
#include "app/viz/na_window.h"
#include "autograd/autograd.h"
#include "core/error.h"
#include "core/rng.h"
#include "nn/nat.h"
#include "ops/loss.h"
#include "train/comm.h"
#include "train/launch.h"
#include "train/reducer.h"

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
  viz::NaGeometry g{.height = H,
                    .width = W,
                    .kernel_size = a.get_int("kernel-size", 7, 1, 255),
                    .dilation = a.get_int("dilation", 1, 1, 1024)};
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

const char* kDdpHelp =
    "usage: [mpirun -np N] nat explain ddp [--model nat_mini] [--batch 4] [--size 224] [--bucket-mb 25]\n"
    "                                      [--first-bucket-mb 1] [--out ddp.png]\n\n"
    "Runs one data-parallel training step of --model (random images, one warm-up step first) with the\n"
    "gradient reducer tracing itself, and shows when each parameter's gradient became final during backward,\n"
    "when each bucket's all-reduce was launched and when it finished: the overlap of communication with\n"
    "computation that docs/distributed.md describes. Under mpirun the ranks really communicate (MPI, CPU);\n"
    "alone, a world of one shows the bucketing with instant all-reduces. Rank 0 prints the table and writes\n"
    "--out (default ddp.png).\n";

double since_ms(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

int explain_ddp(const std::vector<std::string>& argv) {
  Args a("explain ddp", argv, {"model", "batch", "size", "bucket-mb", "first-bucket-mb", "out"});
  if (a.help()) {
    std::printf("%s", kDdpHelp);
    return 0;
  }
  const int64_t B = a.get_int("batch", 4, 1, 4096), S = a.get_int("size", 224, 8, 4096);
  const train::LaunchInfo launch = train::detect_launch();
  auto comm = train::make_communicator(launch, Device::cpu(), train::CommOptions{});
  // The node's cores shared among its ranks, as nat train does.
  omp_set_num_threads(launch.threads_per_rank());
  nn::NatConfig cfg = nn::nat_config(a.get("model", "nat_mini"));
  cfg.drop_path_rate = 0.0;
  Generator gen(0);
  auto model = nn::create_nat(cfg, gen);
  auto params = model->named_parameters();
  train::broadcast_parameters(*comm, params);
  train::ReducerOptions ro;
  ro.bucket_bytes = static_cast<int64_t>(a.get_double("bucket-mb", 25, 1.0 / 1024, 4096) * (1 << 20));
  ro.first_bucket_bytes = static_cast<int64_t>(a.get_double("first-bucket-mb", 1, 1.0 / 1024, 4096) * (1 << 20));
  ro.trace = true;
  train::GradReducer reducer(comm, params, ro);
  Generator data(100 + static_cast<uint64_t>(comm->rank()));  // each rank its own batch
  Tensor x = Tensor::empty({B, 3, S, S});
  Tensor y = Tensor::zeros({B}, DType::i64);
  train::GradReducer* red = &reducer;
  viz::DdpTimeline t;
  for (int step = 0; step < 2; ++step) {  // a warm-up, then the traced step
    normal_(x, 0.0, 1.0, &data);
    Tensor loss = ops::cross_entropy(model->forward(x), y);
    for (auto& [n, p] : params) zero_grad(p);
    red->prepare(true);
    const auto t0 = std::chrono::steady_clock::now();
    backward(loss);
    const double bwd = since_ms(t0);
    red->finish();
    t = viz::ddp_timeline(reducer, bwd, since_ms(t0));
  }
  if (comm->rank() != 0) return 0;
  char title[160];
  std::snprintf(title, sizeof title, "%s, batch %lld x %d rank(s) at %lld px, %s: %s", cfg.name.c_str(),
                static_cast<long long>(B), comm->world_size(), static_cast<long long>(S), comm->backend().c_str(),
                reducer.describe().c_str());
  t.title = title;
  std::printf("%s\n%s", title, viz::format_ddp_timeline(t).c_str());
#if NAT_WITH_OPENCV
  const std::string out = a.get("out", "ddp.png");
  cv::Mat img = viz::render_ddp_timeline(t);
  NAT_CHECK(cv::imwrite(out, img, {cv::IMWRITE_PNG_COMPRESSION, 9}), "[explain] could not write ", out);
  std::printf("wrote %s (%d x %d)\n", out.c_str(), img.cols, img.rows);
#else
  std::printf("(no picture: this build has no OpenCV)\n");
#endif
  return 0;
}

}  // namespace

int cmd_explain(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf("usage: nat explain na|ddp [options]   (see nat explain na --help, nat explain ddp --help)\n\n%s\n%s",
                kHelp, kDdpHelp);
    return args.empty() ? 1 : 0;
  }
  if (args[0] == "ddp") return explain_ddp(std::vector<std::string>(args.begin() + 1, args.end()));
  NAT_CHECK(args[0] == "na", "unknown topic '", args[0], "' for nat explain (known: na, ddp)");
  return explain_na(std::vector<std::string>(args.begin() + 1, args.end()));
}

}  // namespace nat::app
