// Subcommand table for the `nat` executable. Each command parses its own arguments and returns
// the process exit status; user errors are thrown as nat::Error and printed by main().
#pragma once

#include <string>
#include <vector>

namespace nat::app {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

int cmd_info(const std::vector<std::string>& args);
int cmd_kernel(const std::vector<std::string>& args);
int cmd_bench(const std::vector<std::string>& args);
int cmd_forward(const std::vector<std::string>& args);
int cmd_data(const std::vector<std::string>& args);
int cmd_train(const std::vector<std::string>& args);
int cmd_eval(const std::vector<std::string>& args);
int cmd_predict(const std::vector<std::string>& args);
int cmd_plot(const std::vector<std::string>& args);
int cmd_attn(const std::vector<std::string>& args);
int cmd_explain(const std::vector<std::string>& args);
int cmd_trace(const std::vector<std::string>& args);

}  // namespace nat::app
