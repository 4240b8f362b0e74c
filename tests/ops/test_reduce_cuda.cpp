// CUDA reduce kernels against the CPU reference on random inputs (label `cuda`; skips without a GPU).
#include <gtest/gtest.h>

#include "core/rng.h"
#include "ops/ops.h"
#include "support/test_util.h"

using namespace nat;
using nat::testing::max_abs_diff;

TEST(OpsReduceCuda, MatchesCpu) {
  NAT_SKIP_WITHOUT_CUDA();
  Generator g(5);
  Tensor x = Tensor::empty({7, 300, 5});
  uniform_(x, -1, 1, &g);
  Tensor xc = x.cuda();
  for (int64_t d = 0; d < 3; ++d) {
    EXPECT_LT(max_abs_diff(ops::sum(x, {d}), ops::sum(xc, {d})), 1e-4);
    EXPECT_LT(max_abs_diff(ops::mean(x, {d}), ops::mean(xc, {d})), 1e-6);
    EXPECT_LT(max_abs_diff(ops::max(x, d), ops::max(xc, d)), 0);
    EXPECT_EQ(ops::argmax(x, d).to_vector<int64_t>(), ops::argmax(xc, d).to_vector<int64_t>());
  }
}
