// Launcher environment -> LaunchInfo (see launch.h for the variables and their order).
#include "train/launch.h"

#include <omp.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "core/error.h"

namespace nat::train {

namespace {

// The variable's integer value, or `fallback` when it is unset; a malformed value is an error.
int env_int(const EnvLookup& env, const char* name, int fallback, bool* present = nullptr) {
  const char* v = env(name);
  if (present) *present = v != nullptr && *v != '\0';
  if (v == nullptr || *v == '\0') return fallback;
  int out = 0;
  const char* end = v + std::char_traits<char>::length(v);
  auto r = std::from_chars(v, end, out);
  NAT_CHECK(r.ec == std::errc() && r.ptr == end, "[launch] environment variable ", name, "='", v,
            "' is not an integer");
  return out;
}

std::string env_str(const EnvLookup& env, const char* name) {
  const char* v = env(name);
  return v ? std::string(v) : std::string();
}

// SLURM_NTASKS_PER_NODE may read "4" or "4(x2)"; the leading count is what we need.
int leading_int(const std::string& s, int fallback) {
  int out = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && out > 0 ? out : fallback;
}

}  // namespace

int LaunchInfo::threads_per_rank() const { return std::max(1, omp_get_num_procs() / std::max(1, local_world_size)); }

std::string LaunchInfo::str() const {
  return nat::str("rank ", rank, " of ", world_size, " (local ", local_rank, " of ", local_world_size, ", ", launcher,
                  ")");
}

std::string first_slurm_host(const std::string& nodelist) {
  // The first entry ends at a comma outside brackets.
  size_t depth = 0, end = nodelist.size();
  for (size_t i = 0; i < nodelist.size(); ++i) {
    if (nodelist[i] == '[') ++depth;
    if (nodelist[i] == ']' && depth) --depth;
    if (nodelist[i] == ',' && depth == 0) {
      end = i;
      break;
    }
  }
  std::string first = nodelist.substr(0, end);
  const size_t lb = first.find('[');
  if (lb == std::string::npos) return first;
  // "node[03-05,07]": the prefix plus the first number of the range list, zero padding kept.
  std::string inside = first.substr(lb + 1);
  size_t stop = inside.find_first_of("-,]");
  return first.substr(0, lb) + inside.substr(0, stop);
}

LaunchInfo detect_launch(const EnvLookup& getenv_in) {
  EnvLookup env = getenv_in ? getenv_in : EnvLookup([](const char* n) { return std::getenv(n); });
  LaunchInfo li;
  bool has_rank = false, has_size = false;
  auto take = [&](const char* launcher, const char* rank, const char* size, const char* local, const char* local_size) {
    int r = env_int(env, rank, 0, &has_rank);
    int w = env_int(env, size, 1, &has_size);
    if (!has_rank || !has_size) return false;
    li.launcher = launcher;
    li.rank = r, li.world_size = w;
    li.local_rank = local ? env_int(env, local, r) : r;
    li.local_world_size = local_size ? env_int(env, local_size, w) : w;
    return true;
  };
  if (take("torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")) {
  } else if (take("mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
                  "OMPI_COMM_WORLD_LOCAL_SIZE")) {
    li.mpi = true;
  } else if (take("pmi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS")) {
    li.mpi = true;
  } else if (take("slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", nullptr)) {
    li.local_world_size = leading_int(env_str(env, "SLURM_NTASKS_PER_NODE"), li.world_size);
    li.master_addr = first_slurm_host(env_str(env, "SLURM_JOB_NODELIST"));
  }
  if (std::string a = env_str(env, "MASTER_ADDR"); !a.empty()) li.master_addr = a;
  li.master_port = env_int(env, "MASTER_PORT", li.master_port);
  // Slurm runs an MPI program's tasks through PMI; srun of a plain program has no PMI_RANK.
  if (li.launcher == "slurm" && (env("PMI_RANK") || env("PMIX_RANK"))) li.mpi = true;

  NAT_CHECK(li.world_size >= 1, "[launch] ", li.launcher, ": world size ", li.world_size, " must be at least 1");
  NAT_CHECK(li.rank >= 0 && li.rank < li.world_size, "[launch] ", li.launcher, ": rank ", li.rank,
            " is outside world size ", li.world_size);
  NAT_CHECK(li.local_rank >= 0 && li.local_world_size >= 1 && li.local_rank < li.local_world_size, "[launch] ",
            li.launcher, ": local rank ", li.local_rank, " is outside the local world size ", li.local_world_size);
  NAT_CHECK(li.master_port > 0 && li.master_port < 65536, "[launch] MASTER_PORT ", li.master_port,
            " is not a TCP port (1-65535)");
  return li;
}

}  // namespace nat::train
