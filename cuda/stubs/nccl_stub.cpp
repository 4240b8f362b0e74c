// No CUDA (or no NCCL): the NCCL wrapper throws a clear error.
#include "core/error.h"
#include "cuda/nccl.h"

namespace nat::cuda {

namespace {
[[noreturn]] void no_nccl() {
  NAT_THROW(
      "[nccl] this build has no NCCL (it needs the CUDA backend and NCCL: configure with NAT_CUDA=ON on a "
      "machine with /usr/local/cuda/include/nccl.h); CPU runs use dist_backend mpi");
}
}  // namespace

struct NcclComm::Impl {};

bool nccl_available() { return false; }
std::string nccl_version() { return "none"; }
NcclId nccl_unique_id() { no_nccl(); }
NcclComm::NcclComm(int, int, const NcclId&, int) { no_nccl(); }
NcclComm::~NcclComm() = default;
uint64_t NcclComm::all_reduce(void*, int64_t, DType, NcclOp) { no_nccl(); }
uint64_t NcclComm::broadcast(void*, int64_t, DType, int) { no_nccl(); }
uint64_t NcclComm::all_gather(const void*, void*, int64_t, DType) { no_nccl(); }
void NcclComm::wait_on_compute(uint64_t) { no_nccl(); }
bool NcclComm::finished(uint64_t) { no_nccl(); }
void NcclComm::synchronize(uint64_t) { no_nccl(); }
std::string NcclComm::async_error() { no_nccl(); }
void NcclComm::abort() {}

}  // namespace nat::cuda
