// The key table behind TrainConfig (internal to train/): one entry per YAML key, with its parser,
// range check, printer and YAML emitter. A setter throws ValueError with a message that names neither
// the key nor the file; the caller (config_yaml.cpp) adds both.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <string>
#include <vector>

#include "train/config.h"

namespace nat::train::detail {

struct ValueError {
  std::string message;  // "expected a number, got 'abc'" / "must be > 0, got -1"
};

struct KeyDef {
  std::string name;
  std::string group;  // model | data | augment | optim | sched | run
  std::string type;
  std::string help;
  std::function<void(TrainConfig&, const YAML::Node&)> set;  // a null node resets the key to its default
  std::function<std::string(const TrainConfig&)> show;
  std::function<void(YAML::Emitter&, const TrainConfig&)> emit;
  bool alias = false;  // another spelling of a listed key (not printed, not saved)
};

const std::vector<KeyDef>& key_table();
const KeyDef* find_key(const std::string& name);  // name already normalised (underscores); nullptr if unknown

// Shortest round-trip text of a double ("0.001", "1e-06"); yaml_number() adds ".0" where PyYAML
// would otherwise read a string ("1.0e-06").
std::string number_str(double v);
std::string yaml_number(double v);

}  // namespace nat::train::detail
