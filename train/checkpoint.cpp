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
  TrainState s;
  s.epoch = parse_number<int64_t>(m, "epoch", origin);
  s.batch = parse_number<int64_t>(m, "batch", origin);
  s.step = parse_number<int64_t>(m, "step", origin);
  // Absent in single-process checkpoints of earlier versions: one rank, batch size unknown (0).
  if (m.count("dist.world_size")) s.world_size = parse_number<int64_t>(m, "dist.world_size", origin);
  if (m.count("data.batch_size")) s.batch_size = parse_number<int64_t>(m, "data.batch_size", origin);
  s.rng_seed = parse_number<uint64_t>(m, "rng.default.seed", origin);
  s.rng_offset = parse_number<uint64_t>(m, "rng.default.offset", origin);
  s.loss_scale = parse_number<double>(m, "scaler.scale", origin);
  s.scaler_growth_tracker = parse_number<int64_t>(m, "scaler.growth_tracker", origin);
  s.epoch_loss_sum = parse_number<double>(m, "meter.train_loss.sum", origin);
  s.epoch_loss_count = parse_number<int64_t>(m, "meter.train_loss.count", origin);
  s.best_metric = parse_number<double>(m, "best.metric", origin);
  s.best_epoch = parse_number<int64_t>(m, "best.epoch", origin);
  try {
    for (const auto& e : nlohmann::json::parse(m.at("checkpoints"))) {
      std::string v = e[1].get<std::string>();
      s.kept.emplace_back(e[0].get<int64_t>(), v == "nan" ? NAN : std::stod(v));
    }
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
