// The TCP rendezvous over POSIX sockets. Wire format, peer -> rank 0: magic "NATR", u32 rank,
// u32 world size; rank 0 -> peer: u64 payload length, payload bytes. All integers little-endian hosts
// only (every machine we run on), sent as raw bytes.
#include "train/rendezvous.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
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

std::string serve(const RendezvousOptions& o, const std::string& payload, Clock::time_point deadline) {
  Fd srv(::socket(AF_INET6, SOCK_STREAM, 0));
  bool v6 = srv.get() >= 0;
  if (!v6) srv = Fd(::socket(AF_INET, SOCK_STREAM, 0));
  NAT_CHECK(srv.get() >= 0, "[rendezvous] rank 0: socket() failed: ", std::strerror(errno));
  int one = 1, zero = 0;
  ::setsockopt(srv.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc;
  if (v6) {
    ::setsockopt(srv.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);  // IPv4 peers too
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6, a.sin6_addr = in6addr_any, a.sin6_port = htons(static_cast<uint16_t>(o.port));
    rc = ::bind(srv.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET, a.sin_addr.s_addr = htonl(INADDR_ANY), a.sin_port = htons(static_cast<uint16_t>(o.port));
    rc = ::bind(srv.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  NAT_CHECK(rc == 0, "[rendezvous] rank 0 cannot listen on port ", o.port, " (MASTER_PORT): ", std::strerror(errno),
            "; pick a free port");
  NAT_CHECK(::listen(srv.get(), 128) == 0, "[rendezvous] rank 0: listen() on port ", o.port,
            " failed: ", std::strerror(errno));

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

}  // namespace

std::string rendezvous_exchange(const RendezvousOptions& o, const std::string& payload) {
  NAT_CHECK(o.world_size >= 1 && o.rank >= 0 && o.rank < o.world_size, "[rendezvous] rank ", o.rank,
            " is outside world size ", o.world_size);
  if (o.world_size == 1) return payload;
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000.0));
  return o.rank == 0 ? serve(o, payload, deadline) : join(o, deadline);
}

}  // namespace nat::train
