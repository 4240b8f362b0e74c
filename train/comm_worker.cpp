// The in-order collective worker, its watchdog, and the heartbeat that lets a timeout name the late rank
// (see comm_worker.h).
#include "train/comm_worker.h"

#include <unistd.h>

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
  uint64_t seq = 0;  // its number in submission order, from 1
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
  std::shared_ptr<Heartbeat> hb;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
  watchdog_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    hb = std::move(heartbeat_);
  }
  hb.reset();  // joins its thread, which reads progress() under mu_
}

CollectiveProgress CommWorker::progress() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {submitted_, last_what_};
}

double CommWorker::heartbeat_period(double timeout_s) { return std::clamp(timeout_s / 4, 0.05, 1.0); }
double CommWorker::heartbeat_query_timeout(double timeout_s) { return std::clamp(timeout_s / 2, 1.0, 5.0); }

void CommWorker::start_heartbeat(HeartbeatOptions opt) {
  if (!opt.store && (opt.addr.empty() || opt.port <= 0)) return;  // no side channel this run
  opt.period_s = heartbeat_period(timeout_s_);
  try {
    auto hb = std::make_shared<Heartbeat>(std::move(opt), [this] { return progress(); });
    std::lock_guard<std::mutex> lock(mu_);
    heartbeat_ = std::move(hb);
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "[rank %d] nat: warning: no heartbeat side channel (%s); a collective timeout will not "
                 "name the rank that stalled\n",
                 rank_, e.what());
  }
}

std::shared_ptr<Work> CommWorker::submit(std::string what, std::function<void()> run, std::function<bool()> watch) {
  auto t = std::make_shared<Task>();
  t->what = std::move(what), t->run = std::move(run), t->watch = std::move(watch);
  t->mu = &mu_, t->cv = &cv_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    NAT_CHECK(!stop_, "[comm] ", t->what, ": the communicator is shutting down");
    t->seq = ++submitted_;
    last_what_ = t->what;
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
    if (age > timeout_s_) {
      const std::string head =
          str(oldest->what, " (collective #", oldest->seq, ") did not finish within ", timeout_s_, " s (dist_timeout)");
      lock.unlock();  // asking the store takes a moment; the heartbeat thread needs progress() meanwhile
      fail(str(head, "; ", who_is_behind(oldest->seq), "; aborting the communicator"));
    }
  }
}

std::string CommWorker::who_is_behind(uint64_t seq) {
  std::shared_ptr<Heartbeat> hb;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hb = heartbeat_;
  }
  if (!hb) return "another rank stalled or died (no heartbeat side channel to tell which)";
  std::string why;
  std::optional<std::vector<RankBeat>> beats = hb->query(heartbeat_query_timeout(timeout_s_), &why);
  if (!beats)
    return str("rank 0's heartbeat store did not answer (", why,
               "), so rank 0 is likely the rank that stalled (stopped, hung, or its host unreachable)");
  // Beats come every period; one several periods old means the whole process has gone quiet.
  const double stale_s = std::max(5.0, 5 * hb->options().period_s);
  return describe_stragglers(*beats, rank_, seq, stale_s);
}

std::string start_heartbeat_store(const LaunchInfo& launch, std::shared_ptr<HeartbeatStore>* store) {
  store->reset();
  if (launch.rank != 0 || launch.world_size < 2) return "";
  try {
    *store = std::make_shared<HeartbeatStore>(launch.world_size);
    // An explicit MASTER_ADDR wins; under MPI, rank 0 is on this machine (the Slurm default of MASTER_ADDR,
    // the first node of the job, need not be where rank 0 runs); otherwise the rendezvous host.
    const char* env = std::getenv("MASTER_ADDR");
    std::string host = env && *env ? env : launch.mpi ? "" : launch.master_addr;
    if (host.empty()) {
      char name[256] = {};
      NAT_CHECK(::gethostname(name, sizeof name - 1) == 0, "gethostname failed");
      host = name;
    }
    std::string where = str(host, ":", (*store)->port());
    NAT_CHECK(where.size() < kHeartbeatAddressBytes, "the address ", where, " is too long");
    return where;
  } catch (const std::exception& e) {
    store->reset();
    std::fprintf(stderr,
                 "[rank 0] nat: warning: the heartbeat store did not start (%s); a collective timeout will "
                 "not name the rank that stalled\n",
                 e.what());
    return "";
  }
}

HeartbeatOptions heartbeat_options(const LaunchInfo& launch, std::shared_ptr<HeartbeatStore> store,
                                   const std::string& where) {
  HeartbeatOptions o;
  o.rank = launch.rank, o.world_size = launch.world_size;
  o.store = std::move(store);
  // "host:port"; the host may be an IPv6 address with colons of its own.
  const size_t colon = where.rfind(':');
  if (o.store || colon == std::string::npos) return o;
  o.addr = where.substr(0, colon);
  o.port = std::atoi(where.c_str() + colon + 1);
  if (o.addr.size() > 2 && o.addr.front() == '[' && o.addr.back() == ']') o.addr = o.addr.substr(1, o.addr.size() - 2);
  return o;
}

}  // namespace nat::train
