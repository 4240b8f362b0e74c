// Fuzz test of the safetensors reader: a seeded mutation loop (no libFuzzer needed) over a corpus of valid
// files written here (every dtype, empty tensors, metadata) and hostile ones (lengths past the end, bad
// offsets, bad JSON, overflowing shapes, duplicate keys, deep nesting), mutated by byte flips, truncation,
// splicing, integer-field and header-length edits. Every input must load or throw nat::Error, and the heap
// the reader takes stays proportional to the input. This file replaces the global operator new to count
// (and, on request, fail) allocations. NAT_FUZZ_ITERS and NAT_FUZZ_SEED set the number of mutated
// inputs (100,000) and their seed.
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "core/rng.h"
#include "nn/safetensors.h"
#include "support/expect_error.h"

// ---- counting allocator: live and peak bytes of operator new, and a one-shot injected failure ----
namespace {
std::atomic<size_t> g_live{0}, g_peak{0};
std::atomic<long> g_fail_countdown{0};  // > 0: the allocation that brings it to 0 throws std::bad_alloc

void* counted_new(size_t n) {
  if (g_fail_countdown.load(std::memory_order_relaxed) > 0 && --g_fail_countdown == 0) throw std::bad_alloc();
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  size_t now = g_live += malloc_usable_size(p);
  size_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
  return p;
}

void counted_delete(void* p) noexcept {
  if (!p) return;
  g_live -= malloc_usable_size(p);
  std::free(p);
}
}  // namespace

