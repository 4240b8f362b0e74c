// CommWorker: runs a communicator's host-side collectives one at a time, in submission order, on a thread
// of its own (so an MPI all-reduce proceeds while backward goes on), and watches the clock: an operation
// still running after `timeout_s` makes the watchdog print "[rank R] nat: <what> did not finish within T s"
// to stderr, call `on_timeout` (MPI_Abort, ncclCommAbort) and exit the process with kCommTimeoutExit.
// The watchdog also polls `poll_error` (NCCL's asynchronous errors) while anything is pending.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "train/comm.h"

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

 private:
  struct Task;
  void worker_loop();
  void watchdog_loop();
  [[noreturn]] void fail(const std::string& message);

  const int rank_;
  const double timeout_s_;
  Hooks hooks_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Task>> queue_;    // not started yet
  std::deque<std::shared_ptr<Task>> pending_;  // started, not yet known finished (watchdog's view)
  bool stop_ = false;
  std::thread worker_, watchdog_;
};

}  // namespace nat::train
