// YAML -> DataConfig for the data keys only (see config_yaml.h). A YAML null (timm's None) keeps the
// default, except `aa: null`, which turns RandAugment off as None does in timm.
#include "data/config_yaml.h"

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <vector>

#include "core/error.h"
#include "data/yaml_limits.h"

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
  YAML::Node root = load_config_yaml(text, origin);
  return with_config_errors(origin, [&] { return apply(root, origin, std::move(base)); });
}

DataConfig load_data_config_yaml(const std::string& path, DataConfig base) {
  return parse_data_config_yaml(read_config_file(path), path, std::move(base));
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
