// `nat eval --checkpoint CKPT [--config FILE]`: loss, top-1 and top-5 on the val split, with the model and
// preprocessing the checkpoint was trained with (its recorded config; --config and keys override).
// `nat predict --checkpoint CKPT [--model NAME] IMAGE...`: the top-5 classes of each image.
// Checkpoints are this trainer's (the model spec, classes and data keys come from their metadata) or
// weights-only safetensors with the official names (then --model names the architecture). A checkpoint
// with NaN or infinite weights is refused (exit 2). predict names each file it cannot read or decode on
// stderr, goes on with the others and exits 1 when any failed.
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <new>

#include "app/args.h"
#include "app/commands.h"
#include "autograd/autograd.h"
#include "data/image_folder.h"
#include "data/pipeline.h"
#include "data/sample_rng.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/evaluate.h"
#include "train/metrics.h"
#include "train/trainer.h"

namespace nat::app {

namespace {

const char* kEvalHelp =
    "usage: nat eval --checkpoint CKPT [--config FILE] [--ema] [--key value ...]\n\n"
    "Evaluates CKPT on a val split with timm's eval transform (resize to img_size / crop_pct, center crop):\n"
    "mean cross-entropy, top-1 and top-5. The model and its preprocessing (img_size, crop_pct,\n"
    "interpolation, mean, std) and data_dir are those CKPT was trained with, from the config nat train\n"
    "recorded in it; --config FILE and --key value only override (a weights-only file, e.g. a converted\n"
    "official checkpoint, needs --config). The preprocessing used is printed. --ema evaluates the EMA\n"
    "weights. Keys as in nat train (--data_dir, --val_split, --batch_size, --device, ...).\n";

const char* kPredictHelp =
    "usage: nat predict --checkpoint CKPT [--model NAME] [--config FILE] [--top K] [--device DEV] IMAGE...\n\n"
    "Prints the K (default 5) most probable classes of each image with their probabilities. The model,\n"
    "the class names and the input size come from the checkpoint's metadata when it was written by nat\n"
    "train; for weights-only files give --model (a registry name or a JSON spec) and, if the input\n"
    "differs from 224 / crop 0.875 / ImageNet mean and std, --config with those data keys.\n"
    "A file that cannot be read or decoded is named on stderr and skipped; the exit code is then 1.\n";

// The model a checkpoint was trained as: its metadata's spec, else `model_override`, else the config's.
nn::NatConfig checkpoint_model(const train::LoadedCheckpoint& ck, const std::string& model_override,
                               const train::TrainConfig& cfg, int64_t classes) {
  if (!model_override.empty()) {
    nn::NatConfig c = nn::parse_nat_spec(model_override);
    if (const Tensor* head = ck.find("head.weight")) c.num_classes = head->size(0);
    return c;
  }
  if (ck.has_state && !ck.state.model_spec.empty()) return nn::parse_nat_spec(ck.state.model_spec);
  return cfg.nat_config(classes);
}

// "resize to 256 (bicubic), center crop 224, mean [...], std [...] (from ...)": what eval feeds the model.
std::string describe_eval_preprocessing(const train::TrainConfig& cfg, bool recorded, const train::CommandLine& cl) {
  const data::DataConfig& d = cfg.data;
  const auto resize = static_cast<long long>(std::floor(static_cast<double>(d.img_size) / d.crop_pct));
  std::string from = recorded ? "the checkpoint's recorded config" : "";
  if (!cl.config_file.empty()) from += (from.empty() ? "" : ", then ") + cl.config_file;
  if (!cl.overrides.empty()) from += (from.empty() ? "" : ", then ") + std::string("the command line");
  return str("resize the short side to ", resize, " (", d.interpolation, "), center crop ", d.img_size, " (crop_pct ",
             d.crop_pct, "), mean [", d.mean[0], ", ", d.mean[1], ", ", d.mean[2], "], std [", d.std[0], ", ", d.std[1],
             ", ", d.std[2], "] (from ", from, ")");
}

// Loads the weights (or the EMA weights) of `ck`; a diverged model (NaN or infinite weights) is refused:
// it would only print NaN losses, or, as it once did, a top-1 of 100 %.
void load_weights(nn::NAT& model, const train::LoadedCheckpoint& ck, bool ema) {
  nn::NamedTensors w = ema ? ck.ema() : ck.weights();
  NAT_CHECK(!w.empty(), "[checkpoint] ", ck.path, " has no ", ema ? "EMA weights (ema.*)" : "weights");
  const std::string bad = train::first_non_finite(w);
  NAT_CHECK(bad.empty(), "[checkpoint] ", ck.path, ": ", ema ? "EMA weight " : "weight ", bad,
            ": the model diverged and cannot be evaluated (use an earlier checkpoint)");
  model.load_state_dict(w);
}

}  // namespace

int cmd_eval(const std::vector<std::string>& args) {
  std::vector<std::string> rest;
  std::string ckpt;
  bool ema = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::printf("%s", kEvalHelp);
      return 0;
    }
    if (args[i] == "--checkpoint") {
      NAT_CHECK(i + 1 < args.size(), "--checkpoint needs a file (see nat eval --help)");
      ckpt = args[++i];
    } else if (args[i] == "--ema") {
      ema = true;
    } else {
      rest.push_back(args[i]);
    }
  }
  NAT_CHECK(!ckpt.empty(), "missing --checkpoint CKPT (see nat eval --help)");
  train::LoadedCheckpoint ck = train::load_checkpoint(ckpt);
  // The model and the preprocessing are those the checkpoint was trained with: ImageNet defaults applied
  // to a model trained at another size or normalisation give a wrong score without any warning.
  const train::CommandLine cl = train::parse_command_line(rest);
  const bool recorded = ck.has_state && !ck.state.args_yaml.empty();
  NAT_CHECK(recorded || !cl.config_file.empty(), "[eval] ", ckpt,
            " records no training config (weights only): pass --config FILE, the config it was trained with, so "
            "that the model, image size, crop and normalisation are those of its training");
  const std::string recorded_origin = ckpt + " (its recorded training config)";
  train::TrainConfig cfg = train::load_config(
      cl, recorded ? train::apply_yaml_text(ck.state.args_yaml, recorded_origin) : train::TrainConfig{});
  NAT_CHECK(!cfg.data.data_dir.empty(), "[config] data_dir is not set (data_dir: in the config, or --data_dir DIR)");
  if (cfg.threads > 0) omp_set_num_threads(static_cast<int>(cfg.threads));

  // Class indices as in training: the checkpoint's class list, else the train split's folders, else val's own.
  data::ImageFolderOptions opts;
  if (ck.has_state && !ck.state.classes.empty()) {
    opts.classes = ck.state.classes;
  } else {
    try {
      opts.classes = data::ImageFolder(data::find_split_dir(cfg.data.data_dir, cfg.data.train_split)).classes();
    } catch (const Error&) {
    }
  }
  auto val =
      std::make_shared<const data::ImageFolder>(data::find_split_dir(cfg.data.data_dir, cfg.data.val_split), opts);
  nn::NatConfig mc = checkpoint_model(ck, "", cfg, val->num_classes());
  Generator gen(0);
  auto model = nn::create_nat(mc, gen);
  load_weights(*model, ck, ema);
  Device dev = train::resolve_device(cfg.device);
  model->to(dev);
  data::DataConfig dcfg = cfg.data;
  dcfg.num_classes = mc.num_classes;
  data::LoaderOptions lo = data::eval_loader_options(dcfg);
  lo.pin_memory = dcfg.pin_mem && dev.is_cuda();
  lo.num_classes = mc.num_classes;
  data::Loader loader(val, dcfg, lo);
  std::printf("Evaluating %s%s (%s) on %lld images of %s (%s)\n", ckpt.c_str(), ema ? " [EMA]" : "", mc.name.c_str(),
              static_cast<long long>(val->size()), val->root().c_str(), dev.str().c_str());
  std::printf("Preprocessing: %s\n", describe_eval_preprocessing(cfg, recorded, cl).c_str());
  train::EvalResult r = train::evaluate(*model, loader, dev, DType::f32, [](int64_t done, int64_t total) {
    std::fprintf(stderr, "\r  batch %lld/%lld", static_cast<long long>(done), static_cast<long long>(total));
  });
  std::fprintf(stderr, "\n");
  // Finite weights can still overflow to infinite logits: never report a score for them.
  NAT_CHECK(std::isfinite(r.loss), "[eval] the loss of ", ckpt, " on ", val->root(), " is ", r.loss,
            ": the model's logits are not finite (diverged or overflowing weights), so it has no accuracy");
  std::printf("loss %.4f  top-1 %.3f%%  top-5 %.3f%%  (%lld images, %.1f s)\n", r.loss, r.top1, r.top5,
              static_cast<long long>(r.samples), r.seconds);
  if (r.skipped > 0)  // never silently: the score is over fewer images than the split holds
    std::printf("%lld unreadable file(s) were skipped and are not in the score (named on stderr)\n",
                static_cast<long long>(r.skipped));
  return 0;
}

