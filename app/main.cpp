// The `nat` command-line tool: one executable, one subcommand per job.
// Subcommands register in kCommands below; `nat --help` lists them, `nat <cmd> --help` explains one.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/commands.h"
#include "core/error.h"

namespace {

// The last line of defence for threads: an exception escaping a thread's function calls
// std::terminate, which would abort (exit 134, maybe a core dump). Say what it was and exit 2 instead.
[[noreturn]] void on_terminate() {
  const char* what = "an unknown exception";
  std::string text;
  if (std::exception_ptr e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::bad_alloc&) {
      what = "out of memory (an allocation failed)";
    } catch (const std::exception& x) {
      text = x.what();
      what = text.c_str();
    } catch (...) {
    }
  } else {
    what = "std::terminate without an exception";
  }
  std::fprintf(stderr, "nat: error: %s (escaped a thread)\n", what);
  std::fflush(stderr);
  std::_Exit(2);
}

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
  std::set_terminate(on_terminate);
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
    // No exception ends `nat` as a crash: every one becomes a one-line error and exit code 2.
    try {
      return c.run(args);
    } catch (const nat::Error& e) {
      std::fprintf(stderr, "nat %s: error: %s\n", c.name, e.what());
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "nat %s: error: out of memory (an allocation failed; lower the sizes asked for)\n", c.name);
    } catch (const std::length_error& e) {
      std::fprintf(stderr, "nat %s: error: a size is too large (%s)\n", c.name, e.what());
    } catch (const std::exception& e) {  // OpenCV, yaml-cpp, the standard library
      std::fprintf(stderr, "nat %s: error: %s\n", c.name, e.what());
    } catch (...) {
      std::fprintf(stderr, "nat %s: error: an unknown exception ended the command\n", c.name);
    }
    return 2;
  }
  std::fprintf(stderr, "nat: unknown command '%s'\n\n", argv[1]);
  print_help();
  return 1;
}
