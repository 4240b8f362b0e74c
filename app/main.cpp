// The `nat` command-line tool: one executable, one subcommand per job.
// Subcommands register in kCommands below; `nat --help` lists them, `nat <cmd> --help` explains one.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "app/commands.h"
#include "core/error.h"

namespace {

const std::vector<nat::app::Command>& commands() {
  static const std::vector<nat::app::Command> kCommands = {
      {"info", "show the build, the devices and the dtypes this nat.cpp supports", nat::app::cmd_info},
      {"kernel", "run one kernel (na2d) on safetensors inputs, for cross-checking", nat::app::cmd_kernel},
      {"bench", "measure speed (na), compared with PyTorch in the same run", nat::app::cmd_bench},
      {"forward", "run a NAT on safetensors images: logits, loss and gradients, for cross-checking",
       nat::app::cmd_forward},
      {"data", "dataset tools: check a tree, build the digits dataset, preview augmentations", nat::app::cmd_data},
      {"train", "train a NAT from a YAML config (timm keys), resume exactly, --dry-run", nat::app::cmd_train},
      {"eval", "loss, top-1 and top-5 of a checkpoint on a config's val split", nat::app::cmd_eval},
      {"predict", "top-5 classes of images under a checkpoint", nat::app::cmd_predict},
      {"plot", "draw a run's summary.csv as curves.png (loss, accuracy, lr)", nat::app::cmd_plot},
      {"attn", "draw a layer's attention weights for chosen queries over an image", nat::app::cmd_attn},
      {"explain", "draw NA windows and neighbourhoods (explain na), a data-parallel step (explain ddp)",
       nat::app::cmd_explain},
      {"trace", "one forward and backward: the autograd tape, level by level, with memory and time",
       nat::app::cmd_trace},
  };
  return kCommands;
}

void print_help() {
  std::printf(
      "nat %s: Neighborhood Attention Transformer training in C++/CUDA\n\n"
      "usage: nat <command> [options]\n       nat --version | --help\n\ncommands:\n",
      NAT_VERSION);
  for (const auto& c : commands()) std::printf("  %-10s %s\n", c.name, c.summary);
  std::printf("\nRun `nat <command> --help` for a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_help();
    return argc < 2 ? 1 : 0;
  }
  if (!std::strcmp(argv[1], "--version") || !std::strcmp(argv[1], "-V")) {
    std::printf("nat %s\n", NAT_VERSION);
    return 0;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const auto& c : commands()) {
    if (std::string(argv[1]) != c.name) continue;
    try {
      return c.run(args);
    } catch (const nat::Error& e) {
      std::fprintf(stderr, "nat %s: error: %s\n", c.name, e.what());
      return 2;
    }
  }
  std::fprintf(stderr, "nat: unknown command '%s'\n\n", argv[1]);
  print_help();
  return 1;
}
