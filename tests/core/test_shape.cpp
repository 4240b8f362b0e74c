// Shape arithmetic: NumPy broadcasting, dim normalisation, contiguous strides and PyTorch's
// view-stride rule (a reshape is a view exactly when every chunk of contiguous dims maps onto new dims).
#include <gtest/gtest.h>

#include "core/shape.h"
#include "support/expect_error.h"

namespace nat {
namespace {

TEST(CoreShape, NumelIsProductAndOneForScalars) {
  EXPECT_EQ(numel({}), 1);
  EXPECT_EQ(numel({2, 3, 4}), 24);
  EXPECT_EQ(numel({5, 0, 7}), 0);
}

TEST(CoreShape, ShapeStrFormatsBrackets) {
  EXPECT_EQ(shape_str({}), "[]");
  EXPECT_EQ(shape_str({7}), "[7]");
  EXPECT_EQ(shape_str({2, 3, 4}), "[2, 3, 4]");
}

TEST(CoreShape, ContiguousStridesAreRowMajor) {
  EXPECT_EQ(contiguous_strides({}), Shape{});
  EXPECT_EQ(contiguous_strides({5}), (Shape{1}));
  EXPECT_EQ(contiguous_strides({2, 3, 4}), (Shape{12, 4, 1}));
  EXPECT_EQ(contiguous_strides({4, 1, 3}), (Shape{3, 3, 1}));
  // A zero-size dim must not zero the strides of the dims before it (PyTorch does the same).
  EXPECT_EQ(contiguous_strides({2, 0, 3}), (Shape{3, 3, 1}));
}

TEST(CoreShape, NormalizeDimWrapsNegatives) {
  EXPECT_EQ(normalize_dim(0, 3, "t"), 0);
  EXPECT_EQ(normalize_dim(2, 3, "t"), 2);
  EXPECT_EQ(normalize_dim(-1, 3, "t"), 2);
  EXPECT_EQ(normalize_dim(-3, 3, "t"), 0);
  // A 0-dim tensor accepts dim 0 and -1, as in PyTorch.
  EXPECT_EQ(normalize_dim(0, 0, "t"), 0);
  EXPECT_EQ(normalize_dim(-1, 0, "t"), 0);
}

TEST(CoreShape, NormalizeDimOutOfRangeNamesOpAndRange) {
  NAT_EXPECT_ERROR(normalize_dim(3, 3, "softmax"), "[softmax]", "dim 3", "3 dims", "-3..2");
  NAT_EXPECT_ERROR(normalize_dim(-4, 3, "softmax"), "[softmax]", "dim -4");
  NAT_EXPECT_ERROR(normalize_dim(1, 0, "sum"), "[sum]", "dim 1");
  NAT_EXPECT_ERROR(normalize_dim(-2, 0, "sum"), "[sum]", "dim -2");
}

TEST(CoreShapeBroadcast, EqualShapes) { EXPECT_EQ(broadcast_shapes({2, 3}, {2, 3}), (Shape{2, 3})); }

TEST(CoreShapeBroadcast, ScalarBroadcastsToAnything) {
  EXPECT_EQ(broadcast_shapes({}, {}), Shape{});
  EXPECT_EQ(broadcast_shapes({}, {4, 5}), (Shape{4, 5}));
  EXPECT_EQ(broadcast_shapes({4, 5}, {}), (Shape{4, 5}));
}

TEST(CoreShapeBroadcast, OnesStretchInEitherOperand) {
  EXPECT_EQ(broadcast_shapes({2, 1, 4}, {1, 3, 1}), (Shape{2, 3, 4}));
  EXPECT_EQ(broadcast_shapes({1, 3, 1}, {2, 1, 4}), (Shape{2, 3, 4}));
  EXPECT_EQ(broadcast_shapes({1}, {7}), (Shape{7}));
}

TEST(CoreShapeBroadcast, MissingLeadingDimsCountAsOne) {
  EXPECT_EQ(broadcast_shapes({8, 1, 6, 1}, {7, 1, 5}), (Shape{8, 7, 6, 5}));  // the NumPy docs example
  EXPECT_EQ(broadcast_shapes({5}, {3, 4, 5}), (Shape{3, 4, 5}));
  EXPECT_EQ(broadcast_shapes({3, 4, 5}, {4, 1}), (Shape{3, 4, 5}));
}

TEST(CoreShapeBroadcast, ZeroSizeDims) {
  EXPECT_EQ(broadcast_shapes({0}, {1}), (Shape{0}));
  EXPECT_EQ(broadcast_shapes({1}, {0}), (Shape{0}));
  EXPECT_EQ(broadcast_shapes({2, 0}, {2, 1}), (Shape{2, 0}));
  NAT_EXPECT_ERROR(broadcast_shapes({0}, {3}), "[broadcast]", "[0]", "[3]");
}

TEST(CoreShapeBroadcast, MismatchThrowsNamingBothShapesAndDim) {
  NAT_EXPECT_ERROR(broadcast_shapes({2, 3}, {3, 2}), "[broadcast]", "[2, 3]", "[3, 2]", "not broadcastable");
  NAT_EXPECT_ERROR(broadcast_shapes({8, 4, 3}, {2, 1}), "[broadcast]", "[8, 4, 3]", "[2, 1]", "dim 1", "4 vs 2");
}

TEST(CoreShapeBroadcast, IsBroadcastableToIsOneDirectional) {
  EXPECT_TRUE(is_broadcastable_to({}, {2, 3}));
  EXPECT_TRUE(is_broadcastable_to({3}, {2, 3}));
  EXPECT_TRUE(is_broadcastable_to({1, 3}, {2, 3}));
  EXPECT_TRUE(is_broadcastable_to({2, 1}, {2, 3}));
  EXPECT_TRUE(is_broadcastable_to({1}, {0}));
  EXPECT_FALSE(is_broadcastable_to({2, 3}, {3}));     // more dims than the target
  EXPECT_FALSE(is_broadcastable_to({2, 3}, {1, 3}));  // the target's 1 does not stretch
  EXPECT_FALSE(is_broadcastable_to({4}, {2, 3}));
}

// compute_view_strides wrapper: the strides, or an empty optional-like {-999} when a copy is needed.
Shape view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape) {
  Shape out;
  if (!compute_view_strides(shape, strides, new_shape, out)) return {-999};
  return out;
}

TEST(CoreShapeViewStrides, ContiguousReshapesAreAlwaysViews) {
  EXPECT_EQ(view_strides({2, 3, 4}, {12, 4, 1}, {6, 4}), (Shape{4, 1}));
  EXPECT_EQ(view_strides({2, 3, 4}, {12, 4, 1}, {24}), (Shape{1}));
  EXPECT_EQ(view_strides({24}, {1}, {2, 3, 4}), (Shape{12, 4, 1}));
  EXPECT_EQ(view_strides({2, 3, 4}, {12, 4, 1}, {4, 3, 2}), (Shape{6, 2, 1}));
}

TEST(CoreShapeViewStrides, KeepsAnOffsetBaseStride) {
  // Every other element of a 12-vector, viewed as 2 x 3: strides scale by the base stride 2.
  EXPECT_EQ(view_strides({6}, {2}, {2, 3}), (Shape{6, 2}));
}

TEST(CoreShapeViewStrides, TransposedCannotMergeButCanSplitWithinAChunk) {
  // (3, 4) transposed to (4, 3) with strides (1, 4): merging the two dims needs a copy.
  EXPECT_EQ(view_strides({4, 3}, {1, 4}, {12}), (Shape{-999}));
  // Splitting the first dim alone stays a view.
  EXPECT_EQ(view_strides({4, 3}, {1, 4}, {2, 2, 3}), (Shape{2, 1, 4}));
  EXPECT_EQ(view_strides({4, 3}, {1, 4}, {4, 3, 1}), (Shape{1, 4, 4}));
}

TEST(CoreShapeViewStrides, SizeOneDimsAreFree) {
  EXPECT_EQ(view_strides({2, 1, 3}, {3, 3, 1}, {2, 3}), (Shape{3, 1}));
  EXPECT_EQ(view_strides({2, 3}, {3, 1}, {1, 2, 1, 3, 1}), (Shape{6, 3, 3, 1, 1}));
  // An inserted size-1 dim with an arbitrary stride does not break merging.
  EXPECT_EQ(view_strides({2, 1, 3}, {3, 100, 1}, {6}), (Shape{1}));
}

TEST(CoreShapeViewStrides, ExpandedDimsOnlyReshapeAlone) {
  // A broadcast (stride-0) dim of size 4 in front of a contiguous 3.
  EXPECT_EQ(view_strides({4, 3}, {0, 1}, {12}), (Shape{-999}));
  EXPECT_EQ(view_strides({4, 3}, {0, 1}, {2, 2, 3}), (Shape{0, 0, 1}));
}

TEST(CoreShapeViewStrides, SlicedRowsNeedACopyToFlatten) {
  // Columns 0..1 of a (3, 4) matrix: shape (3, 2), strides (4, 1).
  EXPECT_EQ(view_strides({3, 2}, {4, 1}, {6}), (Shape{-999}));
  EXPECT_EQ(view_strides({3, 2}, {4, 1}, {3, 2, 1}), (Shape{4, 1, 1}));
}

TEST(CoreShapeViewStrides, EmptyTensorsGetContiguousStrides) {
  EXPECT_EQ(view_strides({0, 3}, {1, 7}, {3, 0}), (Shape{1, 1}));
  EXPECT_EQ(view_strides({0, 3}, {1, 7}, {0}), (Shape{1}));
}

}  // namespace
}  // namespace nat