void* operator new(size_t n) { return counted_new(n); }
void* operator new[](size_t n) { return counted_new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { counted_delete(p); }
void operator delete[](void* p) noexcept { counted_delete(p); }
void operator delete(void* p, size_t) noexcept { counted_delete(p); }
void operator delete[](void* p, size_t) noexcept { counted_delete(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counted_delete(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_delete(p); }

using namespace nat;
using nn::parse_safetensors;
using nn::serialize_safetensors;
using Bytes = std::vector<uint8_t>;

namespace {

Bytes image(const std::string& header, const Bytes& data = {}) {
  Bytes out(8 + header.size() + data.size());
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  if (!data.empty()) std::memcpy(out.data() + 8 + header.size(), data.data(), data.size());
  return out;
}

std::string entry(const std::string& dtype, const std::string& shape, uint64_t begin, uint64_t end) {
  return "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + std::to_string(begin) + "," +
         std::to_string(end) + "]}";
}

// Valid files: each dtype, scalars, empty tensors (also sharing an offset with the next tensor and named
// after it), metadata only, nothing at all.
std::vector<Bytes> valid_seeds() {
  Generator g(11);
  std::vector<Bytes> out;
  out.push_back(serialize_safetensors({{"w", rand({2, 3}, DType::f32, Device::cpu(), &g)},
                                       {"b", rand({3}, DType::f64, Device::cpu(), &g)},
                                       {"h", rand({2, 2}, DType::f32, Device::cpu(), &g).to(DType::f16)},
                                       {"bf", rand({1, 2, 1}, DType::f32, Device::cpu(), &g).to(DType::bf16)}},
                                      {{"format", "pt"}, {"step", "12"}}));
  out.push_back(serialize_safetensors({{"i64", Tensor::from_vector<int64_t>({-1, 1LL << 40}, {2})},
                                       {"i32", Tensor::from_vector<int32_t>({7, -7, 0}, {3})},
                                       {"u8", Tensor::from_vector<uint8_t>({0, 255}, {2})},
                                       {"s", Tensor::scalar(2.5)}}));
  out.push_back(serialize_safetensors({{"z_empty", Tensor::zeros({0, 4})},
                                       {"a", Tensor::from_vector<float>({1, 2}, {2})},
                                       {"m_empty", Tensor::zeros({3, 0}, DType::u8)}},
                                      {{"k", ""}}));
  out.push_back(serialize_safetensors({}, {{"only", "metadata"}, {"classes", "[\"a\",\"b\"]"}}));
  out.push_back(serialize_safetensors({}));
  out.push_back(image("{\"__metadata__\":{\"a\":\"b\"},\"x\":" + entry("U8", "[2,2]", 0, 4) + "}", {1, 2, 3, 4}));
  return out;
}

// Hostile files and what the reader must say about each.
struct Hostile {
  Bytes bytes;
  const char* expect;
};

std::vector<Hostile> hostile_seeds() {
  Bytes four(4, 1), eight(8, 2);
  Bytes past = image("{}");
  past[0] = 200;
  Bytes huge_len = image("{}");
  uint64_t big = ~0ull;
  std::memcpy(huge_len.data(), &big, 8);
  std::string deep(200, '[');
  return {
      {past, "runs past the end"},
      {huge_len, "exceeds the 100 MB limit"},
      {image("{\"a\":" + entry("F32", "[1]", 0, 4) + ",\"b\":" + entry("F32", "[1]", 2, 6) + "}", eight), "overlaps"},
      {image("{\"a\":" + entry("F32", "[1]", 0, 4) + ",\"b\":" + entry("F32", "[1]", 8, 12) + "}", eight),
       "fall outside"},
      {image("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]"), "not valid JSON"},
      {image("{\"a\":" + entry("U8", "[9223372036854775807, 9223372036854775807]", 0, 0) + "}"), "too large"},
      {image("{\"a\":" + entry("U8", "[18446744073709551615]", 0, 0) + "}"), "too large"},
      // Empty, yet its strides (which skip the zero) would overflow int64.
      {image("{\"a\":" + entry("U8", "[0, 4294967296, 4294967296]", 0, 0) + "}"), "too large"},
      {image("{\"a\":" + entry("F32", "[2]", 0, 4) + "}", four), "needs 8"},
      {image("{\"a\":" + entry("F32", "[1]", 0, 4) + ",\"a\":" + entry("F32", "[1]", 0, 4) + "}", four),
       "key 'a' twice"},
      {image("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", four),
       "key 'dtype' twice"},
      {image("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}"), "key 'k' twice"},
      {image("{\"a\":" + entry("f32", "[1]", 0, 4) + "}", four), "unsupported dtype 'f32'"},
      {image("{\"a\":" + entry("F32 ", "[1]", 0, 4) + "}", four), "unsupported dtype"},
      {image("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":" + deep + "}}", four),
       "nesting deeper"},
      {image("{\"a\":" + entry("F32", "[1]", 0, 4) + ",\"x\":" + deep + "}", four), "entry must be an object"},
      {image("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0],\"pad\":[0,0,0,0,0,0,0,0,0,0]}}"),
       "more than 8 values"},
      {image("{\"a\":" + entry("F32", "[1.0]", 0, 4) + "}", four), "non-negative integers"},
      {image("{\"__metadata__\":{\"k\":[\"v\"]}}"), "not a string"},
  };
}

std::string parse_error(const Bytes& b) {
  return nat::testing::error_message([&] { parse_safetensors(b.data(), b.size(), "seed.safetensors"); });
}

// What the loop checks of an input that parsed: the tensors are consistent and fit in the input.
void check_parsed(const nn::TensorFile& f, size_t size, long iteration) {
  size_t total = 0;
  for (const auto& [n, t] : f.tensors) {
    ASSERT_TRUE(t.defined()) << "input " << iteration << ": tensor '" << n << "'";
    ASSERT_EQ(t.nbytes(), static_cast<size_t>(t.numel()) * dtype_size(t.dtype())) << "input " << iteration;
    total += t.nbytes();
  }
  ASSERT_LE(total, size) << "input " << iteration << ": tensors larger than the file";
}

// Numbers that sit on the edges of the reader's checks.
const std::vector<std::string>& interesting_numbers() {
  static const std::vector<std::string> v = {"0",
                                             "1",
                                             "2",
                                             "3",
                                             "4",
                                             "7",
                                             "8",
                                             "9",
                                             "16",
                                             "255",
                                             "65536",
                                             "2147483648",
                                             "4294967295",
                                             "4294967296",
                                             "9007199254740993",
                                             "2305843009213693952",
                                             "4611686018427387904",
                                             "9223372036854775807",
                                             "9223372036854775808",
                                             "18446744073709551615",
                                             "18446744073709551616",
                                             "340282366920938463463374607431768211456",
                                             "-1",
                                             "-9223372036854775808",
                                             "1.5",
                                             "1e30",
                                             "1e400",
                                             "-0",
                                             "0.0",
                                             "0x10",
                                             "00",
                                             "[]",
                                             "null",
                                             "\"4\""};
  return v;
}

const std::vector<std::string>& json_tokens() {
  static const std::vector<std::string> v = {"{",
                                             "}",
                                             "[",
                                             "]",
                                             ",",
                                             ":",
                                             "\"",
                                             "\\",
                                             "\"dtype\"",
                                             "\"shape\"",
                                             "\"data_offsets\"",
                                             "\"__metadata__\"",
                                             "\"F32\"",
                                             "\"I32\"",
                                             "\"BF16\"",
                                             "\"U8\"",
                                             "\"F64\"",
                                             "true",
                                             "null",
                                             "\"\\u0000\"",
                                             "\xff",
                                             "\"\\ud800\"",
                                             "[[[[[[",
                                             "{\"a\":{\"b\":{\"c\":{\"d\":{",
                                             ",\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}"};
  return v;
}

// The header's byte range [8, 8 + n) when the length field is plausible, else [8, size).
std::pair<size_t, size_t> header_range(const Bytes& b) {
  if (b.size() < 9) return {b.size(), b.size()};
  uint64_t n = 0;
  std::memcpy(&n, b.data(), 8);
  size_t end = n <= b.size() - 8 ? 8 + static_cast<size_t>(n) : b.size();
  return {8, end};
}

void set_header_length(Bytes& b, uint64_t n) {
  if (b.size() < 8) b.resize(8, 0);
  std::memcpy(b.data(), &n, 8);
}

// One random mutation of `b`; `corpus` supplies splice partners.
void mutate(Bytes& b, const std::vector<Bytes>& corpus, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return n ? static_cast<size_t>(rng() % n) : 0; };
  const auto [hb, he] = header_range(b);
  const size_t old_size = b.size();
  bool header_edit = false;  // the header text changed length: keep the length field in step (mostly)
  switch (rng() % 11) {
    case 0:  // bit flip anywhere
      if (!b.empty()) b[pick(b.size())] ^= static_cast<uint8_t>(1u << (rng() % 8));
      break;
    case 1:  // random byte in the header
      if (he > hb) b[hb + pick(he - hb)] = static_cast<uint8_t>(rng());
      break;
    case 2: {  // delete a short range
      if (b.empty()) break;
      size_t at = pick(b.size()), len = std::min<size_t>(1 + rng() % 8, b.size() - at);
      b.erase(b.begin() + static_cast<long>(at), b.begin() + static_cast<long>(at + len));
      header_edit = at >= hb && at < he;
      break;
    }
    case 3: {  // insert random bytes
      size_t at = pick(b.size() + 1), len = 1 + rng() % 4;
      for (size_t i = 0; i < len; ++i) b.insert(b.begin() + static_cast<long>(at), static_cast<uint8_t>(rng()));
      header_edit = at >= hb && at <= he;
      break;
    }
    case 4:  // truncation
      b.resize(pick(b.size() + 1));
      break;
    case 5: {  // splice: a prefix of this input, a suffix of another
      const Bytes& o = corpus[pick(corpus.size())];
      size_t cut = pick(b.size() + 1), from = pick(o.size() + 1);
      b.resize(cut);
      b.insert(b.end(), o.begin() + static_cast<long>(from), o.end());
      break;
    }
    case 6:
    case 7: {  // an integer field of the header replaced by an edge value
      std::vector<std::pair<size_t, size_t>> runs;
      for (size_t i = hb; i < he;) {
        if (b[i] >= '0' && b[i] <= '9') {
          size_t j = i;
          while (j < he && b[j] >= '0' && b[j] <= '9') ++j;
          runs.emplace_back(i, j);
          i = j;
        } else {
          ++i;
        }
      }
      if (runs.empty()) break;
      auto [s, e] = runs[pick(runs.size())];
      std::string v = rng() % 4 ? interesting_numbers()[pick(interesting_numbers().size())]
                                : std::to_string(b.size() - he + pick(9) - 4);  // near the buffer size
      b.erase(b.begin() + static_cast<long>(s), b.begin() + static_cast<long>(e));
      b.insert(b.begin() + static_cast<long>(s), v.begin(), v.end());
      header_edit = true;
      break;
    }
    case 8: {  // the length field set to an edge value
      uint64_t n = b.size() >= 8 ? b.size() - 8 : 0;
      const uint64_t choices[] = {0, 1, 2, n, n + 1, n - 1, n + 8, 100ull << 20, (100ull << 20) + 1, ~0ull, 1ull << 63};
      set_header_length(b, choices[pick(std::size(choices))]);
      break;
    }
    case 9: {  // a JSON token inserted into the header
      const std::string& t = json_tokens()[pick(json_tokens().size())];
      size_t at = he > hb ? hb + pick(he - hb + 1) : b.size();
      b.insert(b.begin() + static_cast<long>(std::min(at, b.size())), t.begin(), t.end());
      header_edit = true;
      break;
    }
    case 10: {  // a chunk of the header copied elsewhere in it (repeats keys and entries)
      if (he <= hb + 2) break;
      size_t s = hb + pick(he - hb), len = std::min<size_t>(1 + rng() % 64, he - s);
      Bytes chunk(b.begin() + static_cast<long>(s), b.begin() + static_cast<long>(s + len));
      size_t at = hb + pick(he - hb + 1);
      b.insert(b.begin() + static_cast<long>(at), chunk.begin(), chunk.end());
      header_edit = true;
      break;
    }
  }
  // Re-synchronise the length field with the edited header 3 times in 4, so most mutations reach the JSON
  // parser and the offset checks instead of stopping at "runs past the end".
  if (header_edit && b.size() >= 8 && b.size() + (he - hb) >= old_size && rng() % 4)
    set_header_length(b, (he - hb) + b.size() - old_size);
}

// The heap a parse may take: DOM nodes cost a few dozen bytes per header byte at worst (a 2-byte "0,").
constexpr size_t kHeapPerByte = 48, kHeapFixed = 64 << 10;

long fuzz_iterations() {
  const char* env = std::getenv("NAT_FUZZ_ITERS");
  return env ? std::max(1L, std::atol(env)) : 100000;
}

}  // namespace

TEST(NnSafetensorsFuzz, ValidSeedsLoadAndHostileSeedsAreRefusedWithTheirReason) {
  for (const Bytes& b : valid_seeds()) EXPECT_NO_THROW(parse_safetensors(b.data(), b.size(), "seed"));
  for (const Hostile& h : hostile_seeds()) {
    std::string msg = parse_error(h.bytes);
    EXPECT_NE(msg.find(h.expect), std::string::npos) << "expected \"" << h.expect << "\", got \"" << msg << "\"";
    EXPECT_NE(msg.find("seed.safetensors"), std::string::npos) << msg;
  }
}

// The writer's own files with random names, dtypes and shapes (zero dims included) must read back exactly:
// an empty tensor whose name sorts after the tensor it shares an offset with once made this fail.
TEST(NnSafetensorsFuzz, RandomWrittenFilesReadBackExactly) {
  std::mt19937_64 rng(7);
  const DType dtypes[] = {DType::f32, DType::f64, DType::bf16, DType::f16, DType::i32, DType::i64, DType::u8};
  for (int iter = 0; iter < 2000; ++iter) {
    std::vector<std::pair<std::string, Tensor>> ts;
    int count = static_cast<int>(rng() % 6);
    for (int i = 0; i < count; ++i) {
      Shape shape(rng() % 4);
      for (auto& d : shape) d = static_cast<int64_t>(rng() % 4);  // zeros are common
      Tensor t = Tensor::empty(shape, dtypes[rng() % std::size(dtypes)]);
      if (t.nbytes()) {
        auto* p = static_cast<uint8_t*>(t.data_ptr());
        for (size_t k = 0; k < t.nbytes(); ++k) p[k] = static_cast<uint8_t>(rng());
      }
      ts.emplace_back(std::string(1, static_cast<char>('a' + rng() % 26)) + std::to_string(i), t);
    }
    Bytes bytes = serialize_safetensors(
        ts, rng() % 2 ? std::map<std::string, std::string>{{"k", "v"}} : std::map<std::string, std::string>{});
    nn::TensorFile f;
    try {
      f = parse_safetensors(bytes.data(), bytes.size(), "written");
    } catch (const Error& e) {
      FAIL() << "file " << iter << " written by serialize_safetensors does not load: " << e.what();
    }
    ASSERT_EQ(f.tensors.size(), ts.size());
    for (const auto& [n, t] : ts) {
      const Tensor* back = f.find(n);
      ASSERT_NE(back, nullptr) << n;
      EXPECT_EQ(back->shape(), t.shape()) << n;
      EXPECT_EQ(back->dtype(), t.dtype()) << n;
      if (t.nbytes()) EXPECT_EQ(0, std::memcmp(back->data_ptr(), t.data_ptr(), t.nbytes())) << n;
    }
  }
}

// The fuzz loop proper. Each input either loads (consistent tensors that fit in the input) or throws
// nat::Error; the heap the parse takes is bounded by a multiple of the input size.
TEST(NnSafetensorsFuzz, MutatedInputsLoadOrThrowNatError) {
  std::vector<Bytes> corpus = valid_seeds();
  for (const Hostile& h : hostile_seeds()) corpus.push_back(h.bytes);
  const size_t seeds = corpus.size();
  const char* seed_env = std::getenv("NAT_FUZZ_SEED");  // another seed explores other inputs
  std::mt19937_64 rng(seed_env ? std::strtoull(seed_env, nullptr, 10) : 20240917);
  const long iterations = fuzz_iterations();
  long parsed = 0, rejected = 0, escaped = 0;
  size_t worst_extra = 0, worst_size = 0;  // the input that took the most heap beyond the allowance
  long over_budget = 0;
  for (long it = 0; it < iterations; ++it) {
    Bytes b = corpus[rng() % corpus.size()];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) mutate(b, corpus, rng);
    if (b.size() > 16384) b.resize(16384);  // keeps inputs small, so 100k runs stay fast under ASan
    const size_t before = g_live.load();
    g_peak = before;
    try {
      nn::TensorFile f = parse_safetensors(b.data(), b.size(), "fuzz");
      check_parsed(f, b.size(), it);
      if (::testing::Test::HasFatalFailure()) return;
      ++parsed;
      // Inputs that load become seeds for later mutations (a poor man's coverage feedback).
      if (corpus.size() < seeds + 256) corpus.push_back(b);
    } catch (const Error&) {
      ++rejected;
    } catch (const std::exception& e) {
      if (++escaped <= 5) ADD_FAILURE() << "input " << it << ": a non-nat::Error exception escaped: " << e.what();
    }
    // JSON DOM nodes and per-key bookkeeping: a small multiple of the input, plus a fixed part.
    const size_t taken = g_peak.load() - before;
    if (taken > kHeapPerByte * b.size() + kHeapFixed) ++over_budget;
    if (taken > worst_extra) worst_extra = taken, worst_size = b.size();
  }
  std::printf(
      "[ fuzz     ] %ld safetensors inputs: %ld loaded, %ld refused with nat::Error; the largest heap "
      "taken was %zu bytes, for a %zu-byte input\n",
      iterations, parsed, rejected, worst_extra, worst_size);
  EXPECT_EQ(escaped, 0);
  EXPECT_EQ(over_budget, 0) << "inputs that made the reader allocate more than " << kHeapPerByte << " x their size + "
                            << kHeapFixed << " bytes";
  EXPECT_GT(parsed, 0) << "no mutated input loaded: the mutations are too destructive to test the checks";
  EXPECT_GT(rejected, iterations / 2);
  RecordProperty("inputs", static_cast<int>(iterations));
}

