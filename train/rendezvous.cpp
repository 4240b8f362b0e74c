// The TCP rendezvous and the heartbeat store over POSIX sockets. All integers travel as raw little-endian
// bytes (every machine we run on).
//   rendezvous  peer -> rank 0: magic "NATR", u32 rank, u32 world size; rank 0 -> peer: u64 length, payload
//   heartbeat   rank -> store: magic "NATH", u32 kind (1 beat, 2 query), u32 rank, u32 world size, u64 seq,
//               u32 name length, name; the store answers a query with u32 world size and per rank: u8 seen,
//               u8 connected, u64 seq, f64 age in seconds, u32 name length, name. One thread serves every
//               connection with poll(); beats keep their connection open, queries use one of their own.
#include "train/rendezvous.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "core/error.h"

namespace nat::train {

namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(), fd_ = o.fd_, o.fd_ = -1;
    return *this;
  }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

int ms_left(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms < 0 ? 0 : static_cast<int>(ms > 1000 ? 1000 : ms);
}

// Reads or writes exactly n bytes before the deadline; false on timeout or a closed socket.
bool io_all(int fd, void* buf, size_t n, bool write, Clock::time_point deadline) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    if (Clock::now() >= deadline) return false;
    pollfd pfd{fd, static_cast<short>(write ? POLLOUT : POLLIN), 0};
    int r = ::poll(&pfd, 1, ms_left(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t k = write ? ::send(fd, p, n, MSG_NOSIGNAL) : ::recv(fd, p, n, 0);
    if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (k <= 0) return false;
    p += k, n -= static_cast<size_t>(k);
  }
  return true;
}

constexpr char kMagic[4] = {'N', 'A', 'T', 'R'};

