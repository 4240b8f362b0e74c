// Minimal option parsing for `nat` subcommands: "--key value" and "--flag", with an error naming
// any unknown option and the command's --help. Every number has a range, checked when it is read.
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
  // A number within [lo, hi] (both inclusive); anything else is an error naming the option and the range.
  int64_t get_int(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const;
  double get_double(const std::string& key, double fallback, double lo, double hi) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::string command_;
  bool help_ = false;
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positional_;
};

}  // namespace nat::app
