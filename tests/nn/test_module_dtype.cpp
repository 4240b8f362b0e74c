// load_state_dict and dtypes: a stored dtype that does not convert losslessly to the model's (I32 bytes
// for an F32 weight, F64 for F32, F32 for BF16) is refused with the key and both dtypes named, from a
// state dict and from a safetensors file; lossless widenings (f16/bf16 -> f32/f64, f32 -> f64, i32 -> i64)
// load exactly.
#include <gtest/gtest.h>

#include "nn/module.h"
#include "nn/safetensors.h"
#include "support/expect_error.h"
#include "support/test_util.h"

using namespace nat;
using namespace nat::nn;

namespace {

class Net : public Module {
 public:
  explicit Net(DType weight = DType::f32) : Module("Net") {
    w = register_parameter("w", Tensor::full({2, 2}, 0.25, weight));
    count = register_buffer("count", Tensor::zeros({1}, DType::i64));
  }
  Tensor w, count;
};

NamedTensors dict(const Tensor& w, const Tensor& count = Tensor::from_vector<int64_t>({3}, {1})) {
  return {{"w", w}, {"count", count}};
}

}  // namespace

TEST(NnModuleDtype, IntegerDataForAFloatWeightIsRefusedNamingKeyAndDtypes) {
  Net net;
  Tensor i32 = Tensor::from_vector<int32_t>({1065353216, 2, 3, 4}, {2, 2});
  NAT_EXPECT_ERROR(net.load_state_dict(dict(i32)), "dtype mismatches (1", "w: checkpoint i32, model f32");
  NAT_EXPECT_ERROR(net.load_state_dict(dict(i32), /*strict=*/false), "w: checkpoint i32, model f32");
  EXPECT_EQ(net.w.to_vector<float>()[0], 0.25f) << "a refused load must not modify the module";
  // Float data for an integer buffer is refused the same way.
  NAT_EXPECT_ERROR(net.load_state_dict(dict(Tensor::ones({2, 2}), Tensor::ones({1}))),
                   "count: checkpoint f32, model i64");
}

TEST(NnModuleDtype, NarrowingFloatsIsRefused) {
  Net net;
  NAT_EXPECT_ERROR(net.load_state_dict(dict(Tensor::ones({2, 2}, DType::f64))), "w: checkpoint f64, model f32");
  Net half(DType::bf16);
  NAT_EXPECT_ERROR(half.load_state_dict(dict(Tensor::ones({2, 2}))), "w: checkpoint f32, model bf16");
  Net f16(DType::f16);
  NAT_EXPECT_ERROR(f16.load_state_dict(dict(Tensor::ones({2, 2}, DType::bf16))), "w: checkpoint bf16, model f16");
}

TEST(NnModuleDtype, LosslessWideningsLoadExactly) {
  Tensor src = Tensor::from_vector<float>({0.5f, -1.25f, 3.0f, 1e-3f}, {2, 2});
  for (DType stored : {DType::f16, DType::bf16}) {
    Tensor s = src.to(stored);
    Net f32;
    f32.load_state_dict(dict(s, Tensor::from_vector<int32_t>({7}, {1})));  // i32 -> i64 too
    EXPECT_EQ(f32.w.dtype(), DType::f32);
    EXPECT_EQ(nat::testing::max_abs_diff(f32.w, s), 0.0) << dtype_name(stored);
    EXPECT_EQ(f32.count.to_vector<int64_t>()[0], 7);
    Net f64(DType::f64);
    f64.load_state_dict(dict(s));
    EXPECT_EQ(nat::testing::max_abs_diff(f64.w, s), 0.0) << dtype_name(stored);
  }
  Net f64(DType::f64);
  f64.load_state_dict(dict(src));
  EXPECT_EQ(f64.w.dtype(), DType::f64);
  EXPECT_EQ(nat::testing::max_abs_diff(f64.w, src), 0.0);
}

// The probe's case: a checkpoint file whose weight is stored as I32 (eval loss 6.8e9 once cast).
TEST(NnModuleDtype, CheckpointFileWithI32WeightIsRefusedNamingTheFile) {
  std::string path = ::testing::TempDir() + "nn_module_dtype_i32.safetensors";
  save_safetensors(path, dict(Tensor::from_vector<int32_t>({1, 2, 3, 4}, {2, 2})));
  Net net;
  NAT_EXPECT_ERROR(load_state_dict(net, path), path.c_str(), "w: checkpoint i32, model f32");
  save_safetensors(path, dict(Tensor::ones({2, 2}, DType::bf16)));
  load_state_dict(net, path);
  EXPECT_EQ(net.w.to_vector<float>()[3], 1.0f);
}
