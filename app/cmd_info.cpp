// `nat info`: what this build is and what it can run on.
#include <omp.h>

#include <cstdio>

#include "app/commands.h"
#include "core/backend.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace nat::app {

int cmd_info(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::printf("usage: nat info\n\nPrints the build configuration, the devices found and the supported dtypes.\n");
      return 0;
    }
    NAT_THROW("unknown option '", a, "' (see nat info --help)");
  }
  std::printf("nat.cpp %s\n", NAT_VERSION);
  std::printf("  compiler      : %s\n", __VERSION__);
  std::printf("  C++ standard  : %ld\n", static_cast<long>(__cplusplus));
  std::printf("  CUDA backend  : %s\n", cuda_compiled() ? "compiled" : "not compiled (NAT_CUDA=OFF)");
  std::printf("  CUDA devices  : %d\n", cuda_device_count());
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