// A socket listening on `port` of every interface (IPv6 and IPv4 where the host has both); port 0 takes any
// free port, returned in *bound. Throws naming `who` and the port (`port_name`: where it came from).
Fd listen_on(int port, const char* port_name, const char* who, int* bound) {
  Fd srv(::socket(AF_INET6, SOCK_STREAM, 0));
  bool v6 = srv.get() >= 0;
  if (!v6) srv = Fd(::socket(AF_INET, SOCK_STREAM, 0));
  NAT_CHECK(srv.get() >= 0, "[", who, "] rank 0: socket() failed: ", std::strerror(errno));
  int one = 1, zero = 0;
  ::setsockopt(srv.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc;
  if (v6) {
    ::setsockopt(srv.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);  // IPv4 peers too
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6, a.sin6_addr = in6addr_any, a.sin6_port = htons(static_cast<uint16_t>(port));
    rc = ::bind(srv.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET, a.sin_addr.s_addr = htonl(INADDR_ANY), a.sin_port = htons(static_cast<uint16_t>(port));
    rc = ::bind(srv.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  NAT_CHECK(rc == 0, "[", who, "] rank 0 cannot listen on port ", port, " (", port_name, "): ", std::strerror(errno),
            "; pick a free port");
  NAT_CHECK(::listen(srv.get(), 128) == 0, "[", who, "] rank 0: listen() on port ", port,
            " failed: ", std::strerror(errno));
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  *bound = port;
  if (::getsockname(srv.get(), reinterpret_cast<sockaddr*>(&a), &len) == 0)
    *bound = ntohs(a.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&a)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&a)->sin_port);
  return srv;
}

std::string serve(const RendezvousOptions& o, const std::string& payload, Clock::time_point deadline) {
  int bound = 0;
  Fd srv = listen_on(o.port, "MASTER_PORT", "rendezvous", &bound);

  std::vector<char> seen(static_cast<size_t>(o.world_size), 0);
  int missing = o.world_size - 1;
  const uint64_t len = payload.size();
  while (missing > 0) {
    if (Clock::now() >= deadline) {
      std::string who;
      for (int r = 1; r < o.world_size; ++r)
        if (!seen[static_cast<size_t>(r)]) who += (who.empty() ? "" : ", ") + std::to_string(r);
      NAT_THROW("[rendezvous] rank 0: rank(s) ", who, " did not connect to port ", o.port, " within ", o.timeout_s,
                " s (timeout); check MASTER_ADDR/MASTER_PORT and that every rank was started");
    }
    pollfd pfd{srv.get(), POLLIN, 0};
    if (::poll(&pfd, 1, ms_left(deadline)) <= 0) continue;
    Fd c(::accept(srv.get(), nullptr, nullptr));
    if (c.get() < 0) continue;
    char hello[12];
    if (!io_all(c.get(), hello, sizeof hello, false, deadline) || std::memcmp(hello, kMagic, 4) != 0)
      continue;  // not one of ours (a port scanner, a stale peer): ignore it
    uint32_t rank = 0, world = 0;
    std::memcpy(&rank, hello + 4, 4), std::memcpy(&world, hello + 8, 4);
    NAT_CHECK(static_cast<int>(world) == o.world_size, "[rendezvous] rank 0: rank ", rank, " reports world size ",
              world, ", this process ", o.world_size, "; every rank must be launched with the same WORLD_SIZE");
    NAT_CHECK(rank >= 1 && static_cast<int>(rank) < o.world_size, "[rendezvous] rank 0: a peer reports rank ", rank,
              " outside world size ", o.world_size);
    NAT_CHECK(!seen[rank], "[rendezvous] rank 0: two processes claim rank ", rank);
    if (!io_all(c.get(), const_cast<uint64_t*>(&len), 8, true, deadline) ||
        !io_all(c.get(), const_cast<char*>(payload.data()), payload.size(), true, deadline))
      continue;  // it went away; it may retry
    seen[rank] = 1;
    --missing;
  }
  return payload;
}

std::string join(const RendezvousOptions& o, Clock::time_point deadline) {
  NAT_CHECK(!o.addr.empty(), "[rendezvous] rank ", o.rank,
            ": MASTER_ADDR is not set; export the host name of rank 0 (and MASTER_PORT), or launch with mpirun");
  const std::string port = std::to_string(o.port);
  std::string last_error = "no answer";
  while (Clock::now() < deadline) {
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    int g = ::getaddrinfo(o.addr.c_str(), port.c_str(), &hints, &res);
    if (g != 0) {
      last_error = ::gai_strerror(g);
    } else {
      for (addrinfo* a = res; a; a = a->ai_next) {
        Fd c(::socket(a->ai_family, a->ai_socktype, a->ai_protocol));
        if (c.get() < 0) continue;
        if (::connect(c.get(), a->ai_addr, a->ai_addrlen) != 0) {
          last_error = std::strerror(errno);
          continue;
        }
        char hello[12];
        uint32_t r = static_cast<uint32_t>(o.rank), w = static_cast<uint32_t>(o.world_size);
        std::memcpy(hello, kMagic, 4), std::memcpy(hello + 4, &r, 4), std::memcpy(hello + 8, &w, 4);
        uint64_t len = 0;
        if (io_all(c.get(), hello, sizeof hello, true, deadline) && io_all(c.get(), &len, 8, false, deadline) &&
            len < (1u << 20)) {
          std::string out(len, '\0');
          if (io_all(c.get(), out.data(), len, false, deadline)) {
            ::freeaddrinfo(res);
            return out;
          }
        }
        last_error = "the connection closed early";
      }
      ::freeaddrinfo(res);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // rank 0 may not be listening yet
  }
  NAT_THROW("[rendezvous] rank ", o.rank, ": could not reach rank 0 at ", o.addr, ":", o.port, " within ", o.timeout_s,
            " s (", last_error, "); check MASTER_ADDR/MASTER_PORT and that rank 0 is running");
}

// Connects to host:port before the deadline (a non-blocking connect, so an unreachable host cannot hang the
// caller); an invalid Fd and *err on failure.
Fd connect_to(const std::string& host, int port, Clock::time_point deadline, std::string* err) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  const int g = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (g != 0) {
    *err = ::gai_strerror(g);
    return Fd();
  }
  *err = "no address";
  for (addrinfo* a = res; a; a = a->ai_next) {
    Fd c(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (c.get() < 0) continue;
    if (::connect(c.get(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      *err = std::strerror(errno);
      continue;
    }
    pollfd pfd{c.get(), POLLOUT, 0};
    int r = 0;
    while ((r = ::poll(&pfd, 1, ms_left(deadline))) == 0 && Clock::now() < deadline) {
    }
    int so = 0;
    socklen_t len = sizeof so;
    if (r <= 0) {
      *err = "no answer within the timeout";
    } else if (::getsockopt(c.get(), SOL_SOCKET, SO_ERROR, &so, &len) != 0 || so != 0) {
      *err = std::strerror(so ? so : errno);
    } else {
      int one = 1;
      ::setsockopt(c.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::freeaddrinfo(res);
      return c;
    }
  }
  ::freeaddrinfo(res);
  return Fd();
}

constexpr char kBeatMagic[4] = {'N', 'A', 'T', 'H'};
constexpr uint32_t kBeat = 1, kQuery = 2;
constexpr size_t kBeatHeader = 28;   // magic, kind, rank, world, seq, name length
constexpr uint32_t kMaxName = 1024;  // longer collective names are cut

template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T>
T get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

std::string beat_message(uint32_t kind, int rank, int world, const CollectiveProgress& p) {
  const std::string name = p.what.substr(0, kMaxName);
  std::string m(kBeatMagic, 4);
  put<uint32_t>(m, kind), put<uint32_t>(m, static_cast<uint32_t>(rank)), put<uint32_t>(m, static_cast<uint32_t>(world));
  put<uint64_t>(m, p.seq), put<uint32_t>(m, static_cast<uint32_t>(name.size()));
  return m + name;
}

std::string age_str(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", s);
  return buf;
}

}  // namespace

std::string rendezvous_exchange(const RendezvousOptions& o, const std::string& payload) {
  NAT_CHECK(o.world_size >= 1 && o.rank >= 0 && o.rank < o.world_size, "[rendezvous] rank ", o.rank,
            " is outside world size ", o.world_size);
  if (o.world_size == 1) return payload;
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000.0));
  return o.rank == 0 ? serve(o, payload, deadline) : join(o, deadline);
}

}  // namespace nat::train

namespace nat::train {

// ---- the heartbeat store (rank 0) ----

struct HeartbeatStore::Server {
  struct Client {
    Fd fd;
    int rank = -1;  // known after its first beat
    std::string in;
  };
  Fd listener;
  int wake[2] = {-1, -1};  // the destructor writes a byte to end poll()
  std::thread thread;

  ~Server() {
    for (int fd : wake)
      if (fd >= 0) ::close(fd);
  }

  // Handles what `c` sent so far; false when the connection should close (garbage, a wrong world size).
  bool handle(HeartbeatStore& store, Client& c) {
    while (c.in.size() >= kBeatHeader) {
      if (std::memcmp(c.in.data(), kBeatMagic, 4) != 0) return false;
      const auto kind = get<uint32_t>(c.in.data() + 4), rank = get<uint32_t>(c.in.data() + 8),
                 world = get<uint32_t>(c.in.data() + 12), len = get<uint32_t>(c.in.data() + 24);
      if (static_cast<int>(world) != store.world_size_ || len > kMaxName) return false;
      if (c.in.size() < kBeatHeader + len) return true;  // the rest is still coming
      if (kind == kBeat) {
        if (static_cast<int>(rank) >= store.world_size_ || (c.rank >= 0 && c.rank != static_cast<int>(rank)))
          return false;
        CollectiveProgress p{get<uint64_t>(c.in.data() + 16), c.in.substr(kBeatHeader, len)};
        if (c.rank < 0) {
          c.rank = static_cast<int>(rank);
          std::lock_guard<std::mutex> lock(store.mu_);
          ++store.connections_[rank];
        }
        store.beat(c.rank, p, true);
      } else if (kind == kQuery) {
        std::string out;
        put<uint32_t>(out, static_cast<uint32_t>(store.world_size_));
        for (const RankBeat& b : store.snapshot()) {
          put<uint8_t>(out, b.seen), put<uint8_t>(out, b.connected), put<uint64_t>(out, b.progress.seq);
          put<double>(out, b.age_s), put<uint32_t>(out, static_cast<uint32_t>(b.progress.what.size()));
          out += b.progress.what;
        }
        // A reader that does not read its answer within a second is dropped rather than stall the store.
        if (!io_all(c.fd.get(), out.data(), out.size(), true, Clock::now() + std::chrono::seconds(1))) return false;
      } else {
        return false;
      }
      c.in.erase(0, kBeatHeader + len);
    }
    return true;
  }

  void run(HeartbeatStore& store) {
    std::vector<Client> clients;
    const size_t max_clients = 2 * static_cast<size_t>(store.world_size_) + 16;
    std::vector<pollfd> fds;
    char buf[4096];
    for (;;) {
      fds.assign({{wake[0], POLLIN, 0}, {listener.get(), POLLIN, 0}});
      for (const Client& c : clients) fds.push_back({c.fd.get(), POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[0].revents) return;
      std::vector<char> drop(clients.size(), 0);
      for (size_t i = 0; i < clients.size(); ++i) {
        if (!fds[i + 2].revents) continue;
        Client& c = clients[i];
        const ssize_t k = ::recv(c.fd.get(), buf, sizeof buf, 0);
        if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (k <= 0) {
          drop[i] = 1;
          continue;
        }
        c.in.append(buf, static_cast<size_t>(k));
        if (!handle(store, c)) drop[i] = 1;
      }
      for (size_t i = clients.size(); i-- > 0;) {
        if (!drop[i]) continue;
        if (clients[i].rank >= 0) store.disconnected(clients[i].rank);
        clients.erase(clients.begin() + static_cast<std::ptrdiff_t>(i));
      }
      if (fds[1].revents & POLLIN) {
        Fd c(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (c.get() >= 0 && clients.size() < max_clients) clients.push_back(Client{std::move(c), -1, {}});
      }
    }
  }
};

HeartbeatStore::HeartbeatStore(int world_size, int port)
    : world_size_(world_size),
      beats_(static_cast<size_t>(world_size)),
      last_(static_cast<size_t>(world_size)),
      connections_(static_cast<size_t>(world_size), 0) {
  NAT_CHECK(world_size >= 1, "[heartbeat] world size ", world_size, " must be at least 1");
  auto s = std::make_unique<Server>();
  s->listener = listen_on(port, port == 0 ? "any free port" : "the heartbeat port", "heartbeat", &port_);
  NAT_CHECK(::pipe2(s->wake, O_CLOEXEC) == 0, "[heartbeat] pipe() failed: ", std::strerror(errno));
  server_ = std::move(s);
  server_->thread = std::thread([this] {
    try {
      server_->run(*this);
    } catch (...) {
      // Out of memory in a side channel: the store stops answering; training is not its business.
    }
  });
}

HeartbeatStore::~HeartbeatStore() {
  const char byte = 0;
  while (::write(server_->wake[1], &byte, 1) < 0 && errno == EINTR) {
  }
  server_->thread.join();
}

void HeartbeatStore::beat(int rank, const CollectiveProgress& p, bool connected) {
  std::lock_guard<std::mutex> lock(mu_);
  RankBeat& b = beats_[static_cast<size_t>(rank)];
  b.seen = true, b.connected = connected, b.progress = p;
  last_[static_cast<size_t>(rank)] = Clock::now();
}

void HeartbeatStore::disconnected(int rank) {
  std::lock_guard<std::mutex> lock(mu_);
  if (--connections_[static_cast<size_t>(rank)] <= 0) beats_[static_cast<size_t>(rank)].connected = false;
}

void HeartbeatStore::update(int rank, const CollectiveProgress& p) {
  NAT_CHECK(rank >= 0 && rank < world_size_, "[heartbeat] rank ", rank, " outside world size ", world_size_);
  beat(rank, p, true);
}

std::vector<RankBeat> HeartbeatStore::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<RankBeat> out = beats_;
  const auto now = Clock::now();
  for (size_t r = 0; r < out.size(); ++r)
    if (out[r].seen) out[r].age_s = std::chrono::duration<double>(now - last_[r]).count();
  return out;
}

// ---- a rank's publisher ----

Heartbeat::Heartbeat(HeartbeatOptions opt, std::function<CollectiveProgress()> progress)
    : opt_(std::move(opt)), progress_(std::move(progress)) {
  NAT_CHECK(opt_.rank >= 0 && opt_.rank < opt_.world_size, "[heartbeat] rank ", opt_.rank, " outside world size ",
            opt_.world_size);
  NAT_CHECK(opt_.period_s > 0, "[heartbeat] the period must be positive, got ", opt_.period_s);
  thread_ = std::thread([this] {
    try {
      loop();
    } catch (...) {
      // As in the store: a failing side channel falls silent, it never ends the run.
    }
  });
}

Heartbeat::~Heartbeat() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Heartbeat::loop() {
  const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt_.period_s));
  // A connect or send may take at most this long, so the destructor never waits much longer.
  const auto io_limit =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(std::clamp(opt_.period_s, 0.2, 2.0)));
  Fd fd;
  bool ever_connected = false, warned = false;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    const CollectiveProgress p = progress_();
    if (opt_.store) {
      opt_.store->update(opt_.rank, p);
    } else {
      std::string err;
      if (fd.get() < 0) fd = connect_to(opt_.addr, opt_.port, Clock::now() + io_limit, &err);
      if (fd.get() >= 0) {
        std::string m = beat_message(kBeat, opt_.rank, opt_.world_size, p);
        if (io_all(fd.get(), m.data(), m.size(), true, Clock::now() + io_limit))
          ever_connected = true;
        else
          fd.reset(), err = "the connection closed";
      }
      if (fd.get() < 0 && !ever_connected && !warned) {
        std::fprintf(stderr,
                     "[rank %d] nat: warning: rank 0's heartbeat store at %s:%d cannot be reached (%s); training "
                     "goes on, but a collective timeout will not be able to name the rank that stalled\n",
                     opt_.rank, opt_.addr.c_str(), opt_.port, err.c_str());
        warned = true;
      }
    }
    lock.lock();
    cv_.wait_for(lock, period, [&] { return stop_; });
  }
}

