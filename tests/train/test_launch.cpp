// Launcher detection (torchrun, Open MPI, PMI, Slurm variables), the TCP rendezvous that hands NCCL's
// unique id to every rank when no MPI launched the job, and the heartbeat store that lets a collective
// timeout name the rank that did not arrive (ranks played by threads).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/expect_error.h"
#include "train/launch.h"
#include "train/rendezvous.h"

namespace nat::train {
namespace {

EnvLookup env_of(const std::map<std::string, std::string>& m) {
  return [m](const char* name) -> const char* {
    auto it = m.find(name);
    return it == m.end() ? nullptr : it->second.c_str();
  };
}

TEST(Launch, NoLauncherIsOneProcess) {
  LaunchInfo li = detect_launch(env_of({}));
  EXPECT_EQ(li.launcher, "single");
  EXPECT_EQ(li.rank, 0);
  EXPECT_EQ(li.world_size, 1);
  EXPECT_FALSE(li.distributed());
  EXPECT_FALSE(li.mpi);
}

TEST(Launch, TorchrunVariables) {
  LaunchInfo li = detect_launch(env_of({{"RANK", "5"},
                                        {"WORLD_SIZE", "8"},
                                        {"LOCAL_RANK", "1"},
                                        {"LOCAL_WORLD_SIZE", "4"},
                                        {"MASTER_ADDR", "node7"},
                                        {"MASTER_PORT", "29511"}}));
  EXPECT_EQ(li.launcher, "torchrun");
  EXPECT_EQ(li.rank, 5);
  EXPECT_EQ(li.world_size, 8);
  EXPECT_EQ(li.local_rank, 1);
  EXPECT_EQ(li.local_world_size, 4);
  EXPECT_EQ(li.master_addr, "node7");
  EXPECT_EQ(li.master_port, 29511);
  EXPECT_FALSE(li.mpi);
  EXPECT_EQ(li.str(), "rank 5 of 8 (local 1 of 4, torchrun)");
}

TEST(Launch, OpenMpiVariablesMeanMpiCanBootstrap) {
  LaunchInfo li = detect_launch(env_of({{"OMPI_COMM_WORLD_RANK", "3"},
                                        {"OMPI_COMM_WORLD_SIZE", "4"},
                                        {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                                        {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"},
                                        {"PMIX_RANK", "3"}}));
  EXPECT_EQ(li.launcher, "mpirun");
  EXPECT_EQ(li.rank, 3);
  EXPECT_EQ(li.world_size, 4);
  EXPECT_EQ(li.local_rank, 1);
  EXPECT_EQ(li.local_world_size, 2);
  EXPECT_TRUE(li.mpi);
  EXPECT_EQ(li.master_port, 29500);  // the default
}

TEST(Launch, PmiVariables) {
  LaunchInfo li = detect_launch(env_of({{"PMI_RANK", "1"}, {"PMI_SIZE", "2"}}));
  EXPECT_EQ(li.launcher, "pmi");
  EXPECT_EQ(li.rank, 1);
  EXPECT_EQ(li.local_rank, 1);  // without MPI_LOCALRANKID: the global rank
  EXPECT_TRUE(li.mpi);
}

TEST(Launch, SlurmVariablesAndTheFirstHostOfTheNodeList) {
  LaunchInfo li = detect_launch(env_of({{"SLURM_PROCID", "6"},
                                        {"SLURM_NTASKS", "8"},
                                        {"SLURM_LOCALID", "2"},
                                        {"SLURM_NTASKS_PER_NODE", "4(x2)"},
                                        {"SLURM_JOB_NODELIST", "gpu[017-018]"}}));
  EXPECT_EQ(li.launcher, "slurm");
  EXPECT_EQ(li.rank, 6);
  EXPECT_EQ(li.world_size, 8);
  EXPECT_EQ(li.local_rank, 2);
  EXPECT_EQ(li.local_world_size, 4);
  EXPECT_EQ(li.master_addr, "gpu017");
  EXPECT_FALSE(li.mpi);  // plain srun: NCCL rendezvous over TCP
  // MASTER_ADDR wins over the node list; PMI under srun means an MPI program.
  li = detect_launch(env_of({{"SLURM_PROCID", "0"},
                             {"SLURM_NTASKS", "2"},
                             {"SLURM_LOCALID", "0"},
                             {"SLURM_JOB_NODELIST", "a,b"},
                             {"MASTER_ADDR", "10.0.0.9"},
                             {"PMIX_RANK", "0"}}));
  EXPECT_EQ(li.master_addr, "10.0.0.9");
  EXPECT_TRUE(li.mpi);
}

TEST(Launch, TorchrunTakesPrecedenceOverSlurm) {
  // `srun torchrun ...`: each worker sees both; torchrun's numbering is the one that counts.
  LaunchInfo li = detect_launch(
      env_of({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "1"}, {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}}));
  EXPECT_EQ(li.launcher, "torchrun");
  EXPECT_EQ(li.rank, 1);
}

TEST(Launch, FirstSlurmHost) {
  EXPECT_EQ(first_slurm_host("node[03-05,07],gpu1"), "node03");
  EXPECT_EQ(first_slurm_host("node[7,9]"), "node7");
  EXPECT_EQ(first_slurm_host("alpha,beta"), "alpha");
  EXPECT_EQ(first_slurm_host("solo"), "solo");
  EXPECT_EQ(first_slurm_host(""), "");
}

TEST(Launch, BadValuesNameTheVariable) {
  NAT_EXPECT_ERROR(detect_launch(env_of({{"RANK", "x1"}, {"WORLD_SIZE", "2"}})), "RANK='x1' is not an integer");
  NAT_EXPECT_ERROR(detect_launch(env_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}})), "rank 2 is outside world size 2");
  NAT_EXPECT_ERROR(detect_launch(env_of({{"RANK", "0"}, {"WORLD_SIZE", "0"}})), "world size 0 must be at least 1");
  NAT_EXPECT_ERROR(
      detect_launch(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "3"}, {"LOCAL_WORLD_SIZE", "2"}})),
      "local rank 3 is outside the local world size 2");
  NAT_EXPECT_ERROR(detect_launch(env_of({{"MASTER_PORT", "70000"}})), "MASTER_PORT 70000 is not a TCP port");
}

