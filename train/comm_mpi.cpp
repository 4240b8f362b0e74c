// The MPI backend: CPU tensors over MPI_COMM_WORLD. Every MPI call after MPI_Init runs on the CommWorker
// thread, in submission order, so collectives match across ranks and an all-reduce proceeds while the
// main thread goes on with backward. MPI is initialised with MPI_THREAD_MULTIPLE when the library offers
// it (Open MPI does), which lets the watchdog call MPI_Abort while the worker is blocked in a collective.
#include <mpi.h>

#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "train/comm.h"
#include "train/comm_worker.h"

namespace nat::train {

namespace {

void mpi_check(int rc, const char* call, const std::string& what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  NAT_THROW("[mpi] ", call, " (", what, ") failed: ", std::string(msg, static_cast<size_t>(len)));
}

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::f32:
      return MPI_FLOAT;
    case DType::f64:
      return MPI_DOUBLE;
    case DType::i32:
      return MPI_INT32_T;
    case DType::i64:
      return MPI_INT64_T;
    case DType::u8:
      return MPI_UINT8_T;
    default:
      NAT_THROW("[mpi] dtype ", dtype_name(t), " has no MPI type (reduce f32/f64/i32/i64 tensors)");
  }
}

// MPI_Init_thread on first use, MPI_Finalize at exit (after every communicator is gone).
struct MpiRuntime {
  int thread_level = MPI_THREAD_SINGLE;
  bool we_initialised = false;
  MpiRuntime() {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
      int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &thread_level);
      if (rc != MPI_SUCCESS) NAT_THROW("[mpi] MPI_Init_thread failed (", rc, ")");
      we_initialised = true;
    } else {
      MPI_Query_thread(&thread_level);
    }
    NAT_CHECK(thread_level >= MPI_THREAD_SERIALIZED, "[mpi] the MPI library offers thread level ", thread_level,
              "; nat needs MPI_THREAD_SERIALIZED or better (collectives run on a worker thread)");
  }
  ~MpiRuntime() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (we_initialised && !finalized) MPI_Finalize();
  }
};

MpiRuntime* g_runtime = nullptr;

MpiRuntime& runtime() {
  static MpiRuntime r;
  g_runtime = &r;
  return r;
}

// Scales a sum to a mean in place (avg is not an MPI op).
void divide(const Tensor& t, int world) {
  const int64_t n = t.numel();
  if (t.dtype() == DType::f32) {
    float* p = t.data<float>();
    const float inv = 1.0f / static_cast<float>(world);
    for (int64_t i = 0; i < n; ++i) p[i] *= inv;
  } else if (t.dtype() == DType::f64) {
    double* p = t.data<double>();
    for (int64_t i = 0; i < n; ++i) p[i] /= world;
  } else {
    NAT_THROW("[mpi] all_reduce avg needs a floating-point tensor, got ", dtype_name(t.dtype()));
  }
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(int rank, int world, const CommOptions& opt)
      : Communicator(rank, world, Device::cpu()),
        worker_(rank, opt.timeout_s,
                {[] {
                   if (runtime().thread_level >= MPI_THREAD_MULTIPLE) MPI_Abort(MPI_COMM_WORLD, kCommTimeoutExit);
                 },
                 {}}) {}

  std::string backend() const override { return "mpi"; }
  void start_heartbeat(HeartbeatOptions o) { worker_.start_heartbeat(std::move(o)); }

  std::shared_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op, const std::string& what) override {
    check_tensor(t, "all_reduce");
    MPI_Datatype type = mpi_type(t.dtype());
    const int world = world_size();
    return worker_.submit(what, [t, op, type, world, what] {
      const int64_t n = t.numel();
      NAT_CHECK(n <= INT32_MAX, "[mpi] ", what, ": ", n, " elements exceed MPI's int count");
      MPI_Op mop = op == ReduceOp::max ? MPI_MAX : MPI_SUM;
      mpi_check(MPI_Allreduce(MPI_IN_PLACE, t.data_ptr(), static_cast<int>(n), type, mop, MPI_COMM_WORLD),
                "MPI_Allreduce", what);
      if (op == ReduceOp::avg) divide(t, world);
    });
  }

  void broadcast(const Tensor& t, int root, const std::string& what) override {
    check_tensor(t, "broadcast");
    NAT_CHECK(root >= 0 && root < world_size(), "[comm] broadcast: root ", root, " outside world size ", world_size());
    MPI_Datatype type = mpi_type(t.dtype());
    worker_
        .submit(what,
                [t, root, type, what] {
                  mpi_check(MPI_Bcast(t.data_ptr(), static_cast<int>(t.numel()), type, root, MPI_COMM_WORLD),
                            "MPI_Bcast", what);
                })
        ->wait();
  }

  Tensor all_gather(const Tensor& in, const std::string& what) override {
    check_tensor(in, "all_gather");
    Shape s = in.shape();
    s.insert(s.begin(), world_size());
    Tensor out = Tensor::empty(s, in.dtype(), Device::cpu());
    MPI_Datatype type = mpi_type(in.dtype());
    worker_
        .submit(what,
                [in, out, type, what] {
                  const int n = static_cast<int>(in.numel());
                  mpi_check(MPI_Allgather(in.data_ptr(), n, type, out.data_ptr(), n, type, MPI_COMM_WORLD),
                            "MPI_Allgather", what);
                })
        ->wait();
    return out;
  }

  void barrier(const std::string& what) override {
    worker_.submit(what, [what] { mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier", what); })->wait();
  }

 private:
  CommWorker worker_;
};

}  // namespace

bool mpi_compiled() { return true; }

void mpi_ensure_initialized() { runtime(); }

std::string mpi_broadcast_bytes(const std::string& bytes, int size) {
  runtime();
  std::string buf = bytes;
  buf.resize(static_cast<size_t>(size));
  mpi_check(MPI_Bcast(buf.data(), size, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast", "start-up bytes from rank 0");
  return buf;
}

std::shared_ptr<Communicator> make_mpi_communicator(const LaunchInfo& launch, const CommOptions& opt) {
  runtime();
  int rank = 0, world = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  NAT_CHECK(rank == launch.rank && world == launch.world_size, "[mpi] MPI says rank ", rank, " of ", world,
            ", the environment ", launch.str(), "; launch every rank with the same launcher");
  // The heartbeat store's address travels once over MPI; an empty one means no side channel this run.
  std::shared_ptr<HeartbeatStore> store;
  std::string where = start_heartbeat_store(launch, &store);
  where = mpi_broadcast_bytes(where, kHeartbeatAddressBytes);
  where.resize(std::strlen(where.c_str()));
  auto comm = std::make_shared<MpiCommunicator>(rank, world, opt);
  comm->start_heartbeat(heartbeat_options(launch, std::move(store), where));
  return comm;
}

void abort_job(int exit_code) {
  if (g_runtime == nullptr) return;
  int finalized = 0, size = 1;
  MPI_Finalized(&finalized);
  if (finalized) return;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
}

}  // namespace nat::train