std::optional<std::vector<RankBeat>> Heartbeat::query(double timeout_s, std::string* why) const {
  if (opt_.store) return opt_.store->snapshot();
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  std::string err;
  Fd fd = connect_to(opt_.addr, opt_.port, deadline, &err);
  auto fail = [&](const std::string& reason) -> std::optional<std::vector<RankBeat>> {
    if (why) *why = reason;
    return std::nullopt;
  };
  if (fd.get() < 0) return fail(str("cannot connect to ", opt_.addr, ":", opt_.port, ": ", err));
  std::string m = beat_message(kQuery, opt_.rank, opt_.world_size, {});
  uint32_t world = 0;
  if (!io_all(fd.get(), m.data(), m.size(), true, deadline) || !io_all(fd.get(), &world, 4, false, deadline))
    return fail(str("no answer from ", opt_.addr, ":", opt_.port, " within ", timeout_s, " s"));
  if (static_cast<int>(world) != opt_.world_size) return fail(str("it reports world size ", world));
  std::vector<RankBeat> out(world);
  for (RankBeat& b : out) {
    char h[22];
    if (!io_all(fd.get(), h, sizeof h, false, deadline)) return fail("its answer was cut short");
    b.seen = h[0] != 0, b.connected = h[1] != 0;
    b.progress.seq = get<uint64_t>(h + 2), b.age_s = get<double>(h + 10);
    const auto len = get<uint32_t>(h + 18);
    if (len > kMaxName) return fail("its answer is malformed");
    b.progress.what.resize(len);
    if (!io_all(fd.get(), b.progress.what.data(), len, false, deadline)) return fail("its answer was cut short");
  }
  return out;
}

