// The NAT / DiNAT registry (docs/model.md §5, NAT:classification/{nat,dinat}.py) and JSON model specs.
#include <nlohmann/json.hpp>

#include "nn/nat.h"

namespace nat::nn {

namespace {

NatConfig variant(const std::string& size) {
  NatConfig c;
  c.depths = {3, 4, 18, 5};
  if (size == "mini") {
    c.embed_dim = 64, c.depths = {3, 4, 6, 5}, c.num_heads = {2, 4, 8, 16}, c.mlp_ratio = 3, c.drop_path_rate = 0.2;
  } else if (size == "tiny") {
    c.embed_dim = 64, c.num_heads = {2, 4, 8, 16}, c.mlp_ratio = 3, c.drop_path_rate = 0.2;
  } else if (size == "small") {
    c.embed_dim = 96, c.num_heads = {3, 6, 12, 24}, c.mlp_ratio = 2, c.drop_path_rate = 0.3, c.layer_scale = 1e-5;
  } else {  // base
    c.embed_dim = 128, c.num_heads = {4, 8, 16, 32}, c.mlp_ratio = 2, c.drop_path_rate = 0.5, c.layer_scale = 1e-5;
  }
  c.kernel_size = 7;
  return c;
}

// DiNAT: level 0 [1, 8, 1], level 1 [1, 4, 1, 4], level 2 alternating 1, 2, ..., level 3 all 1.
std::vector<std::vector<int64_t>> dinat_dilations(const std::vector<int64_t>& depths) {
  std::vector<std::vector<int64_t>> d = {{1, 8, 1}, {1, 4, 1, 4}, {}, std::vector<int64_t>(depths[3], 1)};
  for (int64_t j = 0; j < depths[2]; ++j) d[2].push_back(j % 2 ? 2 : 1);
  return d;
}

const char* const kSizes[] = {"mini", "tiny", "small", "base"};

}  // namespace

std::vector<std::string> nat_model_names() {
  std::vector<std::string> out;
  for (const char* family : {"nat_", "dinat_"})
    for (const char* s : kSizes) out.push_back(std::string(family) + s);
  return out;
}

NatConfig nat_config(const std::string& name) {
  for (const char* s : kSizes) {
    if (name == std::string("nat_") + s) {
      NatConfig c = variant(s);
      c.name = name;
      return c;
    }
    if (name == std::string("dinat_") + s) {
      NatConfig c = variant(s);
      c.name = name;
      c.layer_scale.reset();
      c.dilations = dinat_dilations(c.depths);
      return c;
    }
  }
  std::string known;
  for (const auto& n : nat_model_names()) known += (known.empty() ? "" : ", ") + n;
  NAT_THROW("unknown model '", name, "' (known: ", known, ", or a JSON spec such as {\"base\": \"nat_mini\", ...})");
}

NatConfig parse_nat_spec(const std::string& spec) {
  if (spec.empty() || spec[0] != '{') return nat_config(spec);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(spec);
  } catch (const std::exception& e) {
    NAT_THROW("model spec is not valid JSON: ", e.what());
  }
  NatConfig c;
  c.name = "custom";
  if (j.contains("base")) {
    NAT_CHECK(j["base"].is_string(), "model spec: 'base' must be a model name");
    c = nat_config(j["base"].get<std::string>());
  }
  try {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      const auto& v = it.value();
      if (k == "base")
        continue;
      else if (k == "name")
        c.name = v.get<std::string>();
      else if (k == "embed_dim")
        c.embed_dim = v.get<int64_t>();
      else if (k == "depths")
        c.depths = v.get<std::vector<int64_t>>();
      else if (k == "num_heads")
        c.num_heads = v.get<std::vector<int64_t>>();
      else if (k == "kernel_size")
        c.kernel_size = v.get<int64_t>();
      else if (k == "dilations")
        c.dilations = v.is_null() ? decltype(c.dilations){} : v.get<std::vector<std::vector<int64_t>>>();
      else if (k == "mlp_ratio")
        c.mlp_ratio = v.get<double>();
      else if (k == "drop_path_rate")
        c.drop_path_rate = v.get<double>();
      else if (k == "layer_scale")
        c.layer_scale = v.is_null() ? std::nullopt : std::optional<double>(v.get<double>());
      else if (k == "in_chans")
        c.in_chans = v.get<int64_t>();
      else if (k == "num_classes")
        c.num_classes = v.get<int64_t>();
      else if (k == "drop_rate")
        c.drop_rate = v.get<double>();
      else if (k == "attn_drop_rate")
        c.attn_drop_rate = v.get<double>();
      else if (k == "qkv_bias")
        c.qkv_bias = v.get<bool>();
      else
        NAT_THROW("model spec: unknown field '", k, "'");
    }
  } catch (const nlohmann::json::exception& e) {
    NAT_THROW("model spec: a field has the wrong type: ", e.what());
  }
  if (j.contains("base") && !j.contains("name")) c.name = j["base"].get<std::string>() + "+custom";
  c.validate();
  return c;
}

std::string NatConfig::to_json() const {
  nlohmann::ordered_json j;
  j["name"] = name;
  j["embed_dim"] = embed_dim;
  j["depths"] = depths;
  j["num_heads"] = num_heads;
  j["kernel_size"] = kernel_size;
  j["dilations"] = dilations.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(dilations);
  j["mlp_ratio"] = mlp_ratio;
  j["drop_path_rate"] = drop_path_rate;
  j["layer_scale"] = layer_scale ? nlohmann::ordered_json(*layer_scale) : nlohmann::ordered_json(nullptr);
  j["in_chans"] = in_chans;
  j["num_classes"] = num_classes;
  j["drop_rate"] = drop_rate;
  j["attn_drop_rate"] = attn_drop_rate;
  j["qkv_bias"] = qkv_bias;
  return j.dump();
}

std::shared_ptr<NAT> create_nat(const NatConfig& config, Generator& gen) { return std::make_shared<NAT>(config, gen); }

std::shared_ptr<NAT> create_nat(const std::string& spec, uint64_t seed) {
  Generator gen(seed);
  return create_nat(parse_nat_spec(spec), gen);
}

}  // namespace nat::nn