// Headers built for the most heap per byte (wide metadata, many tiny entries, long arrays, long strings)
// stay within the same allowance as the fuzz loop, at sizes where a DOM blow-up would show.
TEST(NnSafetensorsFuzz, HeapStaysProportionalToTheHeader) {
  std::string meta = "{\"__metadata__\":{", many = "{", array = "{\"a\":{\"dtype\":\"U8\",\"shape\":[", strings = "{";
  for (int i = 0; i < 20000; ++i) {
    meta += (i ? ",\"" : "\"") + std::to_string(i) + "\":\"\"";
    many += (i ? ",\"" : "\"") + std::to_string(i) + "\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}";
    array += i ? ",0" : "0";
  }
  meta += "}}";
  many += "}";
  array += "],\"data_offsets\":[0,0]}}";
  strings += "\"__metadata__\":{\"k\":\"" + std::string(200000, 'x') + "\"}}";
  for (const std::string& header : {meta, many, array, strings}) {
    Bytes b = image(header);
    const size_t before = g_live.load();
    g_peak = before;
    try {
      parse_safetensors(b.data(), b.size(), "wide");
    } catch (const Error&) {
    }
    const size_t taken = g_peak.load() - before;
    EXPECT_LE(taken, kHeapPerByte * b.size() + kHeapFixed)
        << "a " << b.size() << "-byte header took " << taken << " bytes: " << header.substr(0, 60);
  }
  // A long shape is refused as soon as it passes 8 dims, before it is built.
  Bytes long_shape = image(array);
  NAT_EXPECT_ERROR(parse_safetensors(long_shape.data(), long_shape.size(), "wide"), "more than 8 dims");
}

// An allocation failure anywhere in the parse (the k-th allocation fails, for every k) is a nat::Error that
// names the file, never a std::bad_alloc escaping to the caller.
TEST(NnSafetensorsFuzz, AllocationFailureIsANatErrorNamingTheFile) {
  Bytes b = valid_seeds()[0];
  const std::string name = "model.safetensors";
  long failures = 0;
  for (long k = 1; k < 100000; ++k) {
    g_fail_countdown = k;
    std::string msg;
    bool ok = false;
    try {
      parse_safetensors(b.data(), b.size(), name);
      ok = true;
    } catch (const Error& e) {
      msg = e.what();
    } catch (const std::exception& e) {
      msg = std::string("escaped: ") + e.what();
    }
    const bool injected = g_fail_countdown.exchange(0) == 0;
    if (!injected) {  // the parse needed fewer than k allocations: every one has been failed once
      EXPECT_TRUE(ok) << msg;
      break;
    }
    ++failures;
    EXPECT_FALSE(ok) << "allocation " << k << " failed, yet the parse succeeded";
    EXPECT_TRUE(nat::testing::message_contains(msg, {"model.safetensors", "out of memory"})) << "allocation " << k;
  }
  EXPECT_GT(failures, 10);
}
