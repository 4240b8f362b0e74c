// The bucketed, overlapped gradient all-reduce (see reducer.h).
#include "train/reducer.h"

#include <chrono>
#include <cstdio>

#include "autograd/autograd.h"
#include "core/error.h"

namespace nat::train {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string param_line(const std::string& name, const Tensor& t) {
  return str(name, " ", shape_str(t.shape()), " ", dtype_name(t.dtype()));
}

}  // namespace

void broadcast_parameters(Communicator& comm, const std::vector<std::pair<std::string, Tensor>>& params) {
  std::string mine;
  for (const auto& [name, t] : params) mine += param_line(name, t) + "\n";
  const std::string root = comm.broadcast_string(mine, 0, "broadcast of rank 0's parameter list");
  // This rank's first difference from rank 0, then everyone's verdicts, so every rank fails together.
  std::string diff;
  if (root != mine) {
    std::vector<std::string> a, b;
    for (size_t i = 0, j; i < root.size(); i = j + 1) a.push_back(root.substr(i, (j = root.find('\n', i)) - i));
    for (size_t i = 0, j; i < mine.size(); i = j + 1) b.push_back(mine.substr(i, (j = mine.find('\n', i)) - i));
    size_t k = 0;
    while (k < a.size() && k < b.size() && a[k] == b[k]) ++k;
    diff = str("rank ", comm.rank(), " has ", b.size(), " parameters, rank 0 has ", a.size(),
               "; the first difference is at #", k, ": rank 0 '", k < a.size() ? a[k] : "(none)", "', rank ",
               comm.rank(), " '", k < b.size() ? b[k] : "(none)", "'");
  }
  std::vector<std::string> verdicts = comm.all_gather_strings(diff, "all_gather of the parameter checks");
  for (const std::string& v : verdicts)
    NAT_CHECK(v.empty(), "[ddp] the ranks built different models: ", v,
              ". Every rank must run the same config (model keys, num_classes, checkpoint).");
  for (const auto& [name, t] : params) comm.broadcast(t, 0, str("broadcast of parameter ", name));
}

GradReducer::GradReducer(std::shared_ptr<Communicator> comm, std::vector<std::pair<std::string, Tensor>> params,
                         ReducerOptions options)
    : comm_(std::move(comm)), params_(std::move(params)), opt_(options) {
  NAT_CHECK(comm_ != nullptr, "[ddp] the reducer needs a communicator");
  NAT_CHECK(opt_.first_bucket_bytes > 0 && opt_.bucket_bytes > 0, "[ddp] bucket sizes must be positive");
  bucket_of_.assign(params_.size(), -1);
  slot_of_.assign(params_.size(), 0);
  // Reverse registration order: the head and the last blocks finish their gradients first.
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = params_[k].second;
    NAT_CHECK(p.device() == comm_->device(), "[ddp] parameter '", params_[k].first, "' is on ", p.device().str(),
              ", the communicator on ", comm_->device().str());
    const int64_t bytes = static_cast<int64_t>(p.nbytes());
    // The bucket being filled is bucket 0 (capped at first_bucket_bytes) or a later one (bucket_bytes); a
    // tensor larger than the cap gets a bucket of its own.
    const int64_t cap = buckets_.size() == 1 ? opt_.first_bucket_bytes : opt_.bucket_bytes;
    const bool same_dtype = buckets_.empty() || params_[buckets_.back().params.front()].second.dtype() == p.dtype();
    if (buckets_.empty() || !same_dtype || buckets_.back().bytes + bytes > cap) buckets_.emplace_back();
    GradBucket& b = buckets_.back();
    bucket_of_[k] = static_cast<int>(buckets_.size() - 1);
    slot_of_[k] = b.params.size();
    b.params.push_back(k);
    b.offsets.push_back(b.numel);
    b.numel += p.numel();
    b.bytes += bytes;
  }
  for (auto& b : buckets_) b.flat = Tensor::zeros({b.numel}, params_[b.params.front()].second.dtype(), comm_->device());
  for (size_t k = 0; k < params_.size(); ++k)
    add_grad_ready_hook(params_[k].second, [this, k](const Tensor& g) { on_ready(k, g); });
  param_ready_.assign(params_.size(), 0);
  bucket_pending_.assign(buckets_.size(), 0);
  work_.assign(buckets_.size(), nullptr);
}

