// CommWorker: runs a communicator's host-side collectives one at a time, in submission order, on a thread
// of its own (so an MPI all-reduce proceeds while backward goes on), and watches the clock: an operation
// still running after `timeout_s` makes the watchdog print
//   "[rank R] nat: <what> (collective #N) did not finish within T s (dist_timeout); <who is behind>"
// to stderr, call `on_timeout` (MPI_Abort, ncclCommAbort) and exit the process with kCommTimeoutExit.
// The watchdog also polls `poll_error` (NCCL's asynchronous errors) while anything is pending.
// Collectives are numbered from 1 in submission order, the same numbers on every rank. With a heartbeat
// attached (train/rendezvous.h), the numbers go to rank 0's store, and a timeout names the ranks that
// have not entered collective #N.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "train/comm.h"
#include "train/rendezvous.h"

namespace nat::train {

class CommWorker {
 public:
  struct Hooks {
    std::function<void()> on_timeout;         // abort the communicator (may be empty)
    std::function<std::string()> poll_error;  // "" while healthy (may be empty)
  };
  CommWorker(int rank, double timeout_s, Hooks hooks);
  ~CommWorker();  // finishes the queue, then stops
  CommWorker(const CommWorker&) = delete;
  CommWorker& operator=(const CommWorker&) = delete;

  // Queues `run`; the Work completes when it returns (wait() rethrows what it threw). `watch`, when given,
  // is how the watchdog tells a finished device operation (run only enqueued it): the operation counts
  // as pending until watch() returns true.
  std::shared_ptr<Work> submit(std::string what, std::function<void()> run, std::function<bool()> watch = {});

  double timeout_s() const { return timeout_s_; }
  // How many collectives were submitted, and the last one's name (what the heartbeat publishes).
  CollectiveProgress progress() const;

  // Publishes progress() to the heartbeat store from now on (opt.period_s is set from the timeout).
  // Never throws: a side channel that cannot start prints a warning and is left out.
  void start_heartbeat(HeartbeatOptions opt);

  // The heartbeat's period and the limits the watchdog applies to it, from the collective timeout: a beat
  // about once a second (four per timeout when that is shorter), the store asked for at most 5 s.
  static double heartbeat_period(double timeout_s);
  static double heartbeat_query_timeout(double timeout_s);

 private:
  struct Task;
  void worker_loop();
  void watchdog_loop();
  std::string who_is_behind(uint64_t seq);  // the clause naming the late ranks, from the heartbeat store
  [[noreturn]] void fail(const std::string& message);

  const int rank_;
  const double timeout_s_;
  Hooks hooks_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Task>> queue_;    // not started yet
  std::deque<std::shared_ptr<Task>> pending_;  // started, not yet known finished (watchdog's view)
  bool stop_ = false;
  uint64_t submitted_ = 0;                // collectives numbered so far
  std::string last_what_;                 // the newest one's name (a copy: the task holds its tensors)
  std::shared_ptr<Heartbeat> heartbeat_;  // reset after the threads below are joined (its thread reads progress())
  std::thread worker_, watchdog_;
};

// The heartbeat's start-up, shared by the backends. Rank 0 starts the store and returns "host:port" for the
// others, or "" with a warning when it could not. The host: MASTER_ADDR when exported, else this machine's
// name under MPI, else the rendezvous host (Slurm's first node). The backend hands the string to every rank
// in its own start-up exchange (MPI_Bcast, the TCP rendezvous); heartbeat_options turns it back into where
// each rank publishes (port 0: nowhere, no side channel).
std::string start_heartbeat_store(const LaunchInfo& launch, std::shared_ptr<HeartbeatStore>* store);
HeartbeatOptions heartbeat_options(const LaunchInfo& launch, std::shared_ptr<HeartbeatStore> store,
                                   const std::string& where);

}  // namespace nat::train
