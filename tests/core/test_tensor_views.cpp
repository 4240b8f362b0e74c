// Tensor views and copies on the CPU: every view shares storage and reads the elements the
// equivalent NumPy indexing would; copies (reshape when no view exists, contiguous, clone, copy_)
// produce fresh storage with the same values. Values are checked, not only shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/tensor.h"
#include "support/expect_error.h"
#include "support/test_util.h"

namespace nat {
namespace {

// 0, 1, 2, ... laid out in `shape`, as f32.
Tensor iota(const Shape& shape) { return Tensor::arange(numel(shape)).view(shape); }

std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }

TEST(CoreTensorFactories, FullZerosOnesArangeScalar) {
  EXPECT_EQ(values(Tensor::zeros({2, 2})), (std::vector<float>{0, 0, 0, 0}));
  EXPECT_EQ(values(Tensor::ones({3})), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(values(Tensor::full({2}, -2.5)), (std::vector<float>{-2.5f, -2.5f}));
  EXPECT_EQ(Tensor::arange(4, DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3}));
  Tensor s = Tensor::scalar(7.25);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item(), 7.25);
  EXPECT_EQ(Tensor::empty({2, 0, 3}).numel(), 0);
}

TEST(CoreTensorFactories, MetadataOfAFreshTensor) {
  Tensor t = Tensor::empty({2, 3, 4}, DType::bf16);
  EXPECT_EQ(t.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(t.offset(), 0);
  EXPECT_EQ(t.element_size(), 2u);
  EXPECT_EQ(t.nbytes(), 48u);
  EXPECT_EQ(t.size(-1), 4);
  EXPECT_EQ(t.stride(0), 12);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_TRUE(t.is_cpu());
  EXPECT_EQ(t.meta_str(), "bf16[2, 3, 4] cpu");
  EXPECT_EQ(Tensor().meta_str(), "undefined");
}

TEST(CoreTensorFactories, FromBlobWrapsWithoutCopying) {
  float buf[6] = {1, 2, 3, 4, 5, 6};
  Tensor t = Tensor::from_blob(buf, {2, 3}, DType::f32);
  EXPECT_EQ(t.data_ptr(), static_cast<void*>(buf));
  buf[4] = 50;
  EXPECT_EQ(t.select(0, 1).select(0, 1).item(), 50.0);
}

TEST(CoreTensorViews, ViewSharesStorageAndKeepsOrder) {
  Tensor a = iota({2, 6});
  Tensor v = a.view({3, 4});
  EXPECT_TRUE(v.shares_storage(a));
  EXPECT_EQ(v.strides(), (Shape{4, 1}));
  EXPECT_EQ(v.select(0, 2).select(0, 1).item(), 9.0);
  v.select(0, 0).select(0, 0).fill_(-1);  // writes through to the base
  EXPECT_EQ(a.to_vector<float>()[0], -1.0f);
}

TEST(CoreTensorViews, ViewInfersMinusOne) {
  Tensor a = iota({2, 3, 4});
  EXPECT_EQ(a.view({-1}).shape(), (Shape{24}));
  EXPECT_EQ(a.view({4, -1}).shape(), (Shape{4, 6}));
  EXPECT_EQ(a.view({-1, 2, 3}).shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(Tensor::empty({0, 3}).view({-1, 3}).shape(), (Shape{0, 3}));
}

TEST(CoreTensorViews, ViewErrorsNameOpAndShapes) {
  Tensor a = iota({2, 3, 4});
  NAT_EXPECT_ERROR(a.view({5, -1}), "[view]", "[5, -1]", "[2, 3, 4]", "24");
  NAT_EXPECT_ERROR(a.view({-1, -1}), "[view]", "only one dimension can be -1");
  NAT_EXPECT_ERROR(a.view({5, 5}), "[view]", "[5, 5]", "[2, 3, 4]");
  NAT_EXPECT_ERROR(a.view({-2, 12}), "[view]", "invalid size -2");
  NAT_EXPECT_ERROR(a.transpose(0, 2).view({24}), "[view]", "[24]", "[4, 3, 2]", "strides [1, 4, 12]", "reshape");
  NAT_EXPECT_ERROR(Tensor::empty({0, 3}).view({-1, 0}), "[view]", "cannot infer -1");
}

TEST(CoreTensorViews, ScalarViews) {
  Tensor s = Tensor::scalar(3);
  EXPECT_EQ(s.view({1, 1}).shape(), (Shape{1, 1}));
  EXPECT_EQ(s.reshape({-1}).shape(), (Shape{1}));
  EXPECT_EQ(s.flatten().shape(), (Shape{1}));
  EXPECT_EQ(s.unsqueeze(0).shape(), (Shape{1}));
  EXPECT_EQ(iota({1, 1}).view({}).item(), 0.0);
}

TEST(CoreTensorViews, ReshapeIsAViewWhenPossible) {
  Tensor a = iota({2, 3, 4});
  Tensor r = a.reshape({6, 4});
  EXPECT_TRUE(r.shares_storage(a));
  Tensor t = a.transpose(0, 1);  // (3, 2, 4), strides (4, 12, 1): splitting the last dim is a view
  Tensor r2 = t.reshape({3, 2, 2, 2});
  EXPECT_TRUE(r2.shares_storage(a));
  EXPECT_EQ(r2.strides(), (Shape{4, 12, 2, 1}));
  EXPECT_EQ(values(r2), values(t));
  EXPECT_FALSE(t.reshape({3, 8}).shares_storage(a));  // merging dims 1 and 2 is not
}

TEST(CoreTensorViews, ReshapeCopiesWhenItMustAndKeepsLogicalOrder) {
  Tensor a = iota({2, 3});
  Tensor t = a.transpose(0, 1);  // [[0, 3], [1, 4], [2, 5]]
  Tensor r = t.reshape({6});
  EXPECT_FALSE(r.shares_storage(a));
  EXPECT_TRUE(r.is_contiguous());
  EXPECT_EQ(values(r), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(values(t.reshape({2, -1})), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  NAT_EXPECT_ERROR(t.reshape({4, 2}), "[reshape]", "[4, 2]", "[3, 2]");
}

TEST(CoreTensorViews, PermuteSwapsStrides) {
  Tensor a = iota({2, 3, 4});
  Tensor p = a.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  EXPECT_TRUE(p.shares_storage(a));
  EXPECT_FALSE(p.is_contiguous());
  // p[i][j][k] == a[j][k][i] == 12j + 4k + i
  std::vector<float> v = values(p);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 3; ++k) EXPECT_EQ(v[i * 6 + j * 3 + k], 12 * j + 4 * k + i);
  EXPECT_EQ(a.permute({-1, -3, -2}).shape(), (Shape{4, 2, 3}));
}

TEST(CoreTensorViews, PermuteErrors) {
  Tensor a = iota({2, 3, 4});
  NAT_EXPECT_ERROR(a.permute({0, 1}), "[permute]", "2 dims", "[2, 3, 4]");
  NAT_EXPECT_ERROR(a.permute({0, 1, 1}), "[permute]", "repeated", "[0, 1, 1]");
  NAT_EXPECT_ERROR(a.permute({0, 1, 3}), "[permute]", "dim 3");
}

TEST(CoreTensorViews, TransposeReadsColumnsAsRows) {
  Tensor a = iota({2, 3});
  Tensor t = a.transpose(0, 1);
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  EXPECT_EQ(t.strides(), (Shape{1, 3}));
  EXPECT_EQ(values(t), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(values(a.transpose(-1, -2)), values(t));
  EXPECT_EQ(values(a.transpose(1, 1)), values(a));
  NAT_EXPECT_ERROR(a.transpose(0, 2), "[transpose]", "dim 2");
}

TEST(CoreTensorViews, SliceWithStepAndNegativeIndices) {
  Tensor a = iota({10});
  EXPECT_EQ(values(a.slice(0, 2, 5)), (std::vector<float>{2, 3, 4}));
  EXPECT_EQ(values(a.slice(0, 1, 10, 3)), (std::vector<float>{1, 4, 7}));
  EXPECT_EQ(values(a.slice(0, 0, 10, 4)), (std::vector<float>{0, 4, 8}));
  EXPECT_EQ(values(a.slice(0, -3, 10)), (std::vector<float>{7, 8, 9}));
  EXPECT_EQ(values(a.slice(0, -4, -1)), (std::vector<float>{6, 7, 8}));
  Tensor s = a.slice(0, 1, 10, 3);
  EXPECT_EQ(s.offset(), 1);
  EXPECT_EQ(s.strides(), (Shape{3}));
  EXPECT_TRUE(s.shares_storage(a));
}

TEST(CoreTensorViews, SliceClampsLikePython) {
  Tensor a = iota({5});
  EXPECT_EQ(values(a.slice(0, -100, 100)), (std::vector<float>{0, 1, 2, 3, 4}));
  EXPECT_EQ(values(a.slice(0, 3, 100)), (std::vector<float>{3, 4}));
  EXPECT_EQ(a.slice(0, 4, 2).numel(), 0);
  EXPECT_EQ(a.slice(0, 7, 9).numel(), 0);
  EXPECT_EQ(a.slice(0, 0, -100).numel(), 0);
  EXPECT_EQ(values(a.slice(0, 0, std::numeric_limits<int64_t>::max())).size(), 5u);
  EXPECT_EQ(values(a.slice(0, 1, 5, std::numeric_limits<int64_t>::max())), (std::vector<float>{1}));
  NAT_EXPECT_ERROR(a.slice(0, 0, 5, 0), "[slice]", "step must be positive, got 0");
  NAT_EXPECT_ERROR(a.slice(0, 0, 5, -1), "[slice]", "got -1");
  NAT_EXPECT_ERROR(a.slice(1, 0, 1), "[slice]", "dim 1");
}

TEST(CoreTensorViews, SliceInnerDimOfAMatrix) {
  Tensor a = iota({3, 4});
  Tensor s = a.slice(1, 1, 4, 2);  // columns 1 and 3
  EXPECT_EQ(s.shape(), (Shape{3, 2}));
  EXPECT_EQ(s.strides(), (Shape{4, 2}));
  EXPECT_EQ(values(s), (std::vector<float>{1, 3, 5, 7, 9, 11}));
  EXPECT_EQ(values(a.slice(-2, 1, 3)), (std::vector<float>{4, 5, 6, 7, 8, 9, 10, 11}));
}

TEST(CoreTensorViews, SelectDropsTheDim) {
  Tensor a = iota({2, 3, 4});
  Tensor s = a.select(1, 2);
  EXPECT_EQ(s.shape(), (Shape{2, 4}));
  EXPECT_EQ(values(s), (std::vector<float>{8, 9, 10, 11, 20, 21, 22, 23}));
  EXPECT_EQ(values(a.select(-1, -1)), (std::vector<float>{3, 7, 11, 15, 19, 23}));
  EXPECT_EQ(a.select(0, 1).select(0, 0).select(0, 3).dim(), 0);
  EXPECT_EQ(a.select(0, 1).select(0, 0).select(0, 3).item(), 15.0);
  NAT_EXPECT_ERROR(a.select(1, 3), "[select]", "index 3", "size 3", "[2, 3, 4]");
  NAT_EXPECT_ERROR(a.select(1, -4), "[select]", "index -4");
}

TEST(CoreTensorViews, ExpandUsesStrideZero) {
  Tensor a = Tensor::from_vector<float>({1, 2, 3}, {3, 1});
  Tensor e = a.expand({2, 3, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
  EXPECT_TRUE(e.shares_storage(a));
  std::vector<float> v = values(e);
  ASSERT_EQ(v.size(), 24u);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(v[i * 12 + j * 4 + k], j + 1);
  EXPECT_EQ(a.expand({-1, 5}).shape(), (Shape{3, 5}));
  EXPECT_EQ(a.expand({3, 0}).numel(), 0);
  EXPECT_EQ(Tensor::scalar(4).expand({2, 2}).strides(), (Shape{0, 0}));
  EXPECT_EQ(values(Tensor::scalar(4).expand({2, 2})), (std::vector<float>{4, 4, 4, 4}));
}

TEST(CoreTensorViews, ExpandErrors) {
  Tensor a = iota({3, 1});
  NAT_EXPECT_ERROR(a.expand({4, 1}), "[expand]", "[3, 1]", "[4, 1]", "3 vs 4");
  NAT_EXPECT_ERROR(a.expand({3}), "[expand]", "fewer dims");
  NAT_EXPECT_ERROR(a.expand({-1, 3, 1}), "[expand]", "-1", "leading");
  NAT_EXPECT_ERROR(a.expand({3, -2}), "[expand]", "[3, -2]");
}

TEST(CoreTensorViews, SqueezeAndUnsqueeze) {
  Tensor a = iota({2, 1, 3});
  Tensor s = a.squeeze(1);
  EXPECT_EQ(s.shape(), (Shape{2, 3}));
  EXPECT_EQ(s.strides(), (Shape{3, 1}));
  EXPECT_EQ(a.squeeze(0).shape(), (Shape{2, 1, 3}));  // not size 1: unchanged
  EXPECT_EQ(a.squeeze(-2).shape(), (Shape{2, 3}));
  Tensor u = s.unsqueeze(0);
  EXPECT_EQ(u.shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(u.strides(), (Shape{6, 3, 1}));
  EXPECT_EQ(s.unsqueeze(2).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(s.unsqueeze(2).strides(), (Shape{3, 1, 1}));
  EXPECT_EQ(s.unsqueeze(-1).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(s.unsqueeze(1).strides(), (Shape{3, 3, 1}));
  EXPECT_TRUE(s.unsqueeze(1).is_contiguous());
  EXPECT_EQ(values(u), values(a));
  // On a transposed tensor the new dim is contiguous with the dim it precedes.
  Tensor t = iota({2, 3}).transpose(0, 1).unsqueeze(1);
  EXPECT_EQ(t.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(t.strides(), (Shape{1, 6, 3}));
  EXPECT_EQ(values(t), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  NAT_EXPECT_ERROR(s.unsqueeze(3), "[unsqueeze]", "dim 3");
  NAT_EXPECT_ERROR(s.squeeze(2), "[squeeze]", "dim 2");
}

TEST(CoreTensorViews, FlattenRanges) {
  Tensor a = iota({2, 3, 4, 5});
  EXPECT_EQ(a.flatten().shape(), (Shape{120}));
  EXPECT_EQ(a.flatten(1).shape(), (Shape{2, 60}));
  EXPECT_EQ(a.flatten(1, 2).shape(), (Shape{2, 12, 5}));
  EXPECT_EQ(a.flatten(-2, -1).shape(), (Shape{2, 3, 20}));
  EXPECT_EQ(a.flatten(2, 2).shape(), (Shape{2, 3, 4, 5}));
  EXPECT_TRUE(a.flatten(1, 2).shares_storage(a));
  Tensor t = iota({2, 3}).transpose(0, 1).flatten();  // needs a copy
  EXPECT_EQ(values(t), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  NAT_EXPECT_ERROR(a.flatten(2, 1), "[flatten]", "start dim 2", "end dim 1");
  NAT_EXPECT_ERROR(a.flatten(0, 4), "[flatten]", "dim 4");
}

TEST(CoreTensorViews, AsStridedReadsTheGivenElements) {
  Tensor a = iota({10});
  Tensor w = a.as_strided({4, 3}, {2, 1}, 1);  // overlapping windows [1,2,3], [3,4,5], ...
  EXPECT_EQ(values(w), (std::vector<float>{1, 2, 3, 3, 4, 5, 5, 6, 7, 7, 8, 9}));
  EXPECT_TRUE(w.shares_storage(a));
  // Bounds are checked against the storage, not the viewed tensor: a slice may look past itself.
  EXPECT_EQ(values(a.slice(0, 0, 2).as_strided({2}, {9}, 0)), (std::vector<float>{0, 9}));
  EXPECT_EQ(a.as_strided({0, 3}, {100, 100}, 10).numel(), 0);
}

TEST(CoreTensorViews, AsStridedBoundsCheck) {
  Tensor a = iota({10});
  NAT_EXPECT_ERROR(a.as_strided({4, 3}, {2, 1}, 2), "[as_strided]", "[4, 3]", "[2, 1]", "offset 2", "element 10",
                   "holding 10");
  NAT_EXPECT_ERROR(a.as_strided({11}, {1}, 0), "[as_strided]", "element 10");
  NAT_EXPECT_ERROR(a.as_strided({2}, {1}, 10), "[as_strided]", "offset 10");
  NAT_EXPECT_ERROR(a.as_strided({2}, {1}, -1), "[as_strided]", "offset -1");
  NAT_EXPECT_ERROR(a.as_strided({2, 2}, {1}, 0), "[as_strided]", "differ in length");
  NAT_EXPECT_ERROR(a.as_strided({2}, {-1}, 5), "[as_strided]", "negative");
}

TEST(CoreTensorCopies, ContiguousReturnsSelfOrACopy) {
  Tensor a = iota({2, 3});
  Tensor c = a.contiguous();
  EXPECT_EQ(c.impl_ptr(), a.impl_ptr());
  Tensor t = a.transpose(0, 1);
  Tensor tc = t.contiguous();
  EXPECT_FALSE(tc.shares_storage(a));
  EXPECT_TRUE(tc.is_contiguous());
  EXPECT_EQ(tc.strides(), (Shape{2, 1}));
  EXPECT_EQ(values(tc), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  // Size-1 dims with odd strides are still contiguous.
  EXPECT_TRUE(a.as_strided({2, 1, 3}, {3, 77, 1}, 0).is_contiguous());
}

TEST(CoreTensorCopies, CloneIsIndependent) {
  Tensor a = iota({2, 3});
  Tensor c = a.clone();
  EXPECT_FALSE(c.shares_storage(a));
  c.fill_(5);
  EXPECT_EQ(values(a), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  Tensor s = a.slice(1, 1, 3).clone();
  EXPECT_EQ(s.offset(), 0);
  EXPECT_EQ(values(s), (std::vector<float>{1, 2, 4, 5}));
}

TEST(CoreTensorCopies, CopyBroadcastsTheSource) {
  Tensor dst = testing::poisoned({2, 3}, DType::f32, Device::cpu());
  dst.copy_(Tensor::from_vector<float>({7, 8, 9}, {3}));
  EXPECT_EQ(values(dst), (std::vector<float>{7, 8, 9, 7, 8, 9}));
  dst.copy_(Tensor::from_vector<float>({1, 2}, {2, 1}));
  EXPECT_EQ(values(dst), (std::vector<float>{1, 1, 1, 2, 2, 2}));
  dst.copy_(Tensor::scalar(-3));
  EXPECT_EQ(values(dst), (std::vector<float>(6, -3.0f)));
}

TEST(CoreTensorCopies, CopyConvertsDTypes) {
  Tensor dst = testing::poisoned({4}, DType::i32, Device::cpu());
  dst.copy_(Tensor::from_vector<float>({1.9f, -1.9f, 3e9f, NAN}, {4}));
  EXPECT_EQ(dst.to_vector<int32_t>(), (std::vector<int32_t>{1, -1, 2147483647, 0}));
  Tensor h = testing::poisoned({2, 2}, DType::bf16, Device::cpu());
  h.copy_(Tensor::from_vector<double>({1.0, 3.0}, {2}));  // broadcast and convert at once
  EXPECT_EQ(h.to_double_vector(), (std::vector<double>{1, 3, 1, 3}));
}

TEST(CoreTensorCopies, CopyIntoNonContiguousDestination) {
  Tensor base = Tensor::zeros({3, 4});
  Tensor cols = base.slice(1, 0, 4, 2);  // columns 0 and 2
  cols.copy_(Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2}));
  EXPECT_EQ(values(base), (std::vector<float>{1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0}));
  Tensor t = Tensor::zeros({2, 3});
  t.transpose(0, 1).copy_(iota({3, 2}));  // t^T = [[0,1],[2,3],[4,5]]
  EXPECT_EQ(values(t), (std::vector<float>{0, 2, 4, 1, 3, 5}));
}

TEST(CoreTensorCopies, CopyFromStridedSourceOfAnotherDType) {
  Tensor src = iota({3, 4}).to(DType::f64).slice(1, 1, 4, 2);  // [[1,3],[5,7],[9,11]]
  Tensor dst = testing::poisoned({3, 2}, DType::u8, Device::cpu());
  dst.copy_(src);
  EXPECT_EQ(dst.to_vector<uint8_t>(), (std::vector<uint8_t>{1, 3, 5, 7, 9, 11}));
}

TEST(CoreTensorCopies, CopyShapeErrorsNameBothShapes) {
  Tensor dst = Tensor::zeros({2, 3});
  NAT_EXPECT_ERROR(dst.copy_(Tensor::zeros({3, 2})), "[copy_]", "[3, 2]", "[2, 3]");
  NAT_EXPECT_ERROR(dst.copy_(Tensor::zeros({1, 2, 3})), "[copy_]", "[1, 2, 3]", "[2, 3]");
  NAT_EXPECT_ERROR(dst.copy_(Tensor()), "[copy_]", "undefined");
}

TEST(CoreTensorCopies, FillOnNonContiguousViewsTouchesOnlyTheView) {
  Tensor base = iota({4, 5});
  base.slice(1, 1, 5, 2).fill_(-1);  // columns 1 and 3
  base.select(0, 2).fill_(9);
  std::vector<float> v = values(base);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 5; ++c) {
      float expected = r == 2 ? 9.0f : (c == 1 || c == 3) ? -1.0f : static_cast<float>(r * 5 + c);
      EXPECT_EQ(v[r * 5 + c], expected) << "at (" << r << ", " << c << ")";
    }
  Tensor t = iota({3, 2}).transpose(0, 1);
  t.fill_(2.5);
  EXPECT_EQ(values(t), (std::vector<float>(6, 2.5f)));
  Tensor i = Tensor::zeros({3}, DType::i64);
  i.fill_(-7.9);
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{-7, -7, -7}));
  EXPECT_EQ(Tensor::empty({0, 3}).fill_(1).numel(), 0);
}

TEST(CoreTensorAccess, ItemNeedsOneElement) {
  EXPECT_EQ(iota({1, 1, 1}).item(), 0.0);
  EXPECT_EQ(Tensor::full({1}, 42, DType::u8).item(), 42.0);
  EXPECT_EQ(iota({3, 4}).select(0, 2).select(0, 1).item(), 9.0);
  NAT_EXPECT_ERROR(iota({2}).item(), "[item]", "one element", "[2]");
  NAT_EXPECT_ERROR(Tensor::empty({0}).item(), "[item]", "[0]");
}

TEST(CoreTensorAccess, ToVectorFollowsLogicalOrder) {
  Tensor t = Tensor::from_vector<int64_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.transpose(0, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(t.to_double_vector(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  NAT_EXPECT_ERROR(t.to_vector<float>(), "[to_vector]", "i64", "f32");
  NAT_EXPECT_ERROR(t.data<int32_t>(), "[data]", "i64", "i32");
}

TEST(CoreTensorAccess, FromVectorChecksTheCount) {
  NAT_EXPECT_ERROR(Tensor::from_vector<float>({1, 2, 3}, {2, 2}), "[from_vector]", "3 values", "[2, 2]", "4 elements");
  NAT_EXPECT_ERROR(Tensor::from_vector<float>({}, {1}), "[from_vector]", "0 values");
  Tensor t = Tensor::from_vector<uint8_t>({250, 251}, {2});
  EXPECT_EQ(t.dtype(), DType::u8);
  EXPECT_EQ(t.to_vector<uint8_t>(), (std::vector<uint8_t>{250, 251}));
}

TEST(CoreTensorAccess, UndefinedTensorUseIsAnError) {
  Tensor u;
  EXPECT_FALSE(u.defined());
  NAT_EXPECT_ERROR(u.shape(), "undefined tensor");
  NAT_EXPECT_ERROR(u.view({1}), "undefined tensor");
}

TEST(CoreTensorFactories, NegativeSizesAreRejected) {
  NAT_EXPECT_ERROR(Tensor::empty({2, -1}), "[empty]", "[2, -1]");
  NAT_EXPECT_ERROR(Tensor::arange(-1), "[arange]", "-1");
}

}  // namespace
}  // namespace nat
