// Bad input is a nat::Error that names the op, what was expected and what was found (shapes, dtypes,
// devices), followed by the repo-relative source location. Asking for a CUDA device in a build or on
// a machine without one is such an error too, never a crash.
#include <gtest/gtest.h>

#include <regex>

#include "core/backend.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "support/expect_error.h"

namespace nat {
namespace {

TEST(CoreErrors, MessageEndsWithARepoRelativeLocation) {
  std::string msg = testing::error_message([] { Tensor::zeros({2, 3}).view({4}); });
  EXPECT_TRUE(std::regex_search(msg, std::regex(R"( \(core/tensor\.cpp:[0-9]+\)$)"))) << msg;
  EXPECT_EQ(msg.find("/work/"), std::string::npos) << msg;
  EXPECT_EQ(msg.rfind("[view]", 0), 0u) << "the op comes first: " << msg;
}

TEST(CoreErrors, NatCheckFormatsEveryArgument) {
  std::string msg = testing::error_message([] { NAT_CHECK(1 + 1 == 3, "[demo] expected ", 3, ", got ", 2.5); });
  EXPECT_EQ(msg.rfind("[demo] expected 3, got 2.5 (", 0), 0u) << msg;
  EXPECT_NE(msg.find("test_errors.cpp:"), std::string::npos) << msg;
  EXPECT_TRUE((std::is_base_of_v<std::runtime_error, Error>));
}

TEST(CoreErrors, InvalidShapesNameOpAndShapes) {
  NAT_EXPECT_ERROR(Tensor::empty({3, -2}), "[empty]", "[3, -2]");
  NAT_EXPECT_ERROR(Tensor::zeros({4, -1}), "[empty]", "[4, -1]");
  NAT_EXPECT_ERROR(Tensor::empty({1LL << 40, 1LL << 30}), "[empty]", "[1099511627776, 1073741824]",
                   "more elements than fit");
  NAT_EXPECT_ERROR(Tensor::from_vector<int32_t>({1, 2}, {3}), "[from_vector]", "2 values", "[3]");
  NAT_EXPECT_ERROR(Tensor::zeros({2, 3}).copy_(Tensor::zeros({4})), "[copy_]", "[4]", "[2, 3]");
  NAT_EXPECT_ERROR(Tensor::zeros({2, 3}).reshape({7}), "[reshape]", "[7]", "[2, 3]");
  NAT_EXPECT_ERROR(Tensor::zeros({2, 3}).expand({2, 4}), "[expand]", "[2, 3]", "[2, 4]");
  NAT_EXPECT_ERROR(Tensor::zeros({2, 3}).size(2), "[size]", "dim 2", "2 dims");
  NAT_EXPECT_ERROR(broadcast_shapes({2, 3}, {4, 3}), "[broadcast]", "[2, 3]", "[4, 3]");
  // Empty shapes with a zero dim are fine even when the other dims are huge.
  EXPECT_EQ(Tensor::empty({1LL << 62, 0}).numel(), 0);
}

TEST(CoreErrors, InvalidViewsNameOpAndShapes) {
  Tensor t = Tensor::zeros({4, 6}).transpose(0, 1);
  NAT_EXPECT_ERROR(t.view({24}), "[view]", "[24]", "[6, 4]", "strides [1, 6]");
  NAT_EXPECT_ERROR(t.permute({1, 1}), "[permute]", "repeated");
  NAT_EXPECT_ERROR(t.select(0, 6), "[select]", "index 6", "[6, 4]");
  NAT_EXPECT_ERROR(t.slice(2, 0, 1), "[slice]", "dim 2");
  NAT_EXPECT_ERROR(t.as_strided({5, 5}, {6, 1}, 0), "[as_strided]", "[5, 5]", "[6, 1]", "holding 24");
  NAT_EXPECT_ERROR(t.flatten(1, 0), "[flatten]");
}

TEST(CoreErrors, TooManyDimsForACopyIsNamed) {
  Shape nine(9, 1);
  nine[8] = 2;
  Tensor t = Tensor::zeros(nine);
  NAT_EXPECT_ERROR(t.clone(), "[copy_]", "more than 8 dims", "[1, 1, 1, 1, 1, 1, 1, 1, 2]");
}

TEST(CoreErrors, InvalidDTypesNameOpAndTypes) {
  Tensor f = Tensor::zeros({2});
  NAT_EXPECT_ERROR(f.data<int64_t>(), "[data]", "f32", "i64");
  NAT_EXPECT_ERROR(f.to_vector<double>(), "[to_vector]", "f32", "f64");
  Tensor i = Tensor::zeros({2}, DType::u8);
  NAT_EXPECT_ERROR(normal_(i), "[normal_]", "floating", "u8[2] cpu");
  NAT_EXPECT_ERROR(dtype_from_name("float8"), "unknown dtype 'float8'");
}

TEST(CoreErrors, UnknownDeviceStrings) {
  EXPECT_EQ(parse_device("cpu"), Device::cpu());
  EXPECT_EQ(parse_device("cuda"), Device::cuda(0));
  EXPECT_EQ(parse_device("cuda:3").index, 3);
  NAT_EXPECT_ERROR(parse_device("gpu"), "unknown device 'gpu'", "cpu, cuda or cuda:N");
  NAT_EXPECT_ERROR(parse_device("cuda:x"), "unknown device 'cuda:x'");
  NAT_EXPECT_ERROR(parse_device(""), "unknown device ''");
}

// Without a usable GPU every route to CUDA memory is a clear error; the message says why.
class CoreErrorsNoCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_available()) GTEST_SKIP() << "a CUDA device is present; this test covers machines without one";
    reason_ = cuda_compiled() ? "no CUDA device is present" : "built without CUDA";
  }
  const char* reason_ = "";
};

