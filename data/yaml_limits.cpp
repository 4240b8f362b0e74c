// Config files within limits: see yaml_limits.h.
#include "data/yaml_limits.h"

#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

namespace nat::data {

[[noreturn]] void throw_yaml_error(const std::string& origin, const YAML::Exception& e) {
  if (e.mark.is_null()) NAT_THROW("[config] ", origin, ": YAML error: ", e.msg);
  NAT_THROW("[config] ", origin, ": YAML error at line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg);
}

std::string read_config_file(const std::string& path) {
  std::error_code ec;
  NAT_CHECK(!std::filesystem::is_directory(path, ec), "[config] ", path, " is a directory, not a YAML file");
  std::ifstream f(path, std::ios::binary);
  NAT_CHECK(f.good(), "[config] cannot read ", path);
  std::string text(kMaxConfigBytes + 1, '\0');
  f.read(text.data(), static_cast<std::streamsize>(text.size()));
  NAT_CHECK(!f.bad(), "[config] cannot read ", path);
  text.resize(static_cast<size_t>(f.gcount()));
  if (text.size() > kMaxConfigBytes) {
    auto full = std::filesystem::file_size(path, ec);
    NAT_THROW("[config] ", path, ": ", ec ? text.size() : static_cast<size_t>(full),
              " bytes; a config file is at most ", kMaxConfigBytes >> 20, " MiB");
  }
  return text;
}

void check_config_tree(const YAML::Node& root, const std::string& origin) {
  // Iterative, so a deep document cannot exhaust the stack; aliases are walked each time they are used.
  std::vector<std::pair<YAML::Node, int>> todo = {{root, 0}};
  size_t values = 0;
  while (!todo.empty()) {
    auto [n, depth] = todo.back();
    todo.pop_back();
    NAT_CHECK(++values <= kMaxConfigValues, "[config] ", origin, ": the YAML expands to more than ", kMaxConfigValues,
              " values (anchors and aliases counted each time they are used)");
    NAT_CHECK(depth <= kMaxConfigDepth, "[config] ", origin, ": line ", n.Mark().line + 1, ": values nest deeper than ",
              kMaxConfigDepth, " levels");
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

YAML::Node load_config_yaml(const std::string& text, const std::string& origin) {
  NAT_CHECK(text.size() <= kMaxConfigBytes, "[config] ", origin, ": ", text.size(), " bytes; a config file is at most ",
            kMaxConfigBytes >> 20, " MiB");
  return with_config_errors(origin, [&] {
    YAML::Node root = YAML::Load(text);
    check_config_tree(root, origin);
    return root;
  });
}

}  // namespace nat::data
