// `nat info`: what this build is and what it can run on.
#include <omp.h>

#include <cstdio>

#include "app/args.h"
#include "app/commands.h"
#include "core/backend.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "cuda/nccl.h"
#include "train/comm.h"

namespace nat::app {

int info_model(const Args& args);  // app/info_model.cpp

int cmd_info(const std::vector<std::string>& argv) {
  Args args("info", argv, {"model", "img-size", "batch", "depth"}, {"keys"});
  if (args.help()) {
    std::printf(
        "usage: nat info\n       nat info --model NAME [--img-size N] [--batch B] [--depth D] [--keys]\n\n"
        "Without --model: the build configuration, the devices found and the supported dtypes.\n"
        "With --model: the model's module table (output shapes, parameters, FLOPs) and totals.\n");
    return 0;
  }
  NAT_CHECK(args.positional().empty(), "unexpected argument '", args.positional()[0], "' (see nat info --help)");
  if (args.has("model")) return info_model(args);
  std::printf("nat.cpp %s\n", NAT_VERSION);
  std::printf("  compiler      : %s\n", __VERSION__);
  std::printf("  C++ standard  : %ld\n", static_cast<long>(__cplusplus));
  std::printf("  CUDA backend  : %s\n", cuda_compiled() ? "compiled" : "not compiled (NAT_CUDA=OFF)");
  std::printf("  CUDA devices  : %d\n", cuda_device_count());
  std::printf("  NCCL          : %s\n", train::nccl_compiled() ? cuda::nccl_version().c_str() : "not compiled");
  std::printf("  MPI           : %s\n", train::mpi_compiled() ? "compiled" : "not compiled");
  std::printf("  CPU threads   : %d (OpenMP)\n", omp_get_max_threads());
  std::printf("  dtypes        :");
  for (int i = 0; i < kNumDTypes; ++i) std::printf(" %s", dtype_name(static_cast<DType>(i)));
  std::printf("\n\nA tensor, to check the core works:\n");
  Generator g(42);
  Tensor t = rand({2, 3}, DType::f32, Device::cpu(), &g);
  std::printf("%s\n", t.str().c_str());
  return 0;
}

}  // namespace nat::app
