// NcclComm: NCCL collectives on a stream of their own, ordered against the compute stream with events.
// A ticket's event lives until the collective is both finished and waited for (wait_on_compute or
// synchronize), so the watchdog thread can poll it while the training thread still holds it.
#include <nccl.h>

#include <map>
#include <mutex>

#include "cuda/cuda_check.h"
#include "cuda/nccl.h"
#include "cuda/stream.h"

#define NAT_NCCL_CHECK(expr)                                                                                          \
  do {                                                                                                                \
    ncclResult_t nat_nr_ = (expr);                                                                                    \
    if (nat_nr_ != ncclSuccess)                                                                                       \
      ::nat::throw_error(__FILE__, __LINE__, ::nat::str("[nccl] ", #expr, " failed: ", ncclGetErrorString(nat_nr_))); \
  } while (0)

namespace nat::cuda {

namespace {

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::f32:
      return ncclFloat32;
    case DType::f64:
      return ncclFloat64;
    case DType::bf16:
      return ncclBfloat16;
    case DType::f16:
      return ncclFloat16;
    case DType::i32:
      return ncclInt32;
    case DType::i64:
      return ncclInt64;
    case DType::u8:
      return ncclUint8;
  }
  NAT_THROW("[nccl] unsupported dtype");
}

}  // namespace

bool nccl_available() { return true; }

std::string nccl_version() {
  int v = 0;
  NAT_NCCL_CHECK(ncclGetVersion(&v));
  return str(v / 10000, ".", (v / 100) % 100, ".", v % 100);
}

NcclId nccl_unique_id() {
  ncclUniqueId id;
  NAT_NCCL_CHECK(ncclGetUniqueId(&id));
  NcclId out{};
  static_assert(sizeof(id.internal) == sizeof(NcclId));
  std::memcpy(out.data(), id.internal, out.size());
  return out;
}

struct NcclComm::Impl {
  ncclComm_t comm = nullptr;
  int device = 0, world = 1;
  cudaStream_t stream = nullptr;
  cudaEvent_t ready = nullptr;  // recorded on the compute stream before each collective
  std::mutex mu;
  struct Entry {
    cudaEvent_t event;
    bool finished = false, waited = false;
  };
  std::map<uint64_t, Entry> tickets;
  uint64_t next = 1;

  // Orders the NCCL stream after the compute stream's queued work, runs `enqueue`, records a ticket.
  template <typename F>
  uint64_t launch(F&& enqueue) {
    DeviceGuard g(device);
    NAT_CUDA_CHECK(cudaEventRecord(ready, current_stream(device)));
    NAT_CUDA_CHECK(cudaStreamWaitEvent(stream, ready, 0));
    enqueue();
    cudaEvent_t done;
    NAT_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    NAT_CUDA_CHECK(cudaEventRecord(done, stream));
    std::lock_guard<std::mutex> lock(mu);
    tickets[next] = Entry{done};
    return next++;
  }
  void retire_locked(std::map<uint64_t, Entry>::iterator it) {
    if (it->second.finished && it->second.waited) {
      cudaEventDestroy(it->second.event);
      tickets.erase(it);
    }
  }
};

NcclComm::NcclComm(int rank, int world_size, const NcclId& id, int device) : impl_(std::make_unique<Impl>()) {
  impl_->device = device, impl_->world = world_size;
  DeviceGuard g(device);
  NAT_CUDA_CHECK(cudaSetDevice(device));
  NAT_CUDA_CHECK(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking));
  NAT_CUDA_CHECK(cudaEventCreateWithFlags(&impl_->ready, cudaEventDisableTiming));
  ncclUniqueId uid;
  std::memcpy(uid.internal, id.data(), id.size());
  NAT_NCCL_CHECK(ncclCommInitRank(&impl_->comm, world_size, uid, rank));
}

NcclComm::~NcclComm() {
  if (!impl_) return;
  DeviceGuard g(impl_->device);
  if (impl_->comm) {
    cudaStreamSynchronize(impl_->stream);
    ncclCommDestroy(impl_->comm);
  }
  for (auto& [t, e] : impl_->tickets) cudaEventDestroy(e.event);
  if (impl_->ready) cudaEventDestroy(impl_->ready);
  if (impl_->stream) cudaStreamDestroy(impl_->stream);
}

uint64_t NcclComm::all_reduce(void* data, int64_t count, DType dtype, NcclOp op) {
  const ncclRedOp_t o = op == NcclOp::sum ? ncclSum : op == NcclOp::avg ? ncclAvg : ncclMax;
  return impl_->launch([&] {
    NAT_NCCL_CHECK(
        ncclAllReduce(data, data, static_cast<size_t>(count), nccl_type(dtype), o, impl_->comm, impl_->stream));
  });
}

uint64_t NcclComm::broadcast(void* data, int64_t count, DType dtype, int root) {
  return impl_->launch([&] {
    NAT_NCCL_CHECK(
        ncclBroadcast(data, data, static_cast<size_t>(count), nccl_type(dtype), root, impl_->comm, impl_->stream));
  });
}

uint64_t NcclComm::all_gather(const void* in, void* out, int64_t count, DType dtype) {
  return impl_->launch([&] {
    NAT_NCCL_CHECK(ncclAllGather(in, out, static_cast<size_t>(count), nccl_type(dtype), impl_->comm, impl_->stream));
  });
}

void NcclComm::wait_on_compute(uint64_t ticket) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->tickets.find(ticket);
  if (it == impl_->tickets.end()) return;  // finished and already waited
  DeviceGuard g(impl_->device);
  NAT_CUDA_CHECK(cudaStreamWaitEvent(current_stream(impl_->device), it->second.event, 0));
  it->second.waited = true;
  impl_->retire_locked(it);
}

bool NcclComm::finished(uint64_t ticket) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->tickets.find(ticket);
  if (it == impl_->tickets.end()) return true;
  if (!it->second.finished) {
    cudaError_t q = cudaEventQuery(it->second.event);
    if (q == cudaErrorNotReady) return false;
    NAT_CUDA_CHECK(q);
    it->second.finished = true;
  }
  impl_->retire_locked(it);
  return true;
}

void NcclComm::synchronize(uint64_t ticket) {
  cudaEvent_t e;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->tickets.find(ticket);
    if (it == impl_->tickets.end()) return;
    e = it->second.event;  // alive: only a ticket both finished and waited is destroyed, and this one is not waited
  }
  NAT_CUDA_CHECK(cudaEventSynchronize(e));
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->tickets.find(ticket);
  if (it == impl_->tickets.end()) return;
  it->second.finished = it->second.waited = true;
  impl_->retire_locked(it);
}

std::string NcclComm::async_error() {
  ncclResult_t r = ncclSuccess;
  if (ncclCommGetAsyncError(impl_->comm, &r) != ncclSuccess) return "ncclCommGetAsyncError failed";
  return r == ncclSuccess || r == ncclInProgress ? std::string() : std::string(ncclGetErrorString(r));
}

void NcclComm::abort() {
  if (impl_->comm) ncclCommAbort(impl_->comm);
  impl_->comm = nullptr;
}

}  // namespace nat::cuda
