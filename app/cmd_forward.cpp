// `nat forward`: runs a NAT in eval mode on images from a safetensors file and writes the logits and,
// with --labels, the mean cross-entropy loss and the gradient of every parameter — the cross-check of
// nat.cpp against another implementation (bench/torch_model.py --check does it against PyTorch).
#include <cstdint>
#include <cstdio>
#include <optional>

#include "app/args.h"
#include "app/commands.h"
#include "nn/init.h"
#include "nn/nat.h"
#include "nn/safetensors.h"
#include "ops/ops.h"

namespace nat::app {

namespace {
const char* kHelp =
    "usage: nat forward --model NAME --input X.safetensors --output Y.safetensors\n"
    "                   [--weights W.safetensors | --seed S] [--save-weights W.safetensors]\n"
    "                   [--labels] [--device cpu|cuda] [--dtype f32|f64]\n\n"
    "Reads x ([B, in_chans, H, W], F32 or F64) and, with --labels, y (I64 class indices [B]) from --input;\n"
    "runs the model in eval mode (no dropout, no drop path) and writes `logits` [B, num_classes] and, with\n"
    "--labels, `loss` (mean cross-entropy, no label smoothing) and `grad.<parameter name>` for every\n"
    "parameter. Without --weights the model has the seeded initialisation (--seed, default 0);\n"
    "--save-weights writes the weights used, so another implementation can load the same ones.\n"
    "--model takes a registry name (nat_mini, ..., dinat_base) or a JSON spec (see nat info --help).\n"
    "--dtype f64 runs the whole model in double precision (for tight cross-checks).\n";
}

int cmd_forward(const std::vector<std::string>& argv) {
  Args args("forward", argv, {"model", "input", "output", "weights", "save-weights", "seed", "device", "dtype"},
            {"labels"});
  if (args.help()) {
    std::printf("%s", kHelp);
    return 0;
  }
  NAT_CHECK(args.positional().empty(), "unexpected argument '", args.positional()[0], "' (see nat forward --help)");
  nn::NatConfig config = nn::parse_nat_spec(args.required("model"));
  std::string in_path = args.required("input"), out_path = args.required("output");
  Device dev = parse_device(args.get("device", "cpu"));
  std::string dtype_arg = args.get("dtype", "f32");
  NAT_CHECK(dtype_arg == "f32" || dtype_arg == "f64", "--dtype must be f32 or f64, got '", dtype_arg, "'");
  DType dtype = dtype_arg == "f64" ? DType::f64 : DType::f32;
  bool labels = args.flag("labels");

  // Build: seeded initialisation, or none at all when a strict load overwrites every tensor next.
  auto seed = static_cast<uint64_t>(args.get_int("seed", 0, 0, INT64_MAX));
  std::shared_ptr<nn::NAT> model;
  {
    std::optional<nn::init::NoInitGuard> skip;
    if (args.has("weights")) skip.emplace();
    Generator gen(seed);
    model = nn::create_nat(config, gen);
  }
  if (args.has("weights")) nn::load_state_dict(*model, args.get("weights"));
  if (args.has("save-weights"))
    nn::save_state_dict(*model, args.get("save-weights"),
                        {{"model", config.to_json()}, {"seed", std::to_string(seed)}});
  model->to(dtype);
  model->to(dev);
  model->eval();

  nn::TensorFile in = nn::load_safetensors(in_path);
  const Tensor& x_in = in.at("x", in_path);
  NAT_CHECK(x_in.dtype() == DType::f32 || x_in.dtype() == DType::f64, "[nat forward] ", in_path,
            ": x must be F32 or F64, got ", nat::dtype_name(x_in.dtype()));
  NAT_CHECK(x_in.dim() == 4 && x_in.size(1) == config.in_chans, "[nat forward] ", in_path, ": x must be [B, ",
            config.in_chans, ", H, W], got ", shape_str(x_in.shape()));
  Tensor x = x_in.to(dtype).to(dev);
  Tensor y;
  if (labels) {
    const Tensor& y_in = in.at("y", in_path);
    NAT_CHECK(y_in.dtype() == DType::i64 && y_in.dim() == 1 && y_in.size(0) == x.size(0), "[nat forward] ", in_path,
              ": y must be I64 [", x.size(0), "] class indices, got ", y_in.meta_str());
    y = y_in.to(dev);
  }

  std::vector<std::pair<std::string, Tensor>> out;
  std::optional<NoGradGuard> no_grad;
  if (!labels) no_grad.emplace();
  Tensor logits = model->forward(x);
  out.emplace_back("logits", detach(logits));
  if (labels) {
    Tensor loss = ops::cross_entropy(logits, y);
    backward(loss);
    out.emplace_back("loss", detach(loss));
    for (const auto& [name, p] : model->named_parameters()) {
      Tensor g = grad(p);
      out.emplace_back("grad." + name, g.defined() ? g : Tensor::zeros(p.shape(), p.dtype(), p.device()));
    }
  }
  nn::save_safetensors(out_path, out,
                       {{"model", config.to_json()}, {"dtype", dtype_arg}, {"device", dev.str()}, {"mode", "eval"}});
  std::printf("nat forward: %s on %s (%s), x %s -> %s: logits %s%s\n", config.name.c_str(), dev.str().c_str(),
              dtype_arg.c_str(), shape_str(x.shape()).c_str(), out_path.c_str(), shape_str(logits.shape()).c_str(),
              labels ? (", loss " + std::to_string(out[1].second.item()) + ", " +
                        std::to_string(model->named_parameters().size()) + " parameter gradients")
                           .c_str()
                     : "");
  return 0;
}

}  // namespace nat::app
