// Reading a YAML config within limits, shared by the trainer's config loader and `nat data preview`.
// A config is a page of keys (the shipped ones are about 2 KB), so the limits refuse, before they cost
// memory or time, a 100 MB list value (yaml-cpp takes hundreds of bytes per node), an alias bomb (a few
// nodes that expand exponentially when a list key walks them) and an alias to itself (a cycle).
// Every failure is a nat::Error naming the file (or `origin`) and, where yaml-cpp knows it, the line.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <new>
#include <stdexcept>
#include <string>

#include "core/error.h"

namespace nat::data {

constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr size_t kMaxConfigValues = 10000;  // nodes, counted with every alias expanded (a config has ~150)
constexpr int kMaxConfigDepth = 64;

// The text of the config file at `path`; refused when unreadable, a directory, or over kMaxConfigBytes
// (found by reading one byte past the limit, so a huge file is never read whole).
std::string read_config_file(const std::string& path);

// Parses `text` (at most kMaxConfigBytes) and checks the value-count and depth limits.
YAML::Node load_config_yaml(const std::string& text, const std::string& origin);

// The value-count and depth limits on an already parsed node (a command-line value, say).
void check_config_tree(const YAML::Node& root, const std::string& origin);

// "[config] <origin>: YAML error at line L, column C: <message>".
[[noreturn]] void throw_yaml_error(const std::string& origin, const YAML::Exception& e);

// Runs `apply` (which reads a parsed config) and turns what yaml-cpp and the allocator throw into
// nat::Errors naming `origin`.
template <typename F>
auto with_config_errors(const std::string& origin, F&& apply) -> decltype(apply()) {
  try {
    try {
      return apply();
    } catch (const YAML::Exception& e) {  // a conversion inside a key's setter: name the line
      throw_yaml_error(origin, e);
    }
  } catch (const std::bad_alloc&) {
    NAT_THROW("[config] ", origin, ": out of memory reading the config");
  } catch (const std::length_error& e) {
    NAT_THROW("[config] ", origin, ": out of memory reading the config (", e.what(), ")");
  }
}

}  // namespace nat::data
