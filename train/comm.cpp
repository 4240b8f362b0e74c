// The communicator interface's shared parts: host-value helpers, the local (world of one) backend, and
// the factory that picks a backend for a launch.
#include "train/comm.h"

#include <cstring>

#include "core/error.h"

namespace nat::train {

void Communicator::check_tensor(const Tensor& t, const char* op) const {
  NAT_CHECK(t.defined(), "[comm] ", op, ": undefined tensor");
  NAT_CHECK(t.is_contiguous(), "[comm] ", op, ": the tensor must be contiguous, got shape ", shape_str(t.shape()));
  NAT_CHECK(t.device() == device_, "[comm] ", op, ": the tensor is on ", t.device().str(), ", the ", backend(),
            " communicator works on ", device_.str());
}

std::vector<double> Communicator::all_reduce_values(const std::vector<double>& v, ReduceOp op,
                                                    const std::string& what) {
  if (v.empty() || world_size() == 1) return v;
  Tensor t = Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, device());
  all_reduce(t, op, what);
  return t.to_vector<double>();
}

std::vector<std::string> Communicator::all_gather_strings(const std::string& mine, const std::string& what) {
  if (world_size() == 1) return {mine};
  // Lengths first, then every string padded to the longest.
  Tensor len = Tensor::from_vector(std::vector<int64_t>{static_cast<int64_t>(mine.size())}, {1}, device());
  std::vector<int64_t> lens = all_gather(len, what + " (lengths)").to_vector<int64_t>();
  int64_t longest = 1;
  for (int64_t l : lens) longest = std::max(longest, l);
  std::vector<uint8_t> buf(static_cast<size_t>(longest), 0);
  std::memcpy(buf.data(), mine.data(), mine.size());
  Tensor all = all_gather(Tensor::from_vector(buf, {longest}, device()), what).cpu();
  const auto* p = all.data<uint8_t>();
  std::vector<std::string> out;
  for (size_t r = 0; r < lens.size(); ++r)
    out.emplace_back(reinterpret_cast<const char*>(p) + r * static_cast<size_t>(longest), static_cast<size_t>(lens[r]));
  return out;
}

std::string Communicator::broadcast_string(const std::string& s, int root, const std::string& what) {
  if (world_size() == 1) return s;
  Tensor len = Tensor::from_vector(std::vector<int64_t>{static_cast<int64_t>(s.size())}, {1}, device());
  broadcast(len, root, what + " (length)");
  const int64_t n = static_cast<int64_t>(len.item());
  std::vector<uint8_t> buf(static_cast<size_t>(std::max<int64_t>(n, 1)), 0);
  if (rank() == root) std::memcpy(buf.data(), s.data(), s.size());
  Tensor t = Tensor::from_vector(buf, {static_cast<int64_t>(buf.size())}, device());
  broadcast(t, root, what);
  Tensor h = t.cpu();
  return std::string(reinterpret_cast<const char*>(h.data<uint8_t>()), static_cast<size_t>(n));
}

namespace {

class DoneWork final : public Work {
 public:
  void wait() override {}
  bool done() override { return true; }
};

class LocalCommunicator final : public Communicator {
 public:
  explicit LocalCommunicator(Device d) : Communicator(0, 1, d) {}
  std::string backend() const override { return "local"; }
  std::shared_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp, const std::string&) override {
    check_tensor(t, "all_reduce");
    return std::make_shared<DoneWork>();
  }
  void broadcast(const Tensor& t, int root, const std::string&) override {
    check_tensor(t, "broadcast");
    NAT_CHECK(root == 0, "[comm] broadcast: root ", root, " is outside world size 1");
  }
  Tensor all_gather(const Tensor& in, const std::string&) override {
    check_tensor(in, "all_gather");
    Shape s = in.shape();
    s.insert(s.begin(), 1);
    return in.clone().reshape(s);
  }
  void barrier(const std::string&) override {}
};

}  // namespace

std::shared_ptr<Communicator> make_local_communicator(Device device) {
  return std::make_shared<LocalCommunicator>(device);
}

std::shared_ptr<Communicator> make_communicator(const LaunchInfo& launch, Device device, const CommOptions& opt) {
  NAT_CHECK(opt.timeout_s > 0, "[comm] dist_timeout must be positive, got ", opt.timeout_s);
  const std::string b =
      opt.backend.empty() || opt.backend == "auto" ? (device.is_cuda() ? "nccl" : "mpi") : opt.backend;
  NAT_CHECK(b == "mpi" || b == "nccl", "[comm] dist_backend '", opt.backend, "': expected auto, mpi or nccl");
  // One process needs no communication — unless NCCL is asked for by name (its world of one is how a
  // single-GPU machine exercises the NCCL path: scripts/gpu_check.sh, tests/train/test_comm_cuda.cpp).
  if (!launch.distributed() && opt.backend != "nccl") return make_local_communicator(device);
  if (b == "nccl") {
    NAT_CHECK(device.is_cuda(), "[comm] dist_backend nccl needs a CUDA device, this run is on ", device.str());
    return make_nccl_communicator(launch, device, opt);
  }
  NAT_CHECK(device.is_cpu(), "[comm] dist_backend mpi reduces CPU tensors; this run is on ", device.str(),
            " (use nccl, or device: cpu)");
  NAT_CHECK(launch.mpi, "[comm] ", launch.str(),
            ": a CPU run across processes needs MPI, but this process was not started by an MPI launcher. "
            "Launch with `mpirun -np N nat train ...` (or srun with PMI).");
  return make_mpi_communicator(launch, opt);
}

}  // namespace nat::train
