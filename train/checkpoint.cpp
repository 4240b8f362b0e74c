// Checkpoint files: tensors by name plus the TrainState in the safetensors metadata map.
#include "train/checkpoint.h"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "train/optim.h"

namespace nat::train {

namespace {

const char* kFormat = "nat.cpp/train-checkpoint";
const char* kVersion = "1";

// Shortest text that reads back to the same double ("nan" for NaN).
std::string exact(double v) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// Limits on what a checkpoint may claim: far beyond any real run, well inside what the loop's arithmetic
// (step x updates, epoch x batches, the LR schedule in double) handles without overflow.
constexpr int64_t kMaxEpoch = 1000000;           // the config's epochs range
constexpr int64_t kMaxCount = int64_t{1} << 40;  // steps, batches, samples (max_steps' range)
constexpr int64_t kMaxWorld = 1 << 20;
constexpr int64_t kMaxBatch = 65536;  // the config's batch_size range

template <typename T>
T parse_number(const std::map<std::string, std::string>& m, const std::string& key, const std::string& origin) {
  auto it = m.find(key);
  NAT_CHECK(it != m.end(), "[checkpoint] ", origin, ": metadata has no '", key, "'");
  const std::string& s = it->second;
  if constexpr (std::is_floating_point_v<T>)
    if (s == "nan") return std::numeric_limits<T>::quiet_NaN();
  T v{};
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  NAT_CHECK(r.ec == std::errc() && r.ptr == s.data() + s.size(), "[checkpoint] ", origin, ": metadata '", key,
            "' is not a number: '", s, "'");
  return v;
}

// An integer field within [lo, hi]; the error names the file, the field and the range.
int64_t parse_int(const std::map<std::string, std::string>& m, const std::string& key, const std::string& origin,
                  int64_t lo, int64_t hi) {
  const int64_t v = parse_number<int64_t>(m, key, origin);
  NAT_CHECK(v >= lo && v <= hi, "[checkpoint] ", origin, ": metadata '", key, "' is ", v, ", outside [", lo, ", ", hi,
            "]: the file is damaged or was not written by nat train");
  return v;
}

// A floating field: finite (or NaN when `nan_ok`) and within [lo, hi].
double parse_real(const std::map<std::string, std::string>& m, const std::string& key, const std::string& origin,
                  double lo, double hi, bool nan_ok = false) {
  const double v = parse_number<double>(m, key, origin);
  if (std::isnan(v) && nan_ok) return v;
  NAT_CHECK(v >= lo && v <= hi, "[checkpoint] ", origin, ": metadata '", key, "' is ", v, ", outside [", lo, ", ", hi,
            "]: the file is damaged or was not written by nat train");
  return v;
}

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

}  // namespace

std::map<std::string, std::string> TrainState::to_metadata() const {
  nlohmann::json kept_json = nlohmann::json::array();
  for (const auto& [e, m] : kept) kept_json.push_back({e, exact(m)});
  return {
      {"format", kFormat},
      {"version", kVersion},
      {"epoch", std::to_string(epoch)},
      {"batch", std::to_string(batch)},
      {"step", std::to_string(step)},
      {"dist.world_size", std::to_string(world_size)},
      {"data.batch_size", std::to_string(batch_size)},
      {"rng.default.seed", std::to_string(rng_seed)},
      {"rng.default.offset", std::to_string(rng_offset)},
      {"scaler.scale", exact(loss_scale)},
      {"scaler.growth_tracker", std::to_string(scaler_growth_tracker)},
      {"meter.train_loss.sum", exact(epoch_loss_sum)},
      {"meter.train_loss.count", std::to_string(epoch_loss_count)},
      {"best.metric", exact(best_metric)},
      {"best.epoch", std::to_string(best_epoch)},
      {"checkpoints", kept_json.dump()},
      {"arch", arch},
      {"model_spec", model_spec},
      {"args", args_yaml},
      {"classes", nlohmann::json(classes).dump()},
  };
}

TrainState TrainState::from_metadata(const std::map<std::string, std::string>& m, const std::string& origin) {
  auto fmt = m.find("format");
  NAT_CHECK(fmt != m.end() && fmt->second == kFormat, "[checkpoint] ", origin,
            " holds no training state (weights only?): it cannot be resumed; use it as initial_checkpoint instead");
  NAT_CHECK(m.count("version") && m.at("version") == kVersion, "[checkpoint] ", origin, ": unsupported version '",
            m.count("version") ? m.at("version") : "", "' (this nat.cpp reads version ", kVersion, ")");
  // Every number has a range: a damaged or hostile file must not overflow the loop's arithmetic (a step
  // of INT64_MAX used to print "LR: -inf").
  TrainState s;
  s.epoch = parse_int(m, "epoch", origin, 0, kMaxEpoch);
  s.batch = parse_int(m, "batch", origin, 0, kMaxCount);
  s.step = parse_int(m, "step", origin, 0, kMaxCount);
  // Absent in single-process checkpoints of earlier versions: one rank, batch size unknown (0).
  if (m.count("dist.world_size")) s.world_size = parse_int(m, "dist.world_size", origin, 1, kMaxWorld);
  if (m.count("data.batch_size")) s.batch_size = parse_int(m, "data.batch_size", origin, 0, kMaxBatch);
  s.rng_seed = parse_number<uint64_t>(m, "rng.default.seed", origin);  // any 64-bit value is a seed
  s.rng_offset = parse_number<uint64_t>(m, "rng.default.offset", origin);
  s.loss_scale = parse_real(m, "scaler.scale", origin, 0x1p-126, 0x1p127);  // f32's normal range, as torch
  s.scaler_growth_tracker = parse_int(m, "scaler.growth_tracker", origin, 0, kMaxCount);
  s.epoch_loss_sum = parse_real(m, "meter.train_loss.sum", origin, -1e300, 1e300);
  s.epoch_loss_count = parse_int(m, "meter.train_loss.count", origin, 0, kMaxCount);
  s.best_metric = parse_real(m, "best.metric", origin, -1e300, 1e300, /*nan_ok=*/true);  // NaN: no best yet
  s.best_epoch = parse_int(m, "best.epoch", origin, -1, kMaxEpoch);
  try {
    for (const auto& e : nlohmann::json::parse(m.at("checkpoints"))) {
      std::string v = e[1].get<std::string>();
      const int64_t epoch = e[0].get<int64_t>();
      const double metric = v == "nan" ? NAN : std::stod(v);
      NAT_CHECK(epoch >= 0 && epoch <= kMaxEpoch && !std::isinf(metric), "[checkpoint] ", origin,
                ": metadata 'checkpoints' lists epoch ", epoch, " with metric ", v, " (epochs are in [0, ", kMaxEpoch,
                "], metrics finite)");
      s.kept.emplace_back(epoch, metric);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    NAT_THROW("[checkpoint] ", origin, ": metadata 'checkpoints' is malformed: ", e.what());
  }
  s.arch = m.count("arch") ? m.at("arch") : "";
  s.model_spec = m.count("model_spec") ? m.at("model_spec") : "";
  s.args_yaml = m.count("args") ? m.at("args") : "";
  if (m.count("classes")) {
    try {
      s.classes = nlohmann::json::parse(m.at("classes")).get<std::vector<std::string>>();
    } catch (const std::exception& e) {
      NAT_THROW("[checkpoint] ", origin, ": metadata 'classes' is malformed: ", e.what());
    }
  }
  return s;
}

std::string nat_config_json(const nn::NatConfig& c) {
  nlohmann::json j;
  j["name"] = c.name;
  j["embed_dim"] = c.embed_dim;
  j["depths"] = c.depths;
  j["num_heads"] = c.num_heads;
  j["kernel_size"] = c.kernel_size;
  j["dilations"] = c.dilations;
  j["mlp_ratio"] = c.mlp_ratio;
  j["drop_path_rate"] = c.drop_path_rate;
  j["layer_scale"] = c.layer_scale ? nlohmann::json(*c.layer_scale) : nlohmann::json(nullptr);
  j["in_chans"] = c.in_chans;
  j["num_classes"] = c.num_classes;
  j["drop_rate"] = c.drop_rate;
  j["attn_drop_rate"] = c.attn_drop_rate;
  j["qkv_bias"] = c.qkv_bias;
  return j.dump();
}

void save_checkpoint(const std::string& path, const CheckpointData& d) {
  nn::NamedTensors all;
  for (const auto& [n, t] : d.weights) all.emplace_back(n, t.dtype() == DType::f32 ? t : t.to(DType::f32));
  for (const auto& [n, t] : d.ema) all.emplace_back("ema." + n, t);
  if (d.optimizer)
    for (auto& kv : d.optimizer->state_tensors()) all.push_back(std::move(kv));
  nn::save_safetensors(path, all, d.state.to_metadata());
}

std::string first_non_finite(const nn::NamedTensors& tensors) {
  for (const auto& [name, t] : tensors) {
    if (!t.defined() || !is_floating(t.dtype())) continue;
    Tensor h = t.dtype() == DType::f32 ? t.cpu().contiguous() : t.to(DType::f32).cpu().contiguous();
    const float* p = h.data<float>();
    const int64_t n = h.numel();
    int64_t bad = 0, nans = 0;
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i])) ++bad, nans += std::isnan(p[i]);
    if (bad)
      return str("'", name, "' holds ", bad, " non-finite value", bad == 1 ? "" : "s", " (", nans, " NaN) of ", n);
  }
  return "";
}

LoadedCheckpoint load_checkpoint(const std::string& path) {
  LoadedCheckpoint c;
  c.path = path;
  c.file = nn::load_safetensors(path);
  auto fmt = c.file.metadata.find("format");
  c.has_state = fmt != c.file.metadata.end() && fmt->second == kFormat;
  if (c.has_state) c.state = TrainState::from_metadata(c.file.metadata, path);
  return c;
}

nn::NamedTensors LoadedCheckpoint::weights() const {
  nn::NamedTensors out;
  for (const auto& [n, t] : file.tensors)
    if (!starts_with(n, "ema.") && !starts_with(n, "optim.")) out.emplace_back(n, t);
  return out;
}

nn::NamedTensors LoadedCheckpoint::ema() const {
  nn::NamedTensors out;
  for (const auto& [n, t] : file.tensors)
    if (starts_with(n, "ema.")) out.emplace_back(n.substr(4), t);
  return out;
}

}  // namespace nat::train
