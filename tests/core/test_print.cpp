// Tensor printing: PyTorch-like nesting, one number format per tensor (fixed, integer-valued or
// scientific), "..." summaries above the threshold, and the dtype/shape footer.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "core/tensor.h"

namespace nat {
namespace {

// Restores the global print options when a test changes them.
class PrintOptionsGuard {
 public:
  PrintOptionsGuard() : saved_(print_options()) {}
  ~PrintOptionsGuard() { print_options() = saved_; }

 private:
  PrintOptions saved_;
};

size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

TEST(CorePrint, MatrixOfWholeNumbers) {
  EXPECT_EQ(Tensor::arange(6).view({2, 3}).str(),
            "tensor([[0.0, 1.0, 2.0],\n"
            "        [3.0, 4.0, 5.0]], dtype=f32, shape=[2, 3])");
}

TEST(CorePrint, FixedPointWithSharedWidth) {
  EXPECT_EQ(Tensor::from_vector<float>({1.5f, -2.25f, 3}, {3}).str(),
            "tensor([ 1.5000, -2.2500,  3.0000], dtype=f32, shape=[3])");
}

TEST(CorePrint, ScalarsAndIntegers) {
  EXPECT_EQ(Tensor::scalar(3.5).str(), "tensor(3.5000, dtype=f32, shape=[])");
  EXPECT_EQ(Tensor::from_vector<int32_t>({-7, 12, 0}, {3}).str(), "tensor([-7, 12,  0], dtype=i32, shape=[3])");
  EXPECT_EQ(Tensor::full({2}, 200, DType::u8).str(), "tensor([200, 200], dtype=u8, shape=[2])");
  EXPECT_EQ(Tensor::full({2}, 0.5, DType::bf16).str(), "tensor([0.5000, 0.5000], dtype=bf16, shape=[2])");
}

TEST(CorePrint, LargeInt64KeepsEveryDigit) {
  // 2^53 + 1 is not a double; printing through double would show ...992.
  EXPECT_EQ(Tensor::from_vector<int64_t>({9007199254740993LL, -5}, {2}).str(),
            "tensor([9007199254740993,               -5], dtype=i64, shape=[2])");
}

TEST(CorePrint, ThreeDimsSeparateBlocksWithABlankLine) {
  EXPECT_EQ(Tensor::arange(8).view({2, 2, 2}).str(),
            "tensor([[[0.0, 1.0],\n"
            "         [2.0, 3.0]],\n"
            "\n"
            "        [[4.0, 5.0],\n"
            "         [6.0, 7.0]]], dtype=f32, shape=[2, 2, 2])");
}

TEST(CorePrint, NonContiguousPrintsLogicalOrder) {
  EXPECT_EQ(Tensor::arange(6).view({2, 3}).transpose(0, 1).str(),
            "tensor([[0.0, 3.0],\n"
            "        [1.0, 4.0],\n"
            "        [2.0, 5.0]], dtype=f32, shape=[3, 2])");
}

TEST(CorePrint, ScientificForWideRangesAndSpecialValues) {
  EXPECT_EQ(Tensor::from_vector<float>({1e-5f, 1.0f, NAN, INFINITY, -INFINITY}, {5}).str(),
            "tensor([1.0000e-05, 1.0000e+00,        nan,        inf,       -inf], dtype=f32, shape=[5])");
  EXPECT_EQ(Tensor::from_vector<double>({2e9, 1.0}, {2}).str(),
            "tensor([2.0000e+09, 1.0000e+00], dtype=f64, shape=[2])");
}

TEST(CorePrint, PrecisionOption) {
  PrintOptionsGuard guard;
  print_options().precision = 2;
  EXPECT_EQ(Tensor::from_vector<float>({0.125f, 2.0f}, {2}).str(), "tensor([0.12, 2.00], dtype=f32, shape=[2])");
}

TEST(CorePrint, SummarisesAboveTheThreshold) {
  Tensor big = Tensor::arange(3000).view({1000, 3});
  std::string s = big.str();
  EXPECT_EQ(count(s, "..."), 1u) << s;
  EXPECT_EQ(count(s, "\n"), 6u) << s;  // 3 + 3 edge rows and the "..." row
  EXPECT_NE(s.find("2.9990e+03]]"), std::string::npos) << s;
  EXPECT_NE(s.find("shape=[1000, 3]"), std::string::npos) << s;

  PrintOptionsGuard guard;
  print_options().threshold = 5;
  print_options().edgeitems = 2;
  EXPECT_EQ(Tensor::arange(7, DType::i32).str(), "tensor([0, 1, ..., 5, 6], dtype=i32, shape=[7])");
  EXPECT_EQ(Tensor::arange(5, DType::i32).str(), "tensor([0, 1, 2, 3, 4], dtype=i32, shape=[5])");
}

TEST(CorePrint, EmptyAndUndefined) {
  EXPECT_EQ(Tensor::empty({0, 3}).str(), "tensor([], dtype=f32, shape=[0, 3])");
  EXPECT_EQ(Tensor().str(), "tensor(undefined)");
}

TEST(CorePrint, StreamOperatorMatchesStr) {
  Tensor t = Tensor::arange(3, DType::i64);
  std::ostringstream os;
  os << t;
  EXPECT_EQ(os.str(), t.str());
  EXPECT_EQ(t.str().find("device="), std::string::npos);  // only non-CPU tensors name the device
}

}  // namespace
}  // namespace nat
