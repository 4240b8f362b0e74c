// Built only when yaml-cpp was disabled on purpose (the minimal GPU-check build): every entry point
// that reads or writes YAML throws, naming the missing package.
#include "core/error.h"
#include "train/config.h"

namespace nat::train {

namespace {
[[noreturn]] void no_yaml() {
  NAT_THROW(
      "this nat.cpp was built without yaml-cpp, so training configs cannot be read or written "
      "(Debian: apt-get install libyaml-cpp-dev, then reconfigure)");
}
}  // namespace

size_t edit_distance(const std::string&, const std::string&) { no_yaml(); }
std::string closest_key(const std::string&) { no_yaml(); }
const std::vector<KeyInfo>& config_keys() { no_yaml(); }
const std::vector<std::string>& inert_timm_keys() { no_yaml(); }
TrainConfig apply_yaml_text(const std::string&, const std::string&, TrainConfig) { no_yaml(); }
TrainConfig apply_yaml_file(const std::string&, TrainConfig) { no_yaml(); }
void apply_key(TrainConfig&, const std::string&, const std::string&, const std::string&) { no_yaml(); }
CommandLine parse_command_line(const std::vector<std::string>&) { no_yaml(); }
TrainConfig load_config(const CommandLine&) { no_yaml(); }
std::vector<std::array<std::string, 3>> TrainConfig::rows() const { no_yaml(); }
std::string TrainConfig::to_yaml() const { no_yaml(); }
std::string format_config_table(const TrainConfig&) { no_yaml(); }

}  // namespace nat::train