int cmd_predict(const std::vector<std::string>& args) {
  Args a("predict", args, {"checkpoint", "model", "config", "top", "device"}, {"ema"});
  if (a.help()) {
    std::printf("%s", kPredictHelp);
    return 0;
  }
  NAT_CHECK(!a.positional().empty(), "no images given (see nat predict --help)");
  train::LoadedCheckpoint ck = train::load_checkpoint(a.required("checkpoint"));
  train::TrainConfig cfg;
  if (ck.has_state && !ck.state.args_yaml.empty())
    cfg = train::apply_yaml_text(ck.state.args_yaml, a.get("checkpoint") + " (args)");
  if (a.has("config")) cfg = train::apply_yaml_file(a.get("config"), cfg);
  if (cfg.threads > 0) omp_set_num_threads(static_cast<int>(cfg.threads));
  NAT_CHECK(ck.has_state || a.has("model") || a.has("config"), "[predict] ", a.get("checkpoint"),
            " holds weights only: give --model NAME (e.g. nat_tiny) or --config FILE");
  nn::NatConfig mc = checkpoint_model(ck, a.get("model"), cfg, 0);
  Generator gen(0);
  auto model = nn::create_nat(mc, gen);
  load_weights(*model, ck, a.flag("ema"));
  Device dev = train::resolve_device(a.get("device", cfg.device));
  model->to(dev);
  model->eval();
  NoGradGuard no_grad;
  data::SamplePipeline pipe(cfg.data, /*train=*/false);
  const std::vector<std::string> classes = ck.has_state ? ck.state.classes : std::vector<std::string>{};
  const int64_t k = a.get_int("top", 5, 1, 1000);
  // A file that cannot be read or decoded is named on stderr and skipped; the others are still predicted.
  int64_t failed = 0;
  for (const auto& path : a.positional()) {
    std::vector<std::pair<int64_t, double>> best;
    std::string why;
    try {
      std::vector<uint8_t> bytes = data::read_file_bytes(path);
      Tensor x = Tensor::empty({1, 3, pipe.size(), pipe.size()});
      data::SampleRng rng(0);
      pipe.run(bytes.data(), bytes.size(), rng, x.data<float>());
      Tensor logits = model->forward(x.to(dev));
      best = train::topk_probabilities(logits, k)[0];
      if (!best.empty() && std::isnan(best[0].second)) why = "the model's logits for it are not finite";
    } catch (const std::bad_alloc&) {
      why = "out of memory while reading or decoding it";
    } catch (const std::exception& e) {  // nat::Error (read, decode), or OpenCV's
      why = e.what();
    }
    if (!why.empty()) {
      std::string line = why;
      for (char& c : line)
        if (c == '\n') c = ' ';
      std::fprintf(stderr, "nat predict: %s: skipped: %s\n", path.c_str(), line.c_str());
      std::fflush(stderr);
      ++failed;
      continue;
    }
    std::printf("%s\n", path.c_str());
    for (const auto& [c, p] : best) {
      std::string name = c < static_cast<int64_t>(classes.size()) ? classes[static_cast<size_t>(c)] : "";
      std::printf("  %6.2f%%  %lld%s%s\n", 100 * p, static_cast<long long>(c), name.empty() ? "" : "  ", name.c_str());
    }
    std::fflush(stdout);
  }
  if (failed > 0) {
    std::fprintf(stderr, "nat predict: %lld of %zu file(s) failed (named above)\n", static_cast<long long>(failed),
                 a.positional().size());
    return 1;
  }
  return 0;
}

}  // namespace nat::app
