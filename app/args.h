// Minimal option parsing for `nat` subcommands: "--key value" and "--flag", with an error naming
// any unknown option and the command's --help.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace nat::app {

class Args {
 public:
  // `options` take a value; `flags` do not. Positional arguments are collected in order.
  Args(const char* command, const std::vector<std::string>& argv, const std::set<std::string>& options,
       const std::set<std::string>& flags = {});
  bool help() const { return help_; }
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  bool flag(const std::string& key) const { return flags_.count(key) > 0; }
  std::string get(const std::string& key, const std::string& fallback = "") const;
  std::string required(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::string command_;
  bool help_ = false;
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positional_;
};

}  // namespace nat::app