// ---- the TCP rendezvous ----

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET, a.sin_addr.s_addr = htonl(INADDR_LOOPBACK), a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST(Rendezvous, EveryRankReceivesRankZerosPayload) {
  const int port = free_port(), world = 4;
  std::string payload(128, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7 + 1);  // binary, with zeros
  payload[5] = '\0';
  std::vector<std::string> got(world);
  std::vector<std::thread> ranks;
  // Peers start before rank 0 listens: they retry until it does.
  for (int r = world - 1; r >= 0; --r)
    ranks.emplace_back([&, r] {
      RendezvousOptions o{"127.0.0.1", port, r, world, 20.0};
      got[r] = rendezvous_exchange(o, r == 0 ? payload : std::string("ignored"));
    });
  for (auto& t : ranks) t.join();
  for (int r = 0; r < world; ++r) EXPECT_EQ(got[r], payload) << "rank " << r;
}

TEST(Rendezvous, WorldOfOneNeedsNoNetwork) {
  RendezvousOptions o{"", 1, 0, 1, 0.1};
  EXPECT_EQ(rendezvous_exchange(o, "id"), "id");
}

TEST(Rendezvous, RankZeroNamesTheRanksThatNeverCame) {
  const int port = free_port();
  std::thread peer([&] {
    RendezvousOptions o{"localhost", port, 2, 3, 5.0};
    rendezvous_exchange(o, "");
  });
  RendezvousOptions o{"", port, 0, 3, 1.0};
  NAT_EXPECT_ERROR(rendezvous_exchange(o, "payload"), "rank(s) 1 did not connect to port");
  peer.join();
}

TEST(Rendezvous, PeerNamesTheAddressItCouldNotReach) {
  RendezvousOptions o{"127.0.0.1", free_port(), 1, 2, 0.5};
  NAT_EXPECT_ERROR(rendezvous_exchange(o, ""), "rank 1: could not reach rank 0 at 127.0.0.1:");
  RendezvousOptions none{"", 29500, 1, 2, 0.5};
  NAT_EXPECT_ERROR(rendezvous_exchange(none, ""), "MASTER_ADDR is not set");
}

// ---- the heartbeat side channel ----

// Polls the store until `ready` holds (or 20 s pass): beats arrive asynchronously, on their own thread.
template <typename F>
std::vector<RankBeat> beats_when(const HeartbeatStore& store, F ready) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::vector<RankBeat> b = store.snapshot();
  while (!ready(b) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
    b = store.snapshot();
  }
  return b;
}

