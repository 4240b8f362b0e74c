// nat.cpp against an independent PyTorch NAT (bench/torch_model.py), through the user-facing tools: a
// fake official checkpoint (.pth, {'model': ...}, 'module.' prefixes) is converted by
// tools/convert_checkpoint.py, loaded by `nat forward`, and logits, loss and every parameter gradient are
// compared with PyTorch's. Needs Debian's python3-torch
// (a test dependency: scripts/deps.sh installs it) and the nat executable built next to this test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "nn/init.h"
#include "nn/module.h"
#include "nn/nat.h"
#include "support/test_util.h"

namespace {

std::string source_dir() { return NAT_SOURCE_DIR; }  // set by tests/CMakeLists.txt

// Runs a command; returns its exit status and appends its output to `log`.
int run(const std::string& cmd, std::string& log) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char line[4096];
  while (std::fgets(line, sizeof line, p)) log += line;
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

// Two levels; dilation 2 in level 0 and a 2-level 20 px input exercise the padding path (5x5 < 3*2) and
// the unpadded one; layer scale is on so gamma1/gamma2 are checked too.
const char* kModel =
    R"({"embed_dim": 16, "depths": [2, 2], "num_heads": [1, 2], "kernel_size": 3, "dilations": [[1, 2], [1, 1]],)"
    R"( "mlp_ratio": 2, "drop_path_rate": 0.1, "layer_scale": 0.5, "num_classes": 5})";

}  // namespace

TEST(NnTorchCrosscheck, ConvertedCheckpointGivesPyTorchsLogitsLossAndGradients) {
  std::string log;
  if (run("/usr/bin/python3 -c 'import torch'", log) != 0) GTEST_SKIP() << "/usr/bin/python3 has no torch: " << log;
  const std::string nat = nat::testing::nat_executable();
  ASSERT_EQ(access(nat.c_str(), X_OK), 0) << nat << " is not built (build the `nat` target)";
  std::string root = source_dir(), dir = ::testing::TempDir() + "nat_crosscheck_" + std::to_string(getpid());
  ASSERT_EQ(run("mkdir -p " + quote(dir), log), 0) << log;
  std::string pth = dir + "/ckpt.pth", io = dir + "/io.safetensors", w = dir + "/w.safetensors";

  ASSERT_EQ(run("/usr/bin/python3 " + root + "/tests/nn/fake_checkpoint.py --model-json " + quote(kModel) + " --pth " +
                    pth + " --io " + io + " --batch 2 --img-size 20",
                log),
            0)
      << log;
  ASSERT_EQ(run("/usr/bin/python3 " + root + "/tools/convert_checkpoint.py " + pth + " " + w + " --model " +
                    quote(kModel) + " --nat " + nat,
                log),
            0)
      << log;
  // The converted file loads strictly into nat.cpp's model.
  nat::nn::NatConfig config = nat::nn::parse_nat_spec(kModel);
  std::shared_ptr<nat::nn::NAT> model;
  {
    nat::nn::init::NoInitGuard skip;
    nat::Generator g(0);
    model = nat::nn::create_nat(config, g);
  }
  EXPECT_NO_THROW(nat::nn::load_state_dict(*model, w));

  for (const char* dtype : {"f64", "f32"}) {
    std::string out = dir + "/out_" + dtype + ".safetensors";
    ASSERT_EQ(run(nat + " forward --model " + quote(kModel) + " --weights " + w + " --input " + io + " --output " +
                      out + " --labels --dtype " + dtype,
                  log),
              0)
        << log;
    std::string check = "/usr/bin/python3 " + root + "/bench/torch_model.py --check --weights " + w + " --input " + io +
                        " --nat-output " + out + (std::string(dtype) == "f64" ? " --f64" : "");
    EXPECT_EQ(run(check, log), 0) << dtype << ":\n" << log;
  }
  std::printf("%s", log.c_str());
  run("rm -rf " + quote(dir), log);
}
