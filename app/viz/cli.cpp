// Argument helpers for the visualisation commands.
#include "app/viz/cli.h"

#include "core/error.h"

namespace nat::viz {

std::vector<std::string> take_option(std::vector<std::string>& argv, const std::string& name) {
  std::vector<std::string> values, rest;
  const std::string flag = "--" + name, prefix = flag + "=";
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == flag) {
      NAT_CHECK(i + 1 < argv.size(), "option ", flag, " needs a value");
      values.push_back(argv[++i]);
    } else if (argv[i].rfind(prefix, 0) == 0) {
      values.push_back(argv[i].substr(prefix.size()));
    } else {
      rest.push_back(argv[i]);
    }
  }
  argv.swap(rest);
  return values;
}

namespace {
int64_t parse_int(const std::string& s, const std::string& what, const std::string& whole) {
  try {
    size_t pos = 0;
    long long v = std::stoll(s, &pos);
    if (pos == s.size()) return v;
  } catch (const std::exception&) {
  }
  NAT_THROW(what, " expects integers, got '", whole, "'");
}
}  // namespace

Cell parse_cell(const std::string& text, const std::string& what) {
  auto comma = text.find(',');
  NAT_CHECK(comma != std::string::npos, what, " expects ROW,COL, got '", text, "'");
  return {parse_int(text.substr(0, comma), what, text), parse_int(text.substr(comma + 1), what, text)};
}

std::pair<int64_t, int64_t> parse_size(const std::string& text, const std::string& what) {
  auto comma = text.find(',');
  if (comma == std::string::npos) {
    int64_t n = parse_int(text, what, text);
    return {n, n};
  }
  return {parse_int(text.substr(0, comma), what, text), parse_int(text.substr(comma + 1), what, text)};
}

}  // namespace nat::viz