// ---- the timeout message ----

std::string describe_stragglers(const std::vector<RankBeat>& beats, int self, uint64_t seq, double stale_s) {
  std::vector<int> behind, unseen, stuck;  // stuck: entered it, but the whole process has gone quiet
  for (int r = 0; r < static_cast<int>(beats.size()); ++r) {
    const RankBeat& b = beats[static_cast<size_t>(r)];
    if (r == self) continue;
    if (!b.seen)
      unseen.push_back(r);
    else if (b.progress.seq < seq)
      behind.push_back(r);
    else if (!b.connected || b.age_s > stale_s)
      stuck.push_back(r);
  }
  auto heartbeat = [&](const RankBeat& b) {
    if (!b.connected)
      return str("last heartbeat ", age_str(b.age_s), " s ago, then its connection closed (the process ended)");
    if (b.age_s > stale_s)
      return str("last heartbeat ", age_str(b.age_s),
                 " s ago (the whole process is stuck: stopped, swapping or in a debugger)");
    return str("heartbeat ", age_str(b.age_s), " s ago");
  };
  auto last = [&](const RankBeat& b) {
    if (b.progress.seq == 0) return std::string("it has entered no collective yet");
    return str("its last collective is #", b.progress.seq, " (", b.progress.what, ")");
  };
  auto rank_list = [](const std::vector<int>& rs) {
    std::string s;
    const size_t shown = std::min<size_t>(rs.size(), 16);
    for (size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + std::to_string(rs[i]);
    if (rs.size() > shown) s += str(" and ", rs.size() - shown, " more");
    return s;
  };
  std::vector<std::string> parts;
  if (behind.size() == 1) {
    const RankBeat& b = beats[static_cast<size_t>(behind[0])];
    parts.push_back(str("rank ", behind[0], " has not arrived: ", last(b), ", ", heartbeat(b)));
  } else if (!behind.empty()) {
    std::string s = str("ranks ", rank_list(behind), " have not arrived");
    const size_t detailed = std::min<size_t>(behind.size(), 4);
    for (size_t i = 0; i < detailed; ++i) {
      const RankBeat& b = beats[static_cast<size_t>(behind[i])];
      s += str(i ? "; rank " : ": rank ", behind[i], ": ", last(b), ", ", heartbeat(b));
    }
    parts.push_back(s);
  }
  for (int r : stuck) {
    if (parts.size() >= 6) break;
    parts.push_back(str("rank ", r, " entered it but ", heartbeat(beats[static_cast<size_t>(r)])));
  }
  if (!unseen.empty())
    parts.push_back(
        str("no heartbeat ever came from rank(s) ", rank_list(unseen), " (their side channel did not connect)"));
  if (behind.empty() && unseen.empty() && stuck.empty())
    parts.push_back(
        "every rank has entered it (by their heartbeats), so the collective itself is stuck: look for a "
        "network or NCCL failure");
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

}  // namespace nat::train
