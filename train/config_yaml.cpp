// Reading TrainConfig from YAML and the command line, and writing it back (args.yaml, the start-up table).
// Order of precedence, as timm: defaults < the --config file < --key value on the command line.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <sstream>

#include "data/yaml_limits.h"
#include "train/config.h"
#include "train/config_keys.h"

namespace nat::train {

using detail::find_key;
using detail::key_table;
using detail::ValueError;

namespace {

std::string normalise(std::string key) {
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// timm keys that change nothing in nat.cpp at their neutral value; anything else there is an error,
// since silently ignoring it would train something other than what the file asks for.
// "*": any value is accepted (the key has no effect here, e.g. distributed plumbing).
const std::map<std::string, std::vector<std::string>>& inert_keys() {
  static const std::map<std::string, std::vector<std::string>> m = {
      {"pretrained", {"false"}},
      {"gp", {"", "avg", "null"}},
      {"input_size", {"null"}},
      {"dataset_download", {"false"}},
      {"lr_noise", {"null"}},
      {"lr_noise_pct", {"*"}},
      {"lr_noise_std", {"*"}},
      {"lr_cycle_mul", {"1", "1.0"}},
      {"lr_cycle_decay", {"*"}},
      {"lr_cycle_limit", {"1"}},
      {"lr_k_decay", {"1", "1.0"}},
      {"epoch_repeats", {"0", "0.0"}},
      {"patience_epochs", {"*"}},
      {"aug_repeats", {"0"}},
      {"aug_splits", {"0"}},
      {"jsd_loss", {"false"}},
      {"bce_loss", {"false"}},
      {"bce_target_thresh", {"null"}},
      {"resplit", {"false"}},
      {"drop_connect", {"null"}},
      {"drop_block", {"null"}},
      {"bn_tf", {"false"}},
      {"bn_momentum", {"null"}},
      {"bn_eps", {"null"}},
      {"sync_bn", {"false"}},
      {"dist_bn", {"*"}},
      {"split_bn", {"false"}},
      {"model_ema_force_cpu", {"false"}},
      {"worker_seeding", {"all"}},
      {"recovery_interval", {"0"}},
      {"save_images", {"false"}},
      {"apex_amp", {"false"}},
      {"native_amp", {"*"}},
      {"no_ddp_bb", {"*"}},
      {"channels_last", {"*"}},
      {"no_prefetcher", {"*"}},
      {"prefetcher", {"*"}},
      {"project", {"*"}},
      {"tta", {"0"}},
      {"local_rank", {"*"}},
      {"use_multi_epochs_loader", {"*"}},
      {"torchscript", {"false"}},
      {"log_wandb", {"false"}},
      {"world_size", {"*"}},
      {"rank", {"*"}},
      {"distributed", {"*"}},
      {"dist_url", {"*"}},
      {"lr_base", {"*"}},
      {"lr_base_size", {"*"}},
      {"lr_base_scale", {"*"}},
      {"gmacs", {"*"}},
      {"mparams", {"*"}},
      {"config", {"*"}},
  };
  return m;
}

bool inert_ok(const std::vector<std::string>& accepted, const YAML::Node& n) {
  if (accepted.size() == 1 && accepted[0] == "*") return true;
  std::string v = n.IsNull() ? "null" : n.IsScalar() ? lower(n.Scalar()) : "<list>";
  if (v == "~" || v == "none") v = "null";
  if (v == "no" || v == "off") v = "false";
  return std::find(accepted.begin(), accepted.end(), v) != accepted.end();
}

void note_origin(TrainConfig& cfg, const std::string& key, const std::string& origin) {
  for (auto& [k, o] : cfg.origins)
    if (k == key) {
      o = origin;
      return;
    }
  cfg.origins.emplace_back(key, origin);
}

// Sets one key from a parsed node; `raw_key` is the spelling used (for messages).
void set_node(TrainConfig& cfg, const std::string& raw_key, const YAML::Node& value, const std::string& origin) {
  std::string key = normalise(raw_key);
  const detail::KeyDef* k = find_key(key);
  if (!k) {
    auto inert = inert_keys().find(key);
    if (inert != inert_keys().end()) {
      NAT_CHECK(inert_ok(inert->second, value), "[config] ", origin, ": key '", raw_key,
                "' is a timm option nat.cpp does not implement; it is accepted only at its neutral value (",
                inert->second[0] == "" ? "''" : inert->second[0], "), got '", YAML::Dump(value), "'");
      return;
    }
    std::string near = closest_key(key);
    NAT_THROW("[config] ", origin, ": unknown key '", raw_key, "'",
              near.empty() ? std::string(" (nat train --list-keys lists them)") : " (did you mean '" + near + "'?)");
  }
  try {
    k->set(cfg, value);
  } catch (const ValueError& e) {
    NAT_THROW("[config] ", origin, ": key '", raw_key, "' ", e.message);
  } catch (const Error& e) {
    NAT_THROW("[config] ", origin, ": key '", raw_key, "': ", e.what());
  } catch (const YAML::Exception& e) {  // a conversion yaml-cpp refused inside the setter
    const YAML::Mark m = value.Mark();
    NAT_THROW("[config] ", origin, ": key '", raw_key, "'", m.is_null() ? "" : str(" (line ", m.line + 1, ")"), ": ",
              e.msg);
  }
  note_origin(cfg, k->alias && key == "data" ? "data_dir" : key, origin);
}

TrainConfig apply_root(const YAML::Node& root, const std::string& origin, TrainConfig cfg) {
  if (root.IsNull()) return cfg;
  NAT_CHECK(root.IsMap(), "[config] ", origin, ": expected a mapping of keys to values at the top level, got a ",
            root.IsSequence() ? "list" : "scalar");
  std::set<std::string> seen;
  for (const auto& kv : root) {
    NAT_CHECK(kv.first.IsScalar(), "[config] ", origin, ": a key is not a plain name: '", YAML::Dump(kv.first), "'");
    std::string raw = kv.first.Scalar();
    std::string key = normalise(raw);
    if (key == "sched_on_updates") key = "sched_epochwise";
    if (key == "data") key = "data_dir";
    NAT_CHECK(seen.insert(key).second, "[config] ", origin, ": key '", raw, "' is given more than once");
    set_node(cfg, raw, kv.second, origin);
  }
  return cfg;
}

bool is_list_key(const detail::KeyDef& k) {
  return k.type.find("list") != std::string::npos || k.type.find('[') != std::string::npos;
}

}  // namespace

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest_key(const std::string& key) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& k : key_table()) {
    size_t d = edit_distance(key, k.name);
    if (d < best_d) best_d = d, best = k.name;
  }
  // Close enough to be a typo: at most a third of the longer name (and at least 2 edits allowed).
  size_t limit = std::max<size_t>(2, std::max(key.size(), best.size()) / 3);
  return best_d <= limit ? best : "";
}

