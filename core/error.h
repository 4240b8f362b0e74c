// nat::Error: the one exception type for user-facing errors, and the NAT_CHECK macro.
// Messages say what was expected, what was found and where (op, file, key or shape):
//   NAT_CHECK(a.dim() == 2, "[matmul] expected a 2-D tensor, got shape ", a.shape());
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace nat {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Concatenates any streamable values into a string.
template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

[[noreturn]] void throw_error(const char* file, int line, const std::string& msg);

}  // namespace nat

#define NAT_CHECK(cond, ...)                                          \
  do {                                                                \
    if (!(cond)) ::nat::throw_error(__FILE__, __LINE__, ::nat::str(__VA_ARGS__)); \
  } while (0)

#define NAT_THROW(...) ::nat::throw_error(__FILE__, __LINE__, ::nat::str(__VA_ARGS__))
