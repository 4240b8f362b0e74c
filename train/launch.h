// Who am I in a multi-process launch: rank, world size and local rank, read from the launcher's
// environment. Looked up in this order (the first launcher whose variables are present wins):
//   torchrun        RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT
//   Open MPI        OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK, _LOCAL_SIZE       (mpirun)
//   PMI / PMIx      PMI_RANK, PMI_SIZE (MPICH, Intel MPI; PMIX_RANK alone is not enough)
//   Slurm           SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE (srun)
// MASTER_ADDR / MASTER_PORT name the TCP rendezvous (train/rendezvous.h) of a launch without MPI; under
// Slurm MASTER_ADDR defaults to the first host of SLURM_JOB_NODELIST and MASTER_PORT to 29500.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace nat::train {

struct LaunchInfo {
  std::string launcher = "single";  // single | torchrun | mpirun | pmi | slurm
  int rank = 0, world_size = 1;
  int local_rank = 0, local_world_size = 1;
  std::string master_addr;  // "" when the launcher gave none
  int master_port = 29500;
  bool mpi = false;  // started by an MPI launcher (mpirun, or srun with PMI), so MPI_Init can bootstrap

  bool distributed() const { return world_size > 1; }
  int threads_per_rank() const;  // this node's cores shared among its ranks (at least 1)
  std::string str() const;       // "rank 1 of 4 (local 1 of 2, mpirun)"
};

// Reads the environment through `getenv` (std::getenv by default; tests pass a map). Throws nat::Error
// naming the variable when a value is not a number or out of range (rank >= world size, ...).
using EnvLookup = std::function<const char*(const char*)>;
LaunchInfo detect_launch(const EnvLookup& getenv = {});

// The first host of a Slurm node list: "node[03-05,07],gpu1" -> "node03"; "a,b" -> "a".
std::string first_slurm_host(const std::string& nodelist);

}  // namespace nat::train