const std::vector<KeyInfo>& config_keys() {
  static const std::vector<KeyInfo> keys = [] {
    std::vector<KeyInfo> v;
    TrainConfig d;
    for (const auto& k : key_table())
      if (!k.alias) v.push_back({k.name, k.type, k.group, k.help, k.show(d)});
    return v;
  }();
  return keys;
}

const std::vector<std::string>& inert_timm_keys() {
  static const std::vector<std::string> v = [] {
    std::vector<std::string> out;
    for (const auto& [k, _] : inert_keys()) out.push_back(k);
    return out;
  }();
  return v;
}

TrainConfig apply_yaml_text(const std::string& text, const std::string& origin, TrainConfig base) {
  YAML::Node root = data::load_config_yaml(text, origin);
  return data::with_config_errors(origin, [&] { return apply_root(root, origin, std::move(base)); });
}

TrainConfig apply_yaml_file(const std::string& path, TrainConfig base) {
  return apply_yaml_text(data::read_config_file(path), path, std::move(base));
}

void apply_key(TrainConfig& cfg, const std::string& key, const std::string& value, const std::string& origin) {
  YAML::Node n;
  try {
    n = YAML::Load(value);
  } catch (const YAML::Exception&) {
    n = YAML::Node(value);  // not YAML: take it as a plain string ("a: b" and the like)
  }
  if (value.empty()) n = YAML::Node(YAML::NodeType::Null);
  data::check_config_tree(n, origin);
  set_node(cfg, key, n, origin);
}