GradReducer::~GradReducer() {
  for (auto& [name, p] : params_) clear_grad_ready_hooks(p);
}

void GradReducer::prepare(bool sync) {
  armed_ = sync;
  next_launch_ = 0;
  std::fill(param_ready_.begin(), param_ready_.end(), 0);
  for (size_t b = 0; b < buckets_.size(); ++b) {
    bucket_pending_[b] = static_cast<int64_t>(buckets_[b].params.size());
    work_[b] = nullptr;
  }
  if (opt_.trace) events_.clear(), t0_ = now_s();
}

void GradReducer::on_ready(size_t k, const Tensor& grad) {
  if (!armed_ || param_ready_[k]) return;
  param_ready_[k] = 1;
  const int b = bucket_of_[k];
  GradBucket& bk = buckets_[static_cast<size_t>(b)];
  const int64_t off = bk.offsets[slot_of_[k]], n = params_[k].second.numel();
  NAT_CHECK(grad.numel() == n, "[ddp] the gradient of '", params_[k].first, "' has ", grad.numel(),
            " elements, the parameter ", n);
  bk.flat.slice(0, off, off + n).copy_(grad.reshape({n}));
  if (opt_.trace) events_.push_back({ReducerEvent::ready, b, k, 1e3 * (now_s() - t0_)});
  if (--bucket_pending_[static_cast<size_t>(b)] == 0) launch_ready_buckets();
}

void GradReducer::launch_ready_buckets() {
  // In bucket order only: a complete bucket waits for the ones before it.
  while (next_launch_ < buckets_.size() && bucket_pending_[next_launch_] == 0) {
    GradBucket& b = buckets_[next_launch_];
    char what[160];
    std::snprintf(what, sizeof what, "all_reduce of gradient bucket %zu (%zu tensors, %.2f MiB)", next_launch_,
                  b.params.size(), static_cast<double>(b.bytes) / (1 << 20));
    work_[next_launch_] = comm_->all_reduce_async(b.flat, ReduceOp::avg, what);
    if (opt_.trace)
      events_.push_back(
          {ReducerEvent::launch, static_cast<int>(next_launch_), b.params.front(), 1e3 * (now_s() - t0_)});
    ++next_launch_;
  }
}

void GradReducer::finish() {
  NAT_CHECK(armed_, "[ddp] finish() without prepare(true)");
  armed_ = false;
  if (next_launch_ < buckets_.size()) {
    std::string missing;
    int count = 0;
    for (size_t k = 0; k < params_.size(); ++k)
      if (!param_ready_[k] && count++ < 8) missing += (missing.empty() ? "'" : ", '") + params_[k].first + "'";
    NAT_THROW("[ddp] rank ", comm_->rank(), ": ", count, " parameter(s) received no gradient in this backward (",
              missing, count > 8 ? ", ..." : "",
              "). Data-parallel training averages every parameter's gradient on every step: each parameter must "
              "take part in the loss (freeze unused ones by removing them from the model).");
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    work_[b]->wait();
    if (opt_.trace) {
      const double end = work_[b]->finished_at() > 0 ? work_[b]->finished_at() : now_s();
      events_.push_back({ReducerEvent::done, static_cast<int>(b), buckets_[b].params.front(), 1e3 * (end - t0_)});
    }
    const GradBucket& bk = buckets_[b];
    for (size_t s = 0; s < bk.params.size(); ++s) {
      const Tensor& p = params_[bk.params[s]].second;
      Tensor g = grad(p);
      g.copy_(bk.flat.slice(0, bk.offsets[s], bk.offsets[s] + p.numel()).reshape(g.shape()));
    }
    work_[b] = nullptr;
  }
}

std::string GradReducer::describe() const {
  std::string s = str(buckets_.size(), " bucket(s) over ", params_.size(), " tensors (");
  for (size_t b = 0; b < buckets_.size(); ++b) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%s%.2f MiB", b ? ", " : "", static_cast<double>(buckets_[b].bytes) / (1 << 20));
    s += buf;
  }
  return s + ")";
}

}  // namespace nat::train
