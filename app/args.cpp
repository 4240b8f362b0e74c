// Option parsing for subcommands.
#include "app/args.h"

#include <charconv>
#include <cmath>

#include "core/error.h"

namespace nat::app {

Args::Args(const char* command, const std::vector<std::string>& argv, const std::set<std::string>& options,
           const std::set<std::string>& flags)
    : command_(command) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--help" || a == "-h") {
      help_ = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      positional_.push_back(a);
      continue;
    }
    std::string key = a.substr(2), value;
    auto eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    }
    if (flags.count(key)) {
      flags_.insert(key);
      continue;
    }
    NAT_CHECK(options.count(key), "unknown option --", key, " (see nat ", command_, " --help)");
    if (eq == std::string::npos) {
      NAT_CHECK(i + 1 < argv.size(), "option --", key, " needs a value (see nat ", command_, " --help)");
      value = argv[++i];
    }
    values_[key] = value;
  }
}

std::string Args::get(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

std::string Args::required(const std::string& key) const {
  NAT_CHECK(has(key), "missing required option --", key, " (see nat ", command_, " --help)");
  return get(key);
}

int64_t Args::get_int(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const {
  if (!has(key)) return fallback;
  const std::string& s = get(key);
  int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  NAT_CHECK(r.ec != std::errc::invalid_argument && r.ptr == s.data() + s.size() && !s.empty(), "option --", key,
            " expects an integer, got '", s, "'");
  NAT_CHECK(r.ec != std::errc::result_out_of_range && v >= lo && v <= hi, "option --", key, " must be in [", lo, ", ",
            hi, "], got ", s);
  return v;
}

double Args::get_double(const std::string& key, double fallback, double lo, double hi) const {
  if (!has(key)) return fallback;
  const std::string& s = get(key);
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  NAT_CHECK(r.ec != std::errc::invalid_argument && r.ptr == s.data() + s.size() && !s.empty(), "option --", key,
            " expects a number, got '", s, "'");
  NAT_CHECK(r.ec != std::errc::result_out_of_range && std::isfinite(v) && v >= lo && v <= hi, "option --", key,
            " must be in [", lo, ", ", hi, "], got ", s);
  return v;
}

}  // namespace nat::app
