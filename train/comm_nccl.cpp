// The NCCL backend: CUDA tensors of this rank's GPU. The id exchange (with the heartbeat store's address)
// is MPI_Bcast when MPI launched us, else the TCP rendezvous at MASTER_ADDR:MASTER_PORT. Collectives are queued from
// the calling thread (its current stream is the compute stream); the CommWorker only watches their events against the
// timeout and polls NCCL's asynchronous error, aborting the communicator on either.
#include <cstring>
#include <memory>

#include "core/backend.h"
#include "core/error.h"
#include "cuda/nccl.h"
#include "train/comm.h"
#include "train/comm_worker.h"
#include "train/rendezvous.h"

namespace nat::train {

namespace {

cuda::NcclOp nccl_op(ReduceOp op) {
  return op == ReduceOp::sum ? cuda::NcclOp::sum : op == ReduceOp::avg ? cuda::NcclOp::avg : cuda::NcclOp::max;
}

class NcclWork final : public Work {
 public:
  NcclWork(std::shared_ptr<cuda::NcclComm> comm, uint64_t ticket) : comm_(std::move(comm)), ticket_(ticket) {}
  void wait() override { comm_->wait_on_compute(ticket_); }
  bool done() override { return comm_->finished(ticket_); }
  void synchronize() { comm_->synchronize(ticket_); }

 private:
  std::shared_ptr<cuda::NcclComm> comm_;
  uint64_t ticket_;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(int rank, int world, Device device, std::shared_ptr<cuda::NcclComm> comm, const CommOptions& opt)
      : Communicator(rank, world, device),
        comm_(std::move(comm)),
        watchdog_(rank, opt.timeout_s, {[c = comm_] { c->abort(); }, [c = comm_] { return c->async_error(); }}) {}

  std::string backend() const override { return "nccl"; }
  void start_heartbeat(HeartbeatOptions o) { watchdog_.start_heartbeat(std::move(o)); }

  std::shared_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op, const std::string& what) override {
    check_tensor(t, "all_reduce");
    return watch(what, comm_->all_reduce(t.data_ptr(), t.numel(), t.dtype(), nccl_op(op)));
  }
  void broadcast(const Tensor& t, int root, const std::string& what) override {
    check_tensor(t, "broadcast");
    NAT_CHECK(root >= 0 && root < world_size(), "[comm] broadcast: root ", root, " outside world size ", world_size());
    watch(what, comm_->broadcast(t.data_ptr(), t.numel(), t.dtype(), root))->wait();
  }
  Tensor all_gather(const Tensor& in, const std::string& what) override {
    check_tensor(in, "all_gather");
    Shape s = in.shape();
    s.insert(s.begin(), world_size());
    Tensor out = Tensor::empty(s, in.dtype(), device());
    watch(what, comm_->all_gather(in.data_ptr(), out.data_ptr(), in.numel(), in.dtype()))->wait();
    return out;
  }
  void barrier(const std::string& what) override {
    Tensor one = Tensor::ones({1}, DType::f32, device());
    auto w = watch(what, comm_->all_reduce(one.data_ptr(), 1, DType::f32, cuda::NcclOp::sum));
    static_cast<NcclWork&>(*w).synchronize();
  }

 private:
  std::shared_ptr<Work> watch(const std::string& what, uint64_t ticket) {
    auto work = std::make_shared<NcclWork>(comm_, ticket);
    watchdog_.submit(
        what, [] {}, [work] { return work->done(); });
    return work;
  }

  std::shared_ptr<cuda::NcclComm> comm_;
  CommWorker watchdog_;
};

}  // namespace

bool nccl_compiled() { return cuda::nccl_available(); }

std::shared_ptr<Communicator> make_nccl_communicator(const LaunchInfo& launch, Device device, const CommOptions& opt) {
  NAT_CHECK(cuda::nccl_available(), "[nccl] this build has no NCCL; rebuild with NAT_CUDA=ON (NCCL ships with CUDA)");
  NAT_CHECK(device.index == launch.local_rank % std::max(1, cuda_device_count()), "[nccl] ", launch.str(),
            " should use cuda:", launch.local_rank % std::max(1, cuda_device_count()), ", not ", device.str());
  // Rank 0 sends NCCL's unique id and the heartbeat store's address (train/rendezvous.h) in one go.
  std::shared_ptr<HeartbeatStore> store;
  std::string where = start_heartbeat_store(launch, &store);
  std::string id;
  if (launch.rank == 0) {
    cuda::NcclId raw = cuda::nccl_unique_id();
    id.assign(raw.data(), raw.size());
  }
  constexpr size_t kIdBytes = sizeof(cuda::NcclId);
  std::string payload = id + where;
  if (launch.mpi && mpi_compiled()) {
    payload = mpi_broadcast_bytes(payload, static_cast<int>(kIdBytes) + kHeartbeatAddressBytes);
  } else {
    RendezvousOptions ro{launch.master_addr, launch.master_port, launch.rank, launch.world_size, opt.timeout_s};
    payload = rendezvous_exchange(ro, payload);
  }
  NAT_CHECK(payload.size() >= kIdBytes, "[nccl] the unique id received by ", launch.str(), " has ", payload.size(),
            " bytes, expected ", kIdBytes);
  id = payload.substr(0, kIdBytes);
  where = payload.substr(kIdBytes);
  where.resize(std::strlen(where.c_str()));  // MPI pads with zeros
  cuda::NcclId raw{};
  std::copy(id.begin(), id.end(), raw.begin());
  auto comm = std::make_shared<cuda::NcclComm>(launch.rank, launch.world_size, raw, device.index);
  auto nccl = std::make_shared<NcclCommunicator>(launch.rank, launch.world_size, device, std::move(comm), opt);
  nccl->start_heartbeat(heartbeat_options(launch, std::move(store), where));
  return nccl;
}

}  // namespace nat::train
