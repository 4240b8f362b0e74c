// safetensors: round trips of every dtype with metadata, the byte layout of the format, hand-made
// malicious headers (each rejected with a nat::Error naming the problem), and randomized corruption
// (truncation, byte flips, header-length edits) that must end in a clean nat::Error or a valid parse.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "core/rng.h"
#include "nn/safetensors.h"
#include "support/expect_error.h"
#include "support/test_util.h"

using namespace nat;
using nn::parse_safetensors;
using nn::serialize_safetensors;

namespace {

// A file image: 8-byte little-endian header length, the header text, then `data`.
std::vector<uint8_t> image(const std::string& header, const std::vector<uint8_t>& data = {}) {
  std::vector<uint8_t> out(8 + header.size() + data.size());
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  if (!data.empty()) std::memcpy(out.data() + 8 + header.size(), data.data(), data.size());
  return out;
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  return nat::testing::error_message([&] { parse_safetensors(bytes.data(), bytes.size(), "test.safetensors"); });
}

std::vector<std::pair<std::string, Tensor>> sample_tensors() {
  Generator g(7);
  return {
      {"f32", rand({2, 3}, DType::f32, Device::cpu(), &g)},
      {"f64", rand({4}, DType::f64, Device::cpu(), &g)},
      {"bf16", rand({3, 1, 2}, DType::f32, Device::cpu(), &g).to(DType::bf16)},
      {"f16", rand({5}, DType::f32, Device::cpu(), &g).to(DType::f16)},
      {"i64", Tensor::from_vector<int64_t>({-1, 0, 1LL << 40}, {3})},
      {"i32", Tensor::from_vector<int32_t>({7, -7}, {2})},
      {"u8", Tensor::from_vector<uint8_t>({0, 255, 3}, {3})},
      {"scalar", Tensor::scalar(2.5)},
      {"empty", Tensor::zeros({0, 4})},
      {"levels.0.blocks.1.attn.rpb", rand({2, 13, 13}, DType::f32, Device::cpu(), &g)},
  };
}

}  // namespace

TEST(NnSafetensors, RoundTripsEveryDtypeWithMetadata) {
  auto tensors = sample_tensors();
  std::map<std::string, std::string> meta = {{"format", "pt"}, {"model", "nat_mini"}, {"empty", ""}};
  std::vector<uint8_t> bytes = serialize_safetensors(tensors, meta);
  nn::TensorFile f = parse_safetensors(bytes.data(), bytes.size(), "mem");
  EXPECT_EQ(f.metadata, meta);
  ASSERT_EQ(f.tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(f.tensors[i].first, tensors[i].first) << "file order must follow the data offsets";
    const Tensor& a = tensors[i].second;
    const Tensor& b = f.tensors[i].second;
    EXPECT_EQ(a.dtype(), b.dtype()) << tensors[i].first;
    EXPECT_EQ(a.shape(), b.shape()) << tensors[i].first;
    ASSERT_EQ(a.nbytes(), b.nbytes());
    if (a.nbytes() > 0)  // empty tensors have no storage pointer (memcmp on null is undefined)
      EXPECT_EQ(0, std::memcmp(a.contiguous().data_ptr(), b.data_ptr(), a.nbytes())) << tensors[i].first;
  }
  EXPECT_NE(f.find("u8"), nullptr);
  EXPECT_EQ(f.find("nope"), nullptr);
  NAT_EXPECT_ERROR(f.at("nope", "x.safetensors"), "x.safetensors", "nope");
}

TEST(NnSafetensors, LayoutIsLittleEndianLengthJsonAndAlignedData) {
  Tensor t = Tensor::from_vector<float>({1.f, 2.f}, {2});
  std::vector<uint8_t> bytes = serialize_safetensors({{"w", t}});
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u) << "the data buffer must start 8-byte aligned";
  std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<int64_t>(n));
  EXPECT_NE(header.find("\"dtype\":\"F32\""), std::string::npos) << header;
  EXPECT_NE(header.find("\"data_offsets\":[0,8]"), std::string::npos) << header;
  EXPECT_EQ(bytes.size(), 8 + n + 8);
  float v[2];
  std::memcpy(v, bytes.data() + 8 + n, 8);
  EXPECT_EQ(v[0], 1.f);
  EXPECT_EQ(v[1], 2.f);
}

