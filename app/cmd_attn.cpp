// `nat attn`: renders one NA layer's attention weights for chosen queries, per head, over the input image
// (eval transform), from a checkpoint or — clearly labelled — an untrained seeded model.
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "app/args.h"
#include "app/commands.h"
#include "app/viz/attention_map.h"
#include "app/viz/cli.h"
#include "data/image_folder.h"
#include "data/pipeline.h"
#include "data/sample_rng.h"
#include "nn/init.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/trainer.h"

#if NAT_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace nat::app {

namespace {

const char* kHelp =
    "usage: nat attn --image IMG [--checkpoint CKPT|none] [--model NAME] [--seed S] [--out attn.png]\n"
    "                [--level L] [--layer I] [--query ROW,COL ...] [--heads H,H,...]\n"
    "                [--config FILE] [--img-size N] [--ema] [--device DEV]\n\n"
    "Runs the model on IMG with the eval transform (resize, center crop, normalise: the checkpoint's data keys,\n"
    "else --config, else 224 / crop 0.875) and draws the attention weights of levels.L.blocks.I.attn (default\n"
    "level 0, layer 0) for each query token (default: a corner, an edge and the centre of that level's map):\n"
    "per head, the k x k weights painted on the tokens they belong to, over the input, and the same weights as\n"
    "a k x k grid of percentages. Border windows show shifted inward; dilated layers show their spread keys.\n"
    "The weights are recomputed from the layer's q, k and rpb (unfused na2d_qk + softmax) and each query's\n"
    "weights sum to 1 per head (printed). Checkpoints: this trainer's, or weights with the official names\n"
    "(then --model names the architecture). --checkpoint none (or no --checkpoint) draws an UNTRAINED model\n"
    "initialised from --seed (default 0), and the picture says so.\n";

std::vector<int64_t> parse_list(const std::string& s, const std::string& what) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    out.push_back(viz::parse_size(part, what).first);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string basename(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

int cmd_attn(const std::vector<std::string>& argv_in) {
  std::vector<std::string> argv = argv_in;
  std::vector<std::string> query_args = viz::take_option(argv, "query");
  Args a("attn", argv,
         {"image", "checkpoint", "model", "seed", "out", "level", "layer", "heads", "config", "img-size", "device"},
         {"ema"});
  if (a.help()) {
    std::printf("%s", kHelp);
    return 0;
  }
  NAT_CHECK(a.positional().empty(), "unexpected argument '", a.positional()[0], "' (see nat attn --help)");
#if !NAT_WITH_OPENCV
  NAT_THROW("nat attn needs OpenCV (decoding and drawing), which this build does not have");
#else
  const std::string image_path = a.required("image");
  const std::string ckpt_path = a.get("checkpoint", "none");
  const bool untrained = ckpt_path == "none";
  const auto seed = static_cast<uint64_t>(a.get_int("seed", 0, 0, INT64_MAX));

  // Model and data keys: the checkpoint's metadata, else --model / --config.
  std::optional<train::LoadedCheckpoint> ck;
  train::TrainConfig cfg;
  if (!untrained) {
    ck = train::load_checkpoint(ckpt_path);
    if (ck->has_state && !ck->state.args_yaml.empty())
      cfg = train::apply_yaml_text(ck->state.args_yaml, ckpt_path + " (args)");
  }
  if (a.has("config")) cfg = train::apply_yaml_file(a.get("config"), cfg);
  if (a.has("img-size")) cfg.data.img_size = a.get_int("img-size", 224, 8, 4096);
  if (cfg.threads > 0) omp_set_num_threads(static_cast<int>(cfg.threads));
  nn::NatConfig mc;
  if (a.has("model")) {
    mc = nn::parse_nat_spec(a.get("model"));
    if (ck)
      if (const Tensor* head = ck->find("head.weight")) mc.num_classes = head->size(0);
  } else if (ck && ck->has_state && !ck->state.model_spec.empty()) {
    mc = nn::parse_nat_spec(ck->state.model_spec);
  } else {
    NAT_CHECK(untrained, "[attn] ", ckpt_path, " holds weights only: give --model NAME (e.g. nat_tiny)");
    mc = nn::parse_nat_spec("nat_mini");
  }
  std::shared_ptr<nn::NAT> model;
  {
    std::optional<nn::init::NoInitGuard> skip;
    if (ck) skip.emplace();  // a strict load overwrites every tensor
    Generator gen(seed);
    model = nn::create_nat(mc, gen);
  }
  if (ck) {
    nn::NamedTensors w = a.flag("ema") ? ck->ema() : ck->weights();
    NAT_CHECK(!w.empty(), "[attn] ", ckpt_path, " has no ", a.flag("ema") ? "EMA weights (ema.*)" : "weights");
    model->load_state_dict(w);
  }
  Device dev = train::resolve_device(a.get("device", "cpu"));
  model->to(dev);

  // The image as the model sees it, and the same pixels de-normalised for drawing.
  data::SamplePipeline pipe(cfg.data, /*train=*/false);
  std::vector<uint8_t> bytes = data::read_file_bytes(image_path);
  const int64_t S = pipe.size();
  Tensor x = Tensor::empty({1, 3, S, S});
  data::SampleRng rng(0);
  pipe.run(bytes.data(), bytes.size(), rng, x.data<float>());
  cv::Mat rgb(static_cast<int>(S), static_cast<int>(S), CV_8UC3);
  const float* px = x.data<float>();
  for (int64_t yy = 0; yy < S; ++yy)
    for (int64_t xx = 0; xx < S; ++xx)
      for (int c = 0; c < 3; ++c)
        rgb.at<cv::Vec3b>(static_cast<int>(yy), static_cast<int>(xx))[c] =
            pipe.denormalize(c, px[(c * S + yy) * S + xx]);

  const int64_t level = a.get_int("level", 0, 0, 15), layer = a.get_int("layer", 0, 0, 1023);
  viz::AttentionCapture cap = viz::capture_attention(*model, x.to(dev), level, layer);
  std::vector<viz::Cell> queries;
  queries.reserve(query_args.size());
  for (const auto& q : query_args) queries.push_back(viz::parse_cell(q, "--query"));
  if (queries.empty()) queries = viz::default_queries(cap.height, cap.width);
  std::vector<int64_t> heads = a.has("heads") ? parse_list(a.get("heads"), "--heads") : std::vector<int64_t>{};

  const std::string layer_name = "levels." + std::to_string(level) + ".blocks." + std::to_string(layer) + ".attn";
  viz::AttentionLabels labels;
  labels.title = "Attention weights of " + layer_name + " (" + mc.name + ") on " + basename(image_path);
  if (untrained) {
    labels.subtitle = "UNTRAINED model (random init, seed " + std::to_string(seed) +
                      "): the weights carry no meaning; the geometry (windows, borders, dilation) does.";
    labels.warn = true;
  } else {
    labels.subtitle = "checkpoint " + basename(ckpt_path) + (a.flag("ema") ? " (EMA weights)" : "");
    if (!ck->has_state) {
      labels.subtitle += ", weights only";
    } else if (std::isfinite(ck->state.best_metric)) {
      char b[64];
      std::snprintf(b, sizeof b, ", run's best val top-1 %.1f%%", ck->state.best_metric);
      labels.subtitle += b;
    }
  }

  std::printf("%s: %s\n", labels.title.c_str(), labels.subtitle.c_str());
  std::printf("level %lld: %lld x %lld tokens, kernel %lld, dilation %lld, %lld heads\n", static_cast<long long>(level),
              static_cast<long long>(cap.height), static_cast<long long>(cap.width),
              static_cast<long long>(cap.kernel_size), static_cast<long long>(cap.dilation),
              static_cast<long long>(cap.heads));
  for (const auto& q : queries) {
    NAT_CHECK(q.row >= 0 && q.row < cap.height && q.col >= 0 && q.col < cap.width, "[attn] query (", q.row, ", ", q.col,
              ") is outside the ", cap.height, " x ", cap.width, " token map of level ", level);
    std::printf("  query (%lld, %lld): sum of weights per head", static_cast<long long>(q.row),
                static_cast<long long>(q.col));
    for (int64_t h = 0; h < cap.heads; ++h) std::printf(" %.6f", cap.row_sum(h, q));
    std::printf("\n");
  }
  viz::AttentionFigure fig = viz::render_attention(cap, rgb, queries, heads, labels);
  const std::string out = a.get("out", "attn.png");
  NAT_CHECK(cv::imwrite(out, fig.image, {cv::IMWRITE_PNG_COMPRESSION, 9}), "[attn] could not write ", out);
  std::printf("wrote %s (%d x %d)\n", out.c_str(), fig.image.cols, fig.image.rows);
  return 0;
#endif
}

}  // namespace nat::app