TEST_F(CoreErrorsNoCuda, CreatingACudaTensorThrows) {
  NAT_EXPECT_ERROR(Tensor::empty({2, 3}, DType::f32, Device::cuda()), "[device]", "cuda:0 requested", reason_);
  NAT_EXPECT_ERROR(Tensor::zeros({2}, DType::f32, Device::cuda(1)), "cuda:1 requested", reason_);
  NAT_EXPECT_ERROR(rand({2}, DType::f32, Device::cuda()), "cuda:0 requested", reason_);
}

TEST_F(CoreErrorsNoCuda, MovingATensorToCudaThrows) {
  Tensor t = Tensor::arange(4);
  NAT_EXPECT_ERROR(t.cuda(), "[device]", "cuda:0 requested", reason_);
  NAT_EXPECT_ERROR(t.to(Device::cuda()), "cuda:0 requested", reason_);
  NAT_EXPECT_ERROR(t.pin_memory(), "cuda:0 requested", reason_);
  NAT_EXPECT_ERROR(Tensor::empty({2}, DType::f32, Device::cpu(), /*pinned=*/true), reason_);
  EXPECT_EQ(t.to(Device::cpu()).impl_ptr(), t.impl_ptr());  // the CPU path is untouched
}

TEST_F(CoreErrorsNoCuda, BackendQueriesThrowButCountsAreZero) {
  EXPECT_EQ(cuda_device_count(), 0);
  EXPECT_FALSE(cuda_available());
  NAT_EXPECT_ERROR(backend(Device::cuda()).memory_stats(0), "[device]", reason_);
  EXPECT_STREQ(backend(Device::cpu()).name(), "cpu");
}

TEST(CoreErrors, PinnedMemoryMustBeHostMemory) {
  NAT_EXPECT_ERROR(Storage(16, Device::cuda(), /*pinned=*/true), "[storage]", "pinned", "cuda:0");
}

// Under AddressSanitizer this needs allocator_may_return_null=1 (scripts/test.sh --sanitize sets it), as
// a huge request would otherwise abort instead of returning null.
TEST(CoreErrors, HugeHostAllocationReportsTheSize) {
  NAT_EXPECT_ERROR(Tensor::empty({1LL << 58}, DType::u8), "[cpu allocator] out of memory", "288230376151711744 bytes");
}

}  // namespace
}  // namespace nat
