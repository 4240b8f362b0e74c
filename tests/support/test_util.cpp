// Shared test helpers.
#include "support/test_util.h"

#include <unistd.h>

#include <climits>
#include <cmath>

#include "autograd/autograd.h"
#include "core/rng.h"

namespace nat::testing {

std::string cuda_skip_reason() {
  if (!cuda_compiled()) return "CUDA backend not compiled (NAT_CUDA=OFF): CUDA test skipped";
  if (cuda_device_count() == 0) return "no CUDA device found: CUDA test skipped (run scripts/gpu_check.sh on a GPU)";
  return "";
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  auto va = a.to_double_vector(), vb = b.to_double_vector();
  double m = 0;
  for (size_t i = 0; i < va.size() && i < vb.size(); ++i) {
    if (std::isnan(va[i]) != std::isnan(vb[i])) return INFINITY;
    if (!std::isnan(va[i])) m = std::max(m, std::fabs(va[i] - vb[i]));
  }
  return m;
}

Tensor poisoned(const Shape& shape, DType dtype, Device device) {
  return Tensor::full(shape, is_floating(dtype) ? NAN : 123.0, dtype, device);
}

Tensor random_f64(const Shape& shape, uint64_t seed, double lo, double hi) {
  Generator g(seed);
  Tensor t = Tensor::empty(shape, DType::f64);
  return uniform_(t, lo, hi, &g);
}

Tensor leaf(const Tensor& t) {
  set_requires_grad(t, true);
  return t;
}

void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& inputs) {
  GradcheckResult r = gradcheck(f, inputs);
  EXPECT_TRUE(r.ok) << r.report << "max error " << r.max_abs_error;
}

std::string nat_executable() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string self(buf, static_cast<size_t>(n));
  return self.substr(0, self.rfind("/tests/")) + "/app/nat";
}

}  // namespace nat::testing
