// The in-order collective worker and its watchdog (see comm_worker.h).
#include "train/comm_worker.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "core/error.h"

namespace nat::train {

using Clock = std::chrono::steady_clock;

struct CommWorker::Task final : Work {
  std::string what;
  std::function<void()> run;
  std::function<bool()> watch;
  Clock::time_point started{};
  bool started_flag = false, finished = false;
  std::exception_ptr error;
  std::mutex* mu = nullptr;
  std::condition_variable* cv = nullptr;

  void wait() override {
    std::unique_lock<std::mutex> lock(*mu);
    cv->wait(lock, [&] { return finished; });
    if (error) std::rethrow_exception(error);
  }
  bool done() override {
    std::lock_guard<std::mutex> lock(*mu);
    return finished;
  }
  double finished_at() const override {
    std::lock_guard<std::mutex> lock(*mu);
    return finished ? std::chrono::duration<double>(ended.time_since_epoch()).count() : 0.0;
  }
  Clock::time_point ended{};
};

CommWorker::CommWorker(int rank, double timeout_s, Hooks hooks)
    : rank_(rank), timeout_s_(timeout_s), hooks_(std::move(hooks)) {
  worker_ = std::thread([this] { worker_loop(); });
  watchdog_ = std::thread([this] { watchdog_loop(); });
}

CommWorker::~CommWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
  watchdog_.join();
}

std::shared_ptr<Work> CommWorker::submit(std::string what, std::function<void()> run, std::function<bool()> watch) {
  auto t = std::make_shared<Task>();
  t->what = std::move(what), t->run = std::move(run), t->watch = std::move(watch);
  t->mu = &mu_, t->cv = &cv_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    NAT_CHECK(!stop_, "[comm] ", t->what, ": the communicator is shutting down");
    queue_.push_back(t);
  }
  cv_.notify_all();
  return t;
}

void CommWorker::worker_loop() {
  for (;;) {
    std::shared_ptr<Task> t;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      t = queue_.front();
      queue_.pop_front();
      t->started = Clock::now(), t->started_flag = true;
      pending_.push_back(t);
    }
    std::exception_ptr err;
    try {
      t->run();
    } catch (...) {
      err = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      t->error = err;
      t->ended = Clock::now();
      t->finished = true;  // host side done; the watchdog keeps device operations until watch() says so
      if (!t->watch || err) pending_.erase(std::find(pending_.begin(), pending_.end(), t));
    }
    cv_.notify_all();
  }
}

void CommWorker::fail(const std::string& message) {
  std::fprintf(stderr, "[rank %d] nat: %s\n", rank_, message.c_str());
  std::fflush(stderr);
  if (hooks_.on_timeout) hooks_.on_timeout();
  std::_Exit(kCommTimeoutExit);
}

void CommWorker::watchdog_loop() {
  const auto period =
      std::chrono::milliseconds(std::clamp(static_cast<int64_t>(timeout_s_ * 100.0), int64_t{10}, int64_t{1000}));
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait_for(lock, period);
    if (stop_ && queue_.empty() && pending_.empty()) return;
    // Device operations leave the list once their event has fired.
    for (auto it = pending_.begin(); it != pending_.end();) {
      if ((*it)->finished && (*it)->watch && (*it)->watch())
        it = pending_.erase(it);
      else
        ++it;
    }
    if (pending_.empty()) continue;
    const std::shared_ptr<Task> oldest = pending_.front();
    const double age = std::chrono::duration<double>(Clock::now() - oldest->started).count();
    std::string async_error = hooks_.poll_error ? hooks_.poll_error() : std::string();
    if (!async_error.empty()) fail(str(oldest->what, " failed: ", async_error, "; aborting the communicator"));
    if (age > timeout_s_)
      fail(str(oldest->what, " did not finish within ", timeout_s_,
               " s (dist_timeout): another rank stalled or died; aborting the communicator"));
  }
}

}  // namespace nat::train
