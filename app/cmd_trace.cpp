// `nat trace`: one forward and backward of a NAT on random images, printing the autograd tape level by level
// (op, shapes, bytes saved for backward, time) with totals — where a training step's memory and time go.
#include <omp.h>

#include <cstdint>
#include <cstdio>

#include "app/args.h"
#include "app/commands.h"
#include "app/viz/trace.h"
#include "core/rng.h"
#include "nn/nat.h"
#include "train/trainer.h"

namespace nat::app {

namespace {
const char* kHelp =
    "usage: nat trace --model NAME [--img-size N] [--batch B] [--repeat R] [--eval] [--summary] [--seed S]\n"
    "                 [--device DEV] [--threads T]\n\n"
    "Builds the model (seeded init), runs one forward on B random images of N x N (default 1 x 224),\n"
    "cross-entropy against random labels and one backward, and prints every node of the autograd tape under\n"
    "the module call that recorded it — op name, input and output shapes (* marks inputs that receive a\n"
    "gradient), bytes its backward keeps alive, time in its backward closure — grouped by level, then totals\n"
    "by level and by op. Forward time is measured per module call (ops do not time themselves); the header of\n"
    "the report says exactly what each number is. --summary prints the module calls without their nodes;\n"
    "--eval traces in eval mode (no dropout or drop path). --repeat R (default 3) runs R steps and reports\n"
    "each time as its minimum over them. --model takes a registry name or a JSON spec.\n";
}

int cmd_trace(const std::vector<std::string>& argv) {
  Args a("trace", argv, {"model", "img-size", "batch", "repeat", "seed", "device", "threads"}, {"eval", "summary"});
  if (a.help()) {
    std::printf("%s", kHelp);
    return 0;
  }
  NAT_CHECK(a.positional().empty(), "unexpected argument '", a.positional()[0], "' (see nat trace --help)");
  nn::NatConfig mc = nn::parse_nat_spec(a.required("model"));
  const int64_t S = a.get_int("img-size", 224, 8, 4096), B = a.get_int("batch", 1, 1, 4096);
  NAT_CHECK(S >= 4 && B >= 1, "[trace] needs --img-size >= 4 and --batch >= 1, got ", S, " and ", B);
  if (a.has("threads")) omp_set_num_threads(static_cast<int>(a.get_int("threads", 1, 1, 1024)));
  const auto seed = static_cast<uint64_t>(a.get_int("seed", 0, 0, INT64_MAX));
  Generator gen(seed);
  auto model = nn::create_nat(mc, gen);
  Device dev = train::resolve_device(a.get("device", "cpu"));
  model->to(dev);
  model->train(!a.flag("eval"));
  Tensor x = randn({B, mc.in_chans, S, S}, DType::f32, Device::cpu(), &gen).to(dev);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < B; ++i) labels.push_back(i % std::max<int64_t>(1, mc.num_classes));
  Tensor y = Tensor::from_vector(labels, {B}, dev);
  viz::Trace t = viz::trace_step(*model, x, y, static_cast<int>(a.get_int("repeat", 3, 1, 100)));
  std::printf("%s", viz::format_trace(t, !a.flag("summary")).c_str());
  return 0;
}

}  // namespace nat::app
