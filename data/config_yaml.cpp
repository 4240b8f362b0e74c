// YAML -> DataConfig for the data keys only (see config_yaml.h). A YAML null (timm's None) keeps the
// default, except `aa: null`, which turns RandAugment off as None does in timm.
#include "data/config_yaml.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <new>
#include <vector>

#include "core/error.h"

namespace nat::data {

namespace {

using Setter = std::function<void(DataConfig&, const YAML::Node&)>;

template <typename T>
T as(const YAML::Node& n, const std::string& key) {
  try {
    return n.as<T>();
  } catch (const YAML::Exception&) {
    NAT_THROW("key '", key, "': expected ",
              std::is_same_v<T, bool>       ? "true or false"
              : std::is_integral_v<T>       ? "an integer"
              : std::is_floating_point_v<T> ? "a number"
                                            : "a string",
              ", got '", YAML::Dump(n), "'");
  }
}

template <size_t N>
std::array<double, N> as_array(const YAML::Node& n, const std::string& key) {
  NAT_CHECK(n.IsSequence() && n.size() == N, "key '", key, "': expected a list of ", N, " numbers, got '",
            YAML::Dump(n), "'");
  std::array<double, N> a{};
  for (size_t i = 0; i < N; ++i) a[i] = as<double>(n[i], key);
  return a;
}

const std::map<std::string, Setter>& setters() {
  static const std::map<std::string, Setter> m = [] {
    std::map<std::string, Setter> s;
#define NAT_KEY(name, type) s[#name] = [](DataConfig& c, const YAML::Node& n) { c.name = as<type>(n, #name); }
#define NAT_ARRAY(name, count) s[#name] = [](DataConfig& c, const YAML::Node& n) { c.name = as_array<count>(n, #name); }
    NAT_KEY(data_dir, std::string);
    s["data"] = s["data_dir"];  // timm's deprecated positional name
    NAT_KEY(dataset, std::string);
    NAT_KEY(train_split, std::string);
    NAT_KEY(val_split, std::string);
    NAT_KEY(class_map, std::string);
    NAT_KEY(num_classes, int64_t);
    NAT_KEY(img_size, int64_t);
    NAT_KEY(crop_pct, double);
    NAT_ARRAY(mean, 3);
    NAT_ARRAY(std, 3);
    s["interpolation"] = [](DataConfig& c, const YAML::Node& n) {
      auto v = as<std::string>(n, "interpolation");
      if (!v.empty()) c.interpolation = v;  // '' is timm's "model default": bicubic
    };
    NAT_KEY(train_interpolation, std::string);
    NAT_KEY(batch_size, int64_t);
    NAT_KEY(validation_batch_size, int64_t);
    NAT_KEY(workers, int64_t);
    NAT_KEY(pin_mem, bool);
    NAT_KEY(seed, int64_t);
    NAT_KEY(max_image_pixels, int64_t);
    NAT_KEY(no_aug, bool);
    NAT_ARRAY(scale, 2);
    NAT_ARRAY(ratio, 2);
    NAT_KEY(hflip, double);
    NAT_KEY(vflip, double);
    NAT_KEY(color_jitter, double);
    NAT_KEY(aa, std::string);
    NAT_KEY(reprob, double);
    NAT_KEY(remode, std::string);
    NAT_KEY(recount, int64_t);
    NAT_KEY(mixup, double);
    NAT_KEY(cutmix, double);
    s["cutmix_minmax"] = [](DataConfig& c, const YAML::Node& n) { c.cutmix_minmax = as_array<2>(n, "cutmix_minmax"); };
    NAT_KEY(mixup_prob, double);
    NAT_KEY(mixup_switch_prob, double);
    NAT_KEY(mixup_mode, std::string);
    NAT_KEY(mixup_off_epoch, int64_t);
    NAT_KEY(smoothing, double);
#undef NAT_KEY
#undef NAT_ARRAY
    return s;
  }();
  return m;
}

// The same limits as train/config_yaml.cpp: a config is a page of keys, so a 100 MB value, an alias bomb
// (a few nodes that expand exponentially when walked) or a cycle of aliases is refused up front.
constexpr size_t kMaxYamlBytes = 1 << 20;
constexpr size_t kMaxYamlValues = 10000;  // nodes, counted with every alias expanded (a config has ~150)
constexpr int kMaxYamlDepth = 64;

void check_yaml_tree(const YAML::Node& root, const std::string& origin) {
  std::vector<std::pair<YAML::Node, int>> todo = {{root, 0}};
  size_t values = 0;
  while (!todo.empty()) {
    auto [n, depth] = todo.back();
    todo.pop_back();
    NAT_CHECK(++values <= kMaxYamlValues, "[config] ", origin, ": the YAML expands to more than ", kMaxYamlValues,
              " values (anchors and aliases counted each time they are used)");
    NAT_CHECK(depth <= kMaxYamlDepth, "[config] ", origin, ": line ", n.Mark().line + 1, ": values nest deeper than ",
              kMaxYamlDepth, " levels");
    if (n.IsSequence()) {
      for (const auto& v : n) todo.emplace_back(v, depth + 1);
    } else if (n.IsMap()) {
      for (const auto& kv : n) {
        todo.emplace_back(kv.first, depth + 1);
        todo.emplace_back(kv.second, depth + 1);
      }
    }
  }
}

DataConfig apply(const YAML::Node& root, const std::string& origin, DataConfig c) {
  if (root.IsNull()) return c;
  NAT_CHECK(root.IsMap(), "[config] ", origin, ": expected a mapping of keys to values at the top level");
  for (const auto& kv : root) {
    NAT_CHECK(kv.first.IsScalar(), "[config] ", origin, ": line ", kv.first.Mark().line + 1,
              ": a key is not a plain name");
    const std::string& key = kv.first.Scalar();
    auto it = setters().find(key);
    if (it == setters().end()) continue;  // not a data key
    if (kv.second.IsNull()) {
      if (key == "aa") c.aa = "";
      if (key == "cutmix_minmax") c.cutmix_minmax.reset();
      continue;
    }
    try {
      it->second(c, kv.second);
    } catch (const Error& e) {
      NAT_THROW("[config] ", origin, ": ", e.what());
    } catch (const YAML::Exception& e) {
      NAT_THROW("[config] ", origin, ": key '", key, "' (line ", kv.second.Mark().line + 1, "): ", e.msg);
    }
  }
  try {
    c.validate();
  } catch (const Error& e) {
    NAT_THROW("[config] ", origin, ": ", e.what());
  }
  return c;
}

}  // namespace

DataConfig parse_data_config_yaml(const std::string& text, const std::string& origin, DataConfig base) {
  NAT_CHECK(text.size() <= kMaxYamlBytes, "[config] ", origin, ": ", text.size(),
            " bytes; a config file is at most 1 MiB");
  try {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      NAT_THROW("[config] ", origin, ": YAML error at line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ",
                e.msg);
    }
    check_yaml_tree(root, origin);
    return apply(root, origin, std::move(base));
  } catch (const std::bad_alloc&) {
    NAT_THROW("[config] ", origin, ": out of memory reading the config (", text.size(), " bytes)");
  } catch (const std::length_error& e) {
    NAT_THROW("[config] ", origin, ": out of memory reading the config (", text.size(), " bytes): ", e.what());
  }
}

DataConfig load_data_config_yaml(const std::string& path, DataConfig base) {
  std::ifstream f(path, std::ios::binary);
  std::error_code ec;
  NAT_CHECK(f.good() && !std::filesystem::is_directory(path, ec), "[config] cannot read ", path);
  std::string text(kMaxYamlBytes + 1, '\0');  // one byte past the limit: a huge file is never read whole
  f.read(text.data(), static_cast<std::streamsize>(text.size()));
  NAT_CHECK(!f.bad(), "[config] cannot read ", path);
  text.resize(static_cast<size_t>(f.gcount()));
  if (text.size() > kMaxYamlBytes) {
    auto full = std::filesystem::file_size(path, ec);
    NAT_THROW("[config] ", path, ": ", ec ? text.size() : static_cast<size_t>(full),
              " bytes; a config file is at most 1 MiB");
  }
  return parse_data_config_yaml(text, path, std::move(base));
}

const std::vector<std::string>& data_config_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (const auto& kv : setters()) k.push_back(kv.first);
    return k;
  }();
  return keys;
}

}  // namespace nat::data
