// A build without MPI (the minimal GPU-check build disables it on purpose): the MPI backend throws,
// saying how to get it. NCCL runs still bootstrap over the TCP rendezvous.
#include "core/error.h"
#include "train/comm.h"

namespace nat::train {

namespace {
[[noreturn]] void no_mpi(const char* what) {
  NAT_THROW("[mpi] ", what,
            ": this build has no MPI (install libopenmpi-dev, scripts/deps.sh, and reconfigure); "
            "NCCL runs can rendezvous over TCP instead (MASTER_ADDR, MASTER_PORT)");
}
}  // namespace

bool mpi_compiled() { return false; }
void mpi_ensure_initialized() { no_mpi("MPI_Init"); }
std::string mpi_broadcast_bytes(const std::string&, int) { no_mpi("MPI_Bcast"); }
std::shared_ptr<Communicator> make_mpi_communicator(const LaunchInfo&, const CommOptions&) {
  no_mpi("the mpi communicator");
}
void abort_job(int) {}

}  // namespace nat::train
