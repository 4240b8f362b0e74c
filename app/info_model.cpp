// `nat info --model NAME`: the model's configuration, its module table (output shape, parameters and
// FLOPs per module, computed analytically) and totals; --keys adds the state-dict keys and shapes, the
// list tools/convert_checkpoint.py output is checked against.
#include <cstdio>

#include "app/args.h"
#include "nn/init.h"
#include "nn/nat.h"
#include "nn/summary.h"

namespace nat::app {

int info_model(const Args& args) {
  nn::NatConfig config = nn::parse_nat_spec(args.required("model"));
  int64_t img = args.get_int("img-size", 224, 8, 4096), batch = args.get_int("batch", 1, 1, 4096);
  int depth = static_cast<int>(args.get_int("depth", 4, 1, 16));
  std::shared_ptr<nn::NAT> model;
  {
    nn::init::NoInitGuard structure_only;  // shapes and counts need no weights
    Generator gen(0);
    model = nn::create_nat(config, gen);
  }
  std::printf("model %s\n  config: %s\n\n", config.name.c_str(), config.to_json().c_str());
  nn::ModelSummary s = nn::summarize(*model, batch, img, img);
  std::printf("%s", nn::format_summary(s, depth).c_str());
  if (args.flag("keys")) {
    nn::NamedTensors sd = model->state_dict();
    std::printf("\nstate dict: %zu tensors\n", sd.size());
    for (const auto& [name, t] : sd) std::printf("%s %s\n", name.c_str(), shape_str(t.shape()).c_str());
  }
  return 0;
}

}  // namespace nat::app
