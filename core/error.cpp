// Error construction. The source location goes after the message so users read the cause first.
#include "core/error.h"

namespace nat {

void throw_error(const char* file, int line, const std::string& msg) {
  std::string f(file);
  // Keep paths repo-relative: ".../nat/core/tensor.cpp" -> "core/tensor.cpp".
  for (const char* root : {"/core/", "/autograd/", "/ops/", "/cuda/", "/nn/", "/data/", "/train/", "/app/"}) {
    auto p = f.rfind(root);
    if (p != std::string::npos) {
      f = f.substr(p + 1);
      break;
    }
  }
  throw Error(msg + " (" + f + ":" + std::to_string(line) + ")");
}

}  // namespace nat
