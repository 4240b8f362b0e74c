// NCCL, wrapped for train/'s NCCL communicator without exposing CUDA types: one communicator per process
// (one GPU each), with its own non-blocking stream. Each collective is ordered after the work already
// queued on the device's current (compute) stream by an event, runs on the NCCL stream, and records a
// completion event; wait_on_compute() makes the compute stream wait for it. Nothing here blocks the host
// except synchronize(). Every NCCL and CUDA call is checked with file and line.
// With NAT_CUDA=OFF (or no NCCL) cuda/stubs/nccl_stub.cpp throws.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "core/dtype.h"

namespace nat::cuda {

bool nccl_available();  // the build has NCCL
std::string nccl_version();

using NcclId = std::array<char, 128>;
NcclId nccl_unique_id();

enum class NcclOp { sum, avg, max };

class NcclComm {
 public:
  // ncclCommInitRank on `device` (cudaSetDevice first).
  NcclComm(int rank, int world_size, const NcclId& id, int device);
  ~NcclComm();
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  // Queue a collective; the returned ticket names its completion event.
  // data/in/out: device pointers of `count` elements (all_gather's out: world_size * count).
  uint64_t all_reduce(void* data, int64_t count, DType dtype, NcclOp op);
  uint64_t broadcast(void* data, int64_t count, DType dtype, int root);
  uint64_t all_gather(const void* in, void* out, int64_t count, DType dtype);

  void wait_on_compute(uint64_t ticket);  // the compute stream waits for the ticket (no host sync)
  bool finished(uint64_t ticket);         // cudaEventQuery, without waiting
  void synchronize(uint64_t ticket);      // the host waits (start-up checks and metrics only)
  std::string async_error();              // "" while healthy (ncclCommGetAsyncError)
  void abort();                           // ncclCommAbort: unblocks every pending collective

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nat::cuda