CommandLine parse_command_line(const std::vector<std::string>& args) {
  CommandLine cl;
  static const std::map<std::string, std::string> short_names = {
      {"-b", "batch_size"}, {"-j", "workers"}, {"-vb", "validation_batch_size"}, {"-d", "dataset"}};
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "--help" || a == "-h") {
      cl.help = true;
      continue;
    }
    if (a == "--dry-run" || a == "--dry_run") {
      cl.dry_run = true;
      continue;
    }
    if (a == "--list-keys" || a == "--list_keys") {
      cl.list_keys = true;
      continue;
    }
    std::string key, value;
    bool has_value = false;
    if (short_names.count(a)) {
      key = short_names.at(a);
    } else if (a == "-c" || a.rfind("--", 0) == 0) {
      key = a == "-c" ? "config" : a.substr(2);
      auto eq = key.find('=');
      if (eq != std::string::npos) {
        value = key.substr(eq + 1), key = key.substr(0, eq), has_value = true;
      }
      key = normalise(key);
    } else {
      // timm's positional data_dir
      NAT_CHECK(std::none_of(cl.overrides.begin(), cl.overrides.end(), [](auto& kv) { return kv.first == "data_dir"; }),
                "[command line] unexpected argument '", a, "' (data_dir is already given)");
      cl.overrides.emplace_back("data_dir", a);
      continue;
    }
    auto next_is_value = [&](size_t j) { return j < args.size() && args[j].rfind("--", 0) != 0; };
    if (key == "config") {
      if (!has_value) {
        NAT_CHECK(next_is_value(i + 1), "[command line] --config needs a file");
        value = args[++i];
      }
      cl.config_file = value;
      continue;
    }
    const detail::KeyDef* k = find_key(key);
    if (!has_value) {
      if (k && k->type == "bool") {
        // `--amp` alone means true (timm's store_true); `--amp false` is also accepted.
        if (next_is_value(i + 1)) {
          std::string nv = lower(args[i + 1]);
          if (nv == "true" || nv == "false" || nv == "yes" || nv == "no" || nv == "on" || nv == "off")
            value = args[++i], has_value = true;
        }
        if (!has_value) value = "true";
      } else if (k && is_list_key(*k)) {
        // nargs='+': `--opt-betas 0.9 0.999`, or one YAML list `--depths [2,2]`
        std::vector<std::string> parts;
        while (next_is_value(i + 1)) parts.push_back(args[++i]);
        NAT_CHECK(!parts.empty(), "[command line] --", key, " needs a value");
        if (parts.size() == 1 && (parts[0].empty() || parts[0][0] == '[' || parts[0] == "null")) {
          value = parts[0];
        } else {
          value = "[";
          for (size_t p = 0; p < parts.size(); ++p) value += (p ? ", " : "") + parts[p];
          value += "]";
        }
      } else {
        NAT_CHECK(i + 1 < args.size(), "[command line] --", key, " needs a value");
        value = args[++i];
      }
    }
    cl.overrides.emplace_back(key, value);
  }
  return cl;
}

TrainConfig load_config(const CommandLine& cl, TrainConfig base) {
  TrainConfig cfg = std::move(base);
  if (!cl.config_file.empty()) cfg = apply_yaml_file(cl.config_file, std::move(cfg));
  for (const auto& [k, v] : cl.overrides) apply_key(cfg, k, v, "command line");
  cfg.validate();
  return cfg;
}

std::vector<std::array<std::string, 3>> TrainConfig::rows() const {
  std::vector<std::array<std::string, 3>> out;
  for (const auto& k : key_table())
    if (!k.alias) out.push_back({k.group, k.name, k.show(*this)});
  return out;
}

std::string TrainConfig::to_yaml() const {
  YAML::Emitter e;
  e << YAML::BeginMap;
  for (const auto& k : key_table()) {
    if (k.alias) continue;
    e << YAML::Key << k.name << YAML::Value;
    k.emit(e, *this);
  }
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

std::string format_config_table(const TrainConfig& cfg) {
  auto rows = cfg.rows();
  size_t w0 = 5, w1 = 3;
  for (const auto& r : rows) w0 = std::max(w0, r[0].size()), w1 = std::max(w1, r[1].size());
  std::map<std::string, std::string> origin(cfg.origins.begin(), cfg.origins.end());
  std::ostringstream os;
  os << "Training configuration (" << rows.size() << " keys; * = set by the config file or command line)\n";
  std::string group;
  for (const auto& r : rows) {
    std::string g = r[0] == group ? "" : r[0];
    group = r[0];
    os << "  " << g << std::string(w0 - g.size() + 2, ' ') << (origin.count(r[1]) ? "* " : "  ") << r[1]
       << std::string(w1 - r[1].size() + 2, ' ') << r[2] << "\n";
  }
  return os.str();
}

}  // namespace nat::train
