// The `nat` executable never ends in a crash (issue 17): absurd numbers on the command line and absurd
// model specs are one-line errors with exit code 2, naming the option or field and its range. Runs the
// nat binary built next to this test.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <string>

#include "support/test_util.h"

namespace {

using nat::testing::nat_executable;

struct Result {
  int code = -1;  // exit status; 128 + signal when a signal ended it
  std::string output;
};

Result nat(const std::string& args) {
  Result r;
  FILE* p = popen((nat_executable() + " " + args + " 2>&1").c_str(), "r");
  if (!p) return r;
  char line[4096];
  while (std::fgets(line, sizeof line, p)) r.output += line;
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
  return r;
}

void expect_error(const std::string& args, std::initializer_list<const char*> parts) {
  Result r = nat(args);
  EXPECT_EQ(r.code, 2) << "nat " << args << "\n" << r.output;
  for (const char* p : parts) EXPECT_NE(r.output.find(p), std::string::npos) << "'" << p << "' not in:\n" << r.output;
  EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << r.output;
}

TEST(CliErrors, AbsurdModelSpecIsAnErrorNotAnAllocation) {
  ASSERT_EQ(access(nat_executable().c_str(), X_OK), 0) << nat_executable() << " is not built";
  // 10^8 layers used to end in std::bad_alloc escaping main() (exit 134).
  expect_error(R"(info --model '{"embed_dim":16,"depths":[100000000],"num_heads":[1],"kernel_size":3}')",
               {"depths[0]", "[1, 1024]"});
  expect_error(R"(info --model '{"base":"nat_mini","mlp_ratio":1e30}')", {"mlp_ratio", "(0, 64]"});
  expect_error(R"(info --model '{"base":"nat_mini","embed_dim":4611686018427387904}')", {"embed_dim"});
}

TEST(CliErrors, EveryNumericOptionHasARange) {
  ASSERT_EQ(access(nat_executable().c_str(), X_OK), 0) << nat_executable() << " is not built";
  expect_error("trace --model nat_mini --threads 65536", {"--threads", "[1, 1024]", "65536"});
  expect_error("trace --model nat_mini --batch -3", {"--batch", "[1, 4096]"});
  expect_error("trace --model nat_mini --img-size 99999999999999999999", {"--img-size", "[8, 4096]"});
  expect_error("trace --model nat_mini --img-size 12abc", {"--img-size", "expects an integer", "12abc"});
  expect_error("bench na --batch 0", {"--batch", "[1, 4096]"});
  expect_error("info --model nat_mini --depth 0", {"--depth", "[1, 16]"});
  expect_error("train --model nat_mini --threads 65536 --dry-run", {"threads", "[0, 1024]"});
}

}  // namespace