TEST(NnSafetensors, NonContiguousTensorsAreWrittenInLogicalOrder) {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}).transpose(0, 1);  // [[1,4],[2,5],[3,6]]
  std::vector<uint8_t> bytes = serialize_safetensors({{"t", t}});
  nn::TensorFile f = parse_safetensors(bytes.data(), bytes.size(), "mem");
  EXPECT_EQ(f.at("t", "mem").to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(NnSafetensors, WriterRejectsDuplicateAndReservedNames) {
  Tensor t = Tensor::zeros({1});
  NAT_EXPECT_ERROR(serialize_safetensors({{"a", t}, {"a", t}}), "duplicate", "'a'");
  NAT_EXPECT_ERROR(serialize_safetensors({{"__metadata__", t}}), "reserved");
}

TEST(NnSafetensors, FileRoundTripAndMissingFile) {
  std::string path = ::testing::TempDir() + "nn_safetensors_roundtrip.safetensors";
  auto tensors = sample_tensors();
  nn::save_safetensors(path, tensors, {{"k", "v"}});
  nn::TensorFile f = nn::load_safetensors(path);
  EXPECT_EQ(f.tensors.size(), tensors.size());
  EXPECT_EQ(f.metadata.at("k"), "v");
  NAT_EXPECT_ERROR(nn::load_safetensors(path + ".does-not-exist"), "cannot open", "does-not-exist");
  NAT_EXPECT_ERROR(nn::load_safetensors(::testing::TempDir()), "not a regular file");
}

// A full disk during a checkpoint write: the error carries errno's text, the temporary goes, and the file
// that was there before is untouched (the .tmp is made a link to /dev/full, where every write fails).
TEST(NnSafetensors, FailedAtomicWriteKeepsTheOldFileAndRemovesTheTemporary) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(::testing::TempDir()) / "nat_atomic_write";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "last.safetensors").string();
  nn::write_file_atomic(path, {1, 2, 3});
  fs::create_symlink("/dev/full", path + ".tmp");
  NAT_EXPECT_ERROR(nn::write_file_atomic(path, std::vector<uint8_t>(1 << 16, 7)), "last.safetensors.tmp",
                   "No space left on device");
  EXPECT_FALSE(fs::exists(fs::symlink_status(path + ".tmp")));
  EXPECT_EQ(fs::file_size(path), 3u);
  fs::remove_all(dir);
}

