// From a launch (train/launch.h) to the trainer's communicator: this rank's device, its share of the CPU
// threads, and the backend the config names.
#include "core/backend.h"
#include "core/error.h"
#include "train/trainer.h"

namespace nat::train {

std::shared_ptr<Communicator> setup_distributed(TrainConfig& cfg, const LaunchInfo& launch) {
  Device device = resolve_device(cfg.device);
  if (!launch.distributed()) return make_local_communicator(device);
  if (device.is_cuda()) {
    // Each process drives the GPU of its local rank (cuda:N in the config is ignored: N comes from the launch).
    const int n = cuda_device_count();
    NAT_CHECK(launch.local_world_size <= n, "[launch] ", launch.local_world_size, " ranks on this node but ", n,
              " CUDA device(s): one GPU per rank (start fewer processes per node, or use device: cpu)");
    device = Device::cuda(launch.local_rank);
  }
  // The node's cores, shared among its ranks, unless `threads` says otherwise.
  if (cfg.threads == 0) cfg.threads = launch.threads_per_rank();
  CommOptions co;
  co.timeout_s = cfg.dist_timeout;
  co.backend = cfg.dist_backend;
  return make_communicator(launch, device, co);
}

}  // namespace nat::train
