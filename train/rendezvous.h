// A one-shot TCP rendezvous for launches without MPI (torchrun, plain srun, ssh): rank 0 listens on
// MASTER_PORT, every other rank connects to MASTER_ADDR:MASTER_PORT, says its rank, and receives rank 0's
// payload (NCCL's 128-byte unique id). It returns on every rank once all world_size - 1 peers have
// checked in, so it is also a start-up barrier. Rank 0 names the ranks that never came; a peer names the
// address it could not reach. Both give up after `timeout_s`.
#pragma once

#include <string>

namespace nat::train {

struct RendezvousOptions {
  std::string addr;  // MASTER_ADDR (a host name or address); rank 0 listens on every interface
  int port = 29500;  // MASTER_PORT
  int rank = 0, world_size = 1;
  double timeout_s = 600;
};

// Rank 0 passes the payload and gets it back; the others pass anything and get rank 0's.
std::string rendezvous_exchange(const RendezvousOptions& opt, const std::string& payload);

}  // namespace nat::train