TEST(NnSafetensors, RejectsMalformedHeaders) {
  std::vector<uint8_t> four(4, 0);
  struct Case {
    std::vector<uint8_t> bytes;
    const char* expect;
  };
  std::vector<uint8_t> huge(16, 0);
  uint64_t big = 1ull << 40;
  std::memcpy(huge.data(), &big, 8);
  std::vector<uint8_t> past = image("{}");
  past[0] = 200;  // header length 200 in a 10-byte file
  std::vector<Case> cases = {
      {{1, 2, 3}, "too short"},
      {huge, "exceeds the 100 MB limit"},
      {past, "runs past the end"},
      {image("[1, 2]"), "does not start with '{'"},
      {image("{\"a\": "), "not valid JSON"},
      {image("{\"a\": 5}"), "entry must be an object"},
      {image("{\"a\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", four), "missing string field 'dtype'"},
      {image("{\"a\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", four), "missing array field 'shape'"},
      {image("{\"a\": {\"dtype\": \"F32\", \"shape\": [1]}}", four), "'data_offsets' must be [begin, end]"},
      {image("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", four), "[begin, end]"},
      {image("{\"a\": {\"dtype\": \"Q4\", \"shape\": [1], \"data_offsets\": [0, 4]}}", four), "unsupported dtype 'Q4'"},
      {image("{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", four),
       "non-negative integers"},
      {image("{\"a\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", four),
       "non-negative integers"},
      {image("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 4]}}", four),
       "non-negative integers"},
      {image("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 8]}}", four), "fall outside"},
      {image("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}", four), "fall outside"},
      {image("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}", four), "needs 8"},
      {image("{\"a\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}", four),
       "more than 8 dims"},
      // 2^61 f64 elements: 2^64 bytes, which wraps to 0 in 64-bit arithmetic.
      {image("{\"a\": {\"dtype\": \"F64\", \"shape\": [2305843009213693952], \"data_offsets\": [0, 0]}}"),
       "shape is too large"},
      {image("{\"a\": {\"dtype\": \"U8\", \"shape\": [0, 9223372036854775808], \"data_offsets\": [0, 0]}}"),
       "shape is too large"},
      {image("{\"a\": {\"dtype\": \"U8\", \"shape\": [4294967296, 4294967296], \"data_offsets\": [0, 0]}}"),
       "shape is too large"},
      {image("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
             " \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}",
             four),
       "overlaps"},
      {image("{\"a\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [2, 4]}}", four), "a gap of 2 bytes"},
      {image("{\"a\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [0, 2]}}", four), "2 trailing bytes"},
      {image("{\"__metadata__\": [\"x\"]}"), "__metadata__ must be an object"},
      {image("{\"__metadata__\": {\"k\": 1}}"), "is not a string"},
      {image("{\"a\": {\"dtype\": \"F32\", \"shape\": [[[[[1]]]]], \"data_offsets\": [0, 4]}}", four),
       "nesting deeper"},
  };
  for (const auto& c : cases) {
    std::string msg = parse_error(c.bytes);
    EXPECT_NE(msg.find(c.expect), std::string::npos) << "expected \"" << c.expect << "\", got \"" << msg << "\"";
    EXPECT_NE(msg.find("test.safetensors"), std::string::npos) << "errors name the file: " << msg;
  }
}

TEST(NnSafetensors, EveryTruncationIsACleanError) {
  std::vector<uint8_t> bytes = serialize_safetensors(sample_tensors(), {{"m", "v"}});
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<int64_t>(len));
    try {
      parse_safetensors(cut.data(), cut.size(), "cut");
      ADD_FAILURE() << "a file truncated to " << len << " of " << bytes.size() << " bytes parsed";
    } catch (const nat::Error&) {
    }
  }
}

// Random byte flips, insertions, deletions and header-length edits: every outcome must be a clean
// nat::Error or a successful parse whose tensors stay within the input (never another exception or a crash;
// run under NAT_SANITIZE=ON to also catch out-of-bounds reads).
TEST(NnSafetensors, RandomizedCorruptionNeverCrashes) {
  std::vector<uint8_t> base = serialize_safetensors(sample_tensors(), {{"m", "v"}});
  std::mt19937_64 rng(2024);
  int parsed = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> b = base;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % b.size();
      switch (rng() % 5) {
        case 0:
          b[pos] = static_cast<uint8_t>(rng());
          break;  // random byte
        case 1:
          b[pos] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;  // bit flip
        case 2:
          b.erase(b.begin() + static_cast<int64_t>(pos));
          break;  // deletion
        case 3:
          b.insert(b.begin() + static_cast<int64_t>(pos), static_cast<uint8_t>(rng()));
          break;
        case 4: {  // a digit in the header changed: offsets and shapes become inconsistent
          size_t hpos = 8 + rng() % (b.size() > 9 ? std::min<size_t>(b.size() - 8, 400) : 1);
          if (hpos < b.size() && b[hpos] >= '0' && b[hpos] <= '9') b[hpos] = static_cast<uint8_t>('0' + rng() % 10);
          break;
        }
      }
      if (b.empty()) b.push_back(0);
    }
    try {
      nn::TensorFile f = parse_safetensors(b.data(), b.size(), "fuzz");
      size_t total = 0;
      for (const auto& [n, t] : f.tensors) total += t.nbytes();
      EXPECT_LE(total, b.size());
      ++parsed;
    } catch (const nat::Error&) {
      ++rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "iteration " << iter << ": a non-nat::Error exception escaped: " << e.what();
    }
  }
  EXPECT_GT(rejected, 2000) << "most corruptions must be detected";
  RecordProperty("parsed", parsed);
}
