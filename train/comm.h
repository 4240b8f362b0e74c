// Communicators: the collectives data-parallel training needs, behind one interface with three backends.
//   local  one process (world size 1): every collective is the identity; the trainer's default
//   mpi    CPU tensors, over MPI (mpirun / srun with PMI); collectives run in order on one worker thread
//   nccl   CUDA tensors of this rank's GPU, on the communicator's own stream, ordered after the compute
//          stream by an event; wait() makes the compute stream wait in turn, so a step never syncs the host
// Every collective names itself (`what`: "all_reduce bucket 2 (31 tensors, 24.6 MB)") and is numbered in
// issue order (#1, #2, ..., the same on every rank). A collective that has not finished within the timeout
// (dist_timeout, 600 s by default) aborts the communicator: the process prints "[rank R] ... <what>
// (collective #N) did not finish within T s", followed by the ranks that have not entered #N according to
// the heartbeat side channel (train/rendezvous.h), and exits with kCommTimeoutExit; under mpirun the
// launcher takes the other ranks down with it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "train/launch.h"

namespace nat::train {

enum class ReduceOp { sum, avg, max };

constexpr int kCommTimeoutExit = 124;  // the exit status of a rank whose collective timed out (as timeout(1))

// A collective in flight. wait() orders the caller after it: on the CPU it blocks until the result is in
// the tensor (rethrowing the collective's error); with NCCL the compute stream waits for it, the host not.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  virtual bool done() = 0;  // finished, without waiting
  // When it finished, on std::chrono::steady_clock in seconds; 0 when unknown (device work, not yet done).
  virtual double finished_at() const { return 0; }
};

struct CommOptions {
  double timeout_s = 600;    // per collective; then the communicator is aborted
  std::string backend = "";  // "" / auto: nccl for a CUDA device, mpi for the CPU | mpi | nccl
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  Device device() const { return device_; }
  virtual std::string backend() const = 0;

  // Collectives over contiguous tensors on device(), in place. Every rank must issue the same
  // collectives in the same order with the same shapes (as with MPI and NCCL themselves).
  virtual std::shared_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op, const std::string& what) = 0;
  virtual void broadcast(const Tensor& t, int root, const std::string& what) = 0;
  // out: (world_size, *in.shape), rank r's `in` at out[r]. Meant for small tensors.
  virtual Tensor all_gather(const Tensor& in, const std::string& what) = 0;
  virtual void barrier(const std::string& what) = 0;

  void all_reduce(const Tensor& t, ReduceOp op, const std::string& what) { all_reduce_async(t, op, what)->wait(); }
  // Host-side conveniences (they copy through device() and wait for the result).
  std::vector<double> all_reduce_values(const std::vector<double>& v, ReduceOp op, const std::string& what);
  std::vector<std::string> all_gather_strings(const std::string& mine, const std::string& what);
  std::string broadcast_string(const std::string& s, int root, const std::string& what);

 protected:
  Communicator(int rank, int world_size, Device device) : rank_(rank), world_size_(world_size), device_(device) {}
  void check_tensor(const Tensor& t, const char* op) const;  // defined, contiguous, on device()

 private:
  int rank_, world_size_;
  Device device_;
};

// A world of one process: nothing to communicate.
std::shared_ptr<Communicator> make_local_communicator(Device device = Device::cpu());

// The communicator of this launch (detect_launch()) for tensors on `device`: CPU -> MPI, CUDA -> NCCL
// (its unique id exchanged over MPI when MPI launched us, else over the TCP rendezvous at
// MASTER_ADDR:MASTER_PORT). A world of one gets the local communicator (NCCL's own world of one when
// opt.backend is "nccl" by name). Throws naming what is missing
// (an MPI-less build, a CPU run launched without MPI, ...).
std::shared_ptr<Communicator> make_communicator(const LaunchInfo& launch, Device device, const CommOptions& opt);

// For a fatal error on one rank of a distributed run: takes the whole job down (MPI_Abort when MPI is up)
// rather than leaving the other ranks to wait for it. Returns only when no MPI runtime is active.
void abort_job(int exit_code);

// --- backends (comm_mpi.cpp, comm_nccl.cpp; stubs throw when the build lacks MPI or NCCL) ---
bool mpi_compiled();
bool nccl_compiled();
std::shared_ptr<Communicator> make_mpi_communicator(const LaunchInfo& launch, const CommOptions& opt);
std::shared_ptr<Communicator> make_nccl_communicator(const LaunchInfo& launch, Device device, const CommOptions& opt);

// MPI bootstrap shared by the backends: initialises MPI once (thread level MULTIPLE when offered) and
// finalises it at exit. Throws when the build has no MPI.
void mpi_ensure_initialized();
// Broadcasts `bytes` from rank 0 over MPI_COMM_WORLD (NCCL's unique id, the heartbeat store's address),
// padded with zeros or cut to `size`.
std::string mpi_broadcast_bytes(const std::string& bytes, int size);
// Room for the heartbeat store's "host:port" in a start-up exchange (a longer host name: no side channel).
constexpr int kHeartbeatAddressBytes = 256;

}  // namespace nat::train
