// Rank 0's small TCP services for the other ranks, over POSIX sockets.
//   rendezvous  one shot, for launches without MPI (torchrun, plain srun, ssh): rank 0 listens on MASTER_PORT,
//               every other rank connects to MASTER_ADDR:MASTER_PORT, says its rank, and receives rank 0's
//               payload (NCCL's 128-byte unique id). It returns on every rank once all world_size - 1 peers
//               have checked in, so it is also a start-up barrier. Rank 0 names the ranks that never came; a
//               peer names the address it could not reach. Both give up after `timeout_s`.
//   heartbeat   for the whole run, with any backend: every rank publishes, from a background thread about
//               once a second, how many collectives it has entered and the name of the last one; rank 0's
//               store keeps each rank's last beat. When a collective times out, the watchdog asks the store
//               which ranks never entered it (train/comm_worker.h). It is a side channel only: when it cannot
//               be set up or stops answering, training goes on and the timeout message is less precise.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace nat::train {

struct RendezvousOptions {
  std::string addr;  // MASTER_ADDR (a host name or address); rank 0 listens on every interface
  int port = 29500;  // MASTER_PORT
  int rank = 0, world_size = 1;
  double timeout_s = 600;
};

// Rank 0 passes the payload and gets it back; the others pass anything and get rank 0's.
std::string rendezvous_exchange(const RendezvousOptions& opt, const std::string& payload);

// ---- the heartbeat side channel ----

// Where a rank is in the run's sequence of collectives: `seq` collectives entered (1-based numbering, so
// 0 means none yet), the last of them named `what`. Every rank issues the same collectives in the same
// order, so equal numbers are the same collective on every rank.
struct CollectiveProgress {
  uint64_t seq = 0;
  std::string what;
};

// One rank's last beat as rank 0's store saw it. Ages are measured on rank 0's clock, so the ranks' clocks
// need not agree.
struct RankBeat {
  bool seen = false;       // a beat ever arrived
  bool connected = false;  // its connection is still open (rank 0's own entry: always)
  CollectiveProgress progress;
  double age_s = 0;  // since the last beat
};

// Rank 0's store: a thread serving beats and queries on a TCP port (any free port when `port` is 0).
class HeartbeatStore {
 public:
  HeartbeatStore(int world_size, int port = 0);  // throws nat::Error when it cannot listen
  ~HeartbeatStore();
  HeartbeatStore(const HeartbeatStore&) = delete;
  HeartbeatStore& operator=(const HeartbeatStore&) = delete;

  int port() const { return port_; }
  int world_size() const { return world_size_; }
  void update(int rank, const CollectiveProgress& p);  // rank 0's own beat, in-process
  std::vector<RankBeat> snapshot() const;              // indexed by rank

 private:
  struct Server;
  void beat(int rank, const CollectiveProgress& p, bool connected);
  void disconnected(int rank);

  const int world_size_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::vector<RankBeat> beats_;
  std::vector<std::chrono::steady_clock::time_point> last_;
  std::vector<int> connections_;  // open connections per rank
  std::unique_ptr<Server> server_;
};

struct HeartbeatOptions {
  std::shared_ptr<HeartbeatStore> store;  // rank 0: its own store (beats and queries stay in-process)
  std::string addr;                       // the other ranks: where rank 0's store listens
  int port = 0;
  int rank = 0, world_size = 1;
  double period_s = 1.0;  // between beats
};

// A rank's publisher: a thread that sends progress() to the store every period, reconnecting as needed.
// Nothing it does throws or blocks the caller; an unreachable store is reported once on stderr.
class Heartbeat {
 public:
  Heartbeat(HeartbeatOptions opt, std::function<CollectiveProgress()> progress);
  ~Heartbeat();  // stops the thread (at most one send or connect timeout later)
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  // Every rank's last beat, or nullopt when the store did not answer within `timeout_s` (`why` says how).
  std::optional<std::vector<RankBeat>> query(double timeout_s, std::string* why = nullptr) const;
  const HeartbeatOptions& options() const { return opt_; }

 private:
  void loop();

  HeartbeatOptions opt_;
  std::function<CollectiveProgress()> progress_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// The clause a collective timeout appends, from the store's view of every rank (`self` excluded): the
// ranks that have not entered collective #`seq`, each with its last collective and heartbeat age, e.g.
// "rank 1 has not arrived: its last collective is #56 (all_reduce of gradient bucket 3), heartbeat 0.8 s ago".
// A heartbeat older than `stale_s` says the whole process is stuck (stopped, swapping, in a debugger).
std::string describe_stragglers(const std::vector<RankBeat>& beats, int self, uint64_t seq, double stale_s);

}  // namespace nat::train
