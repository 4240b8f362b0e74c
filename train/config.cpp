// TrainConfig's model resolution and cross-key validation (the key-by-key checks live in the key table,
// train/config_keys.cpp).
#include "train/config.h"

#include <map>

#include "core/error.h"

namespace nat::train {

namespace {

// "(set in <origin>)" for the keys a message names, so an error points at the file to edit.
std::string where(const TrainConfig& cfg, std::initializer_list<const char*> keys) {
  std::map<std::string, std::string> o(cfg.origins.begin(), cfg.origins.end());
  std::string out;
  for (const char* k : keys) {
    auto it = o.find(k);
    if (it != o.end()) out += std::string(out.empty() ? " (" : ", ") + k + " from " + it->second;
  }
  return out.empty() ? " (defaults)" : out + ")";
}

}  // namespace

nn::NatConfig TrainConfig::nat_config(int64_t dataset_classes) const {
  nn::NatConfig c;
  bool custom = model == "custom";
  if (custom) {
    c.name = "custom";
  } else {
    try {
      c = nn::parse_nat_spec(model);
    } catch (const Error& e) {
      NAT_THROW("[config] key 'model'", where(*this, {"model"}), ": ", e.what());
    }
  }
  const ModelOverrides& m = model_keys;
  bool changed = false;
  auto set = [&](auto& field, const auto& opt) {
    if (opt) field = *opt, changed = true;
  };
  set(c.embed_dim, m.embed_dim);
  set(c.depths, m.depths);
  set(c.num_heads, m.num_heads);
  set(c.kernel_size, m.kernel_size);
  set(c.dilations, m.dilations);
  set(c.mlp_ratio, m.mlp_ratio);
  if (m.layer_scale) {
    c.layer_scale = *m.layer_scale > 0 ? std::optional<double>(*m.layer_scale) : std::nullopt;
    changed = true;
  }
  set(c.in_chans, m.in_chans);
  set(c.drop_path_rate, m.drop_path);
  set(c.attn_drop_rate, m.attn_drop_rate);
  set(c.qkv_bias, m.qkv_bias);
  c.drop_rate = m.drop;
  // A registry DiNAT with new depths but no new dilations would mismatch: say which keys to set.
  if (m.depths && !m.dilations && !c.dilations.empty())
    NAT_THROW("[config] key 'depths'", where(*this, {"model", "depths"}), ": model '", model,
              "' has per-layer dilations; give 'dilations' for the new depths too");
  c.num_classes = data.num_classes > 0 ? data.num_classes : dataset_classes > 0 ? dataset_classes : 1000;
  if (changed && !custom) c.name = model + "+custom";
  try {
    c.validate();
  } catch (const Error& e) {
    NAT_THROW("[config] model keys",
              where(*this, {"model", "embed_dim", "depths", "num_heads", "kernel_size", "dilations", "mlp_ratio",
                            "drop_path"}),
              ": ", e.what());
  }
  return c;
}

void TrainConfig::validate() const {
  auto fail_if = [&](bool bad, std::initializer_list<const char*> keys, const std::string& msg) {
    if (bad) NAT_THROW("[config] ", msg, where(*this, keys));
  };
  const nn::NatConfig model_config = nat_config();  // the model keys
  // The first level sees img_size / 4 tokens a side (two stride-2 convolutions, each rounding up).
  const int64_t first_level = ((data.img_size + 1) / 2 + 1) / 2;
  fail_if(model_config.kernel_size > first_level && !allow_large_window, {"kernel_size", "model", "img_size"},
          str("kernel_size ", model_config.kernel_size, " exceeds the first level's ", first_level, "x", first_level,
              " feature map at img_size ", data.img_size,
              ": every level would be mostly zero padding. Use a smaller kernel_size or a larger img_size, or set"
              " allow_large_window: true"));
  fail_if(model_keys.in_chans && *model_keys.in_chans != 3, {"in_chans"},
          "in_chans must be 3: the loader gives RGB images");
  fail_if(warmup_epochs > epochs, {"warmup_epochs", "epochs"},
          str("warmup_epochs (", warmup_epochs, ") must not exceed epochs (", epochs, ")"));
  fail_if(min_lr > lr, {"min_lr", "lr"}, str("min_lr (", min_lr, ") must not exceed lr (", lr, ")"));
  fail_if(
      start_epoch && *start_epoch >= total_epochs(), {"start_epoch", "epochs", "cooldown_epochs"},
      str("start_epoch (", start_epoch.value_or(0), ") must be below epochs + cooldown_epochs (", total_epochs(), ")"));
  fail_if(no_resume_opt && resume.empty(), {"no_resume_opt", "resume"}, "no_resume_opt needs resume");
  try {
    data.validate();
  } catch (const Error& e) {
    NAT_THROW("[config] ", e.what(), where(*this, {"batch_size", "mixup", "cutmix", "scale", "ratio", "aa"}));
  }
}

}  // namespace nat::train
