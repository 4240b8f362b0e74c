// Stand-in for the YAML reader of data keys in a build without yaml-cpp: it throws, naming the package.
#include "core/error.h"
#include "data/config_yaml.h"

namespace nat::data {

DataConfig load_data_config_yaml(const std::string& path, DataConfig) {
  NAT_THROW("[config] reading ", path,
            " needs yaml-cpp, and this nat was built without it "
            "(Debian: apt-get install -y libyaml-cpp-dev, then reconfigure)");
}
DataConfig parse_data_config_yaml(const std::string&, const std::string& origin, DataConfig base) {
  return load_data_config_yaml(origin, std::move(base));
}
const std::vector<std::string>& data_config_keys() {
  static const std::vector<std::string> none;
  return none;
}

}  // namespace nat::data