TEST(Heartbeat, StoreKeepsEveryRanksLastCollective) {
  auto store = std::make_shared<HeartbeatStore>(3);
  ASSERT_GT(store->port(), 0);
  std::mutex mu;
  CollectiveProgress mine{7, "all_reduce of the step's loss"};
  Heartbeat rank0({store, "", 0, 0, 3, 0.02}, [&] {
    std::lock_guard<std::mutex> lock(mu);
    return mine;
  });
  auto rank1 = std::make_unique<Heartbeat>(HeartbeatOptions{nullptr, "127.0.0.1", store->port(), 1, 3, 0.02}, [] {
    return CollectiveProgress{6, "all_reduce of gradient bucket 3"};
  });
  // Rank 2 never beats.
  std::vector<RankBeat> b = beats_when(*store, [](auto& v) { return v[0].seen && v[1].seen; });
  ASSERT_TRUE(b[1].seen);
  EXPECT_EQ(b[0].progress.seq, 7u);
  EXPECT_EQ(b[1].progress.seq, 6u);
  EXPECT_EQ(b[1].progress.what, "all_reduce of gradient bucket 3");
  EXPECT_TRUE(b[1].connected);
  EXPECT_FALSE(b[2].seen);
  // A rank other than 0 asks over TCP and sees the same.
  std::string why;
  std::optional<std::vector<RankBeat>> q = rank1->query(5.0, &why);
  ASSERT_TRUE(q) << why;
  ASSERT_EQ(q->size(), 3u);
  EXPECT_EQ((*q)[0].progress.what, "all_reduce of the step's loss");
  EXPECT_EQ((*q)[1].progress.seq, 6u);
  EXPECT_FALSE((*q)[2].seen);
  const std::string msg = describe_stragglers(*q, 0, 7, 60.0);
  EXPECT_NE(msg.find("rank 1 has not arrived: its last collective is #6 (all_reduce of gradient bucket 3), heartbeat "),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("no heartbeat ever came from rank(s) 2"), std::string::npos) << msg;
  // Progress moves on; then rank 1's process goes away and the store notices its connection close.
  {
    std::lock_guard<std::mutex> lock(mu);
    mine = {8, "barrier"};
  }
  EXPECT_EQ(beats_when(*store, [](auto& v) { return v[0].progress.seq == 8; })[0].progress.what, "barrier");
  rank1.reset();
  b = beats_when(*store, [](auto& v) { return !v[1].connected; });
  EXPECT_FALSE(b[1].connected);
  EXPECT_NE(describe_stragglers(b, 0, 8, 60.0).find("then its connection closed (the process ended)"),
            std::string::npos);
}

TEST(Heartbeat, SilentOrMissingStoreIsReportedNotThrown) {
  // A port that accepts connections (the kernel completes them) but never answers: a stopped rank 0.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET, a.sin_addr.s_addr = htonl(INADDR_LOOPBACK), a.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  {
    Heartbeat silent({nullptr, "127.0.0.1", ntohs(a.sin_port), 1, 2, 0.05}, [] { return CollectiveProgress{}; });
    std::string why;
    EXPECT_FALSE(silent.query(0.3, &why));
    EXPECT_NE(why.find("no answer from 127.0.0.1:"), std::string::npos) << why;
  }
  ::close(fd);
  // Nobody listening: publishing warns (never throws), and a query says it cannot connect.
  Heartbeat none({nullptr, "127.0.0.1", free_port(), 1, 2, 0.05}, [] { return CollectiveProgress{}; });
  std::string why;
  EXPECT_FALSE(none.query(0.3, &why));
  EXPECT_NE(why.find("cannot connect to 127.0.0.1:"), std::string::npos) << why;
}

TEST(Heartbeat, DescribesWhoIsBehind) {
  auto beat = [](uint64_t seq, const char* what, double age, bool connected = true) {
    RankBeat b;
    b.seen = true, b.connected = connected, b.progress = {seq, what}, b.age_s = age;
    return b;
  };
  // Rank 3 asks about collective #10.
  std::vector<RankBeat> v = {beat(9, "all_reduce of gradient bucket 0", 0.4), beat(10, "x", 0.2), beat(0, "", 0.7),
                             beat(10, "x", 0.1)};
  EXPECT_EQ(describe_stragglers(v, 3, 10, 5.0),
            "ranks 0, 2 have not arrived: rank 0: its last collective is #9 (all_reduce of gradient bucket 0), "
            "heartbeat 0.4 s ago; rank 2: it has entered no collective yet, heartbeat 0.7 s ago");
  // Everybody is in it: the collective itself hangs.
  v = {beat(10, "x", 0.1), beat(11, "y", 0.3)};
  EXPECT_NE(describe_stragglers(v, 0, 10, 5.0).find("every rank has entered it"), std::string::npos);
  // A rank that is in it but whose whole process went quiet.
  v = {beat(10, "x", 0.1), beat(10, "x", 42.0)};
  EXPECT_EQ(describe_stragglers(v, 0, 10, 5.0),
            "rank 1 entered it but last heartbeat 42.0 s ago (the whole process is stuck: stopped, swapping or in "
            "a debugger)");
}

}  // namespace
}  // namespace nat::train
