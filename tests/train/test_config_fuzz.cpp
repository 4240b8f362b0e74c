// Fuzz test of the YAML config loaders: the shipped configs (configs/*.yaml) and hostile YAML (deep
// nesting, alias bombs, huge scalars, wrong types, non-scalar keys, tags) mutated line- and byte-wise go
// through the entry `nat train --config` uses (load_config: file, keys, validate) and the data loader's
// (load_data_config_yaml). Each input loads or throws nat::Error naming the file; never another exception,
// a crash or a hang. This file replaces the global operator new to fail one chosen allocation, so an
// allocation failure is shown to become a nat::Error as well. NAT_YAML_FUZZ_ITERS and NAT_FUZZ_SEED
// set the input count and the seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "data/config_yaml.h"
#include "support/expect_error.h"
#include "train/config.h"

// ---- operator new with a one-shot injected failure ----
namespace {
std::atomic<long> g_fail_countdown{0};  // > 0: the allocation that brings it to 0 throws std::bad_alloc

void* failing_new(size_t n) {
  if (g_fail_countdown.load(std::memory_order_relaxed) > 0 && --g_fail_countdown == 0) throw std::bad_alloc();
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(size_t n) { return failing_new(n); }
void* operator new[](size_t n) { return failing_new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try {
    return failing_new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace nat::train {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> shipped_configs() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(NAT_SOURCE_DIR) / "configs"))
    if (e.path().extension() == ".yaml") out.push_back(read_text(e.path()));
  std::sort(out.begin(), out.end());  // directory order is not stable; the mutation sequence must be
  return out;
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// A billion laughs: 9 levels of 9 aliases each expand to 9^9 scalars from 10 lines.
std::string alias_bomb(const std::string& key) {
  std::string y = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    y += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + repeat(prev + ", ", 8) + prev + "]\n";
  }
  return y + key + ": *a8\n";
}

std::vector<std::string> hostile_configs() {
  return {
      repeat("[", 2100) + repeat("]", 2100),  // past yaml-cpp's own depth guard (2000)
      "depths: " + repeat("[", 500) + "1" + repeat("]", 500) + "\n",
      "model: " + repeat("{a: ", 300) + "1" + repeat("}", 300) + "\n",
      repeat("a:\n" + std::string(1, ' '), 1) +
          [] {
            std::string y;
            for (int i = 0; i < 200; ++i) y += std::string(static_cast<size_t>(2 * i), ' ') + "k:\n";
            return y;
          }(),
      alias_bomb("depths"),
      alias_bomb("mean"),
      "x: &r [*r]\nepochs: *r\n",
      "model: " + std::string(4000, 'n') + "\n",
      "experiment: \"" + std::string(4000, 'e') + "\"\n",
      "depths: [" + repeat("1, ", 1000) + "1]\n",
      "epochs: [1, 2]\nlr: {a: 1}\n",
      "depths: 'x'\nnum_heads: [1, 2, [3]]\n",
      "mean: [1, 2]\nstd: [a, b, c]\nscale: 3\n",
      "batch_size: 99999999999999999999999\nlr: 1e999\nepochs: -1\n",
      "img_size: .inf\ncrop_pct: .nan\nmixup: 0x10\n",
      "? [a, b]\n: 1\n",
      "? {a: 1}\n: 2\nepochs: 3\n",
      "lr: !!binary aGVsbG8=\nepochs: !!int \"x\"\nmodel: !custom nat\n",
      "epochs: 5\nepochs: 6\n",
      "---\nepochs: 1\n---\nepochs: 2\n",
      "\xef\xbb\xbf"
      "epochs: 3\n",
      std::string("epochs: 3\0\nlr: 1\n", 17),
      "model: \xff\xfe\n",
      "\tepochs: 3\n",
      "epochs: |\n  3\n  4\n",
      "%YAML 1.2\n%TAG ! tag:x,2000:\n---\nepochs: 3\n",
      "&a epochs: *a\n",
      "lr: *missing\n",
      "[epochs, 3]\n",
      "just a scalar\n",
      "",
      "~\n",
  };
}

const std::vector<std::string>& edge_values() {
  static const std::vector<std::string> v = {"0",
                                             "-1",
                                             "1",
                                             "2",
                                             "3",
                                             "7",
                                             "1e308",
                                             "-1e308",
                                             "1e-320",
                                             "9223372036854775807",
                                             "9223372036854775808",
                                             "-9223372036854775808",
                                             "4294967296",
                                             "1e30",
                                             ".inf",
                                             "-.inf",
                                             ".nan",
                                             "nan",
                                             "~",
                                             "null",
                                             "None",
                                             "\"\"",
                                             "''",
                                             "[]",
                                             "{}",
                                             "[1, 2, 3]",
                                             "[0]",
                                             "[-1, 2]",
                                             "[1e30]",
                                             "[[1]]",
                                             "{a: 1}",
                                             "true",
                                             "no",
                                             "yes",
                                             "abc",
                                             "0x7f",
                                             "0o17",
                                             "1_000",
                                             "+5",
                                             "'7'",
                                             "!!str 7",
                                             "&x 3",
                                             "*x",
                                             "|\n  multi\n  line",
                                             "\"\\u0000\"",
                                             "\"\\x00\""};
  return v;
}

const std::vector<std::string>& yaml_tokens() {
  static const std::vector<std::string> v = {
      ":", ": ", "- ", "[", "]", "{", "}",  ",",   "&a ", "*a", "!",    "!!", "|",    ">",    "#",
      "'", "\"", "\t", "%", "@", "`", "? ", "---", "...", "\n", "\n  ", "\\", "\xc3", "\xff", std::string(1, '\0')};
  return v;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    cur += ch;
    if (ch == '\n') out.push_back(std::move(cur)), cur.clear();
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string join_lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& l : v) out += l;
  return out;
}

void mutate(std::string& y, const std::vector<std::string>& corpus, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return n ? static_cast<size_t>(rng() % n) : 0; };
  std::vector<std::string> lines = split_lines(y);
  switch (rng() % 9) {
    case 0:  // delete a line
      if (!lines.empty()) lines.erase(lines.begin() + static_cast<long>(pick(lines.size())));
      y = join_lines(lines);
      break;
    case 1:  // duplicate a line elsewhere (repeated keys)
      if (!lines.empty())
        lines.insert(lines.begin() + static_cast<long>(pick(lines.size() + 1)), lines[pick(lines.size())]);
      y = join_lines(lines);
      break;
    case 2:  // change a line's indentation
      if (!lines.empty()) {
        std::string& l = lines[pick(lines.size())];
        if (rng() % 2 && !l.empty() && (l[0] == ' ' || l[0] == '\t'))
          l.erase(0, 1);
        else
          l.insert(0, std::string(1 + pick(4), rng() % 8 ? ' ' : '\t'));
        y = join_lines(lines);
      }
      break;
    case 3:
    case 4: {  // a value replaced by an edge value
      if (lines.empty()) break;
      std::string& l = lines[pick(lines.size())];
      size_t colon = l.find(": ");
      if (colon == std::string::npos) break;
      size_t end = l.find(" #", colon);
      if (end == std::string::npos) end = l.size() - (l.back() == '\n' ? 1 : 0);
      if (end < colon + 2) break;
      l.replace(colon + 2, end - colon - 2, edge_values()[pick(edge_values().size())]);
      y = join_lines(lines);
      break;
    }
    case 5: {  // a YAML token inserted
      const std::string& t = yaml_tokens()[pick(yaml_tokens().size())];
      y.insert(pick(y.size() + 1), t);
      break;
    }
    case 6:  // byte flip
      if (!y.empty()) y[pick(y.size())] ^= static_cast<char>(1 << (rng() % 8));
      break;
    case 7: {  // splice lines of another input
      const std::string& o = corpus[pick(corpus.size())];
      std::vector<std::string> other = split_lines(o);
      if (other.empty()) break;
      size_t from = pick(other.size()), len = 1 + pick(4);
      lines.insert(lines.begin() + static_cast<long>(pick(lines.size() + 1)), other.begin() + static_cast<long>(from),
                   other.begin() + static_cast<long>(std::min(other.size(), from + len)));
      y = join_lines(lines);
      break;
    }
    case 8:  // truncation
      y.resize(pick(y.size() + 1));
      break;
  }
}

long fuzz_iterations() {
  const char* env = std::getenv("NAT_YAML_FUZZ_ITERS");
  return env ? std::max(1L, std::atol(env)) : 4000;  // each input is two YAML parses, a validation and a file write
}

// Runs one input through both loaders; returns the message of the nat::Error, "" when it loaded, or
// "ESCAPED: ..." when another exception came out.
std::string load_both(const std::string& path, bool* loaded = nullptr) {
  std::string msg;
  try {
    CommandLine cl;
    cl.config_file = path;
    TrainConfig c = load_config(cl);
    (void)c.nat_config();
    if (loaded) *loaded = true;
  } catch (const Error& e) {
    msg = e.what();
  } catch (const std::exception& e) {
    return std::string("ESCAPED from load_config: ") + e.what();
  }
  try {
    data::load_data_config_yaml(path);
  } catch (const Error& e) {
    if (msg.empty()) msg = e.what();
  } catch (const std::exception& e) {
    return std::string("ESCAPED from load_data_config_yaml: ") + e.what();
  }
  return msg;
}

}  // namespace

TEST(TrainConfigFuzz, MutatedConfigsLoadOrThrowNatErrorNamingTheFile) {
  std::vector<std::string> corpus = shipped_configs();
  ASSERT_GE(corpus.size(), 9u);
  for (const auto& h : hostile_configs()) corpus.push_back(h);
  const std::string path = ::testing::TempDir() + "config_fuzz.yaml";
  const char* seed_env = std::getenv("NAT_FUZZ_SEED");  // another seed explores other inputs
  std::mt19937_64 rng(seed_env ? std::strtoull(seed_env, nullptr, 10) : 917);
  const long iterations = fuzz_iterations();
  long loaded = 0, refused = 0, escaped = 0, unnamed = 0;
  double slowest_ms = 0;  // printed, never asserted: a pointer for whoever sees this test slow down
  std::string slowest;
  for (long it = 0; it < iterations; ++it) {
    std::string y = corpus[rng() % corpus.size()];
    // The first pass runs every seed unchanged; afterwards 1-3 mutations each.
    if (it >= static_cast<long>(corpus.size())) {
      int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits; ++e) mutate(y, corpus, rng);
    } else {
      y = corpus[static_cast<size_t>(it)];
    }
    {
      std::ofstream f(path, std::ios::binary | std::ios::trunc);
      f.write(y.data(), static_cast<std::streamsize>(y.size()));
    }
    bool ok = false;
    const auto t0 = std::chrono::steady_clock::now();
    std::string msg = load_both(path, &ok);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (ms > slowest_ms) slowest_ms = ms, slowest = y.substr(0, 80);
    if (msg.rfind("ESCAPED", 0) == 0) {
      if (++escaped <= 5) ADD_FAILURE() << "input " << it << ": " << msg << "\n--- input ---\n" << y.substr(0, 400);
    } else if (!msg.empty()) {
      ++refused;
      if (msg.find(path) == std::string::npos && ++unnamed <= 5)
        ADD_FAILURE() << "input " << it << ": the error does not name the file: " << msg;
    }
    if (ok) ++loaded;
  }
  std::printf(
      "[ fuzz     ] %ld YAML configs through load_config and load_data_config_yaml: %ld loaded, %ld refused "
      "with nat::Error; the slowest took %.1f ms: %s\n",
      iterations, loaded, refused, slowest_ms, ::testing::PrintToString(slowest).c_str());
  EXPECT_EQ(escaped, 0);
  EXPECT_EQ(unnamed, 0);
  EXPECT_GT(loaded, iterations / 20) << "too few mutated configs load: the mutations never reach the key checks";
  EXPECT_GT(refused, iterations / 5);
}

TEST(TrainConfigFuzz, HostileConfigsAreRefusedWithTheirReason) {
  // Alias bombs: 10 lines that expand to 9^9 values when walked or dumped into a message.
  NAT_EXPECT_ERROR(apply_yaml_text(alias_bomb("depths"), "bomb.yaml"), "bomb.yaml", "expands to more than");
  NAT_EXPECT_ERROR(apply_yaml_text(alias_bomb("pretrained"), "bomb.yaml"), "bomb.yaml", "expands to more than");
  NAT_EXPECT_ERROR(data::parse_data_config_yaml(alias_bomb("mean"), "bomb.yaml"), "bomb.yaml", "expands to more than");
  NAT_EXPECT_ERROR(apply_yaml_text("x: &r [*r]\nepochs: *r\n", "cycle.yaml"), "cycle.yaml");
  // Deep nesting is refused with the line, not walked recursively.
  std::string deep = "lr: 1\ndepths: " + repeat("[", 100) + "1" + repeat("]", 100) + "\n";
  NAT_EXPECT_ERROR(apply_yaml_text(deep, "deep.yaml"), "deep.yaml", "line 2", "nest deeper than 64");
  NAT_EXPECT_ERROR(data::parse_data_config_yaml(deep, "deep.yaml"), "deep.yaml", "nest deeper than 64");
  // A key that is not a scalar: yaml-cpp's conversion error once escaped the data loader.
  NAT_EXPECT_ERROR(data::parse_data_config_yaml("epochs: 3\n? [a, b]\n: 1\n", "key.yaml"), "key.yaml", "line 2",
                   "not a plain name");
  NAT_EXPECT_ERROR(apply_yaml_text("? [a, b]\n: 1\n", "key.yaml"), "key.yaml", "not a plain name");
  // Syntax errors name the file and the line.
  NAT_EXPECT_ERROR(apply_yaml_text("epochs: 3\nlr: [1, 2\n", "syntax.yaml"), "syntax.yaml", "YAML error at line");
  NAT_EXPECT_ERROR(data::parse_data_config_yaml("epochs: 3\nlr: [1, 2\n", "syntax.yaml"), "syntax.yaml",
                   "YAML error at line");
  // A directory is not a config ("data_dir is not set" once came from reading it as an empty file).
  NAT_EXPECT_ERROR(apply_yaml_file(::testing::TempDir()), "is a directory");
  NAT_EXPECT_ERROR(data::load_data_config_yaml(::testing::TempDir()), "is a directory");
}

// The probe's 100 MB list value (std::bad_alloc escaped main): refused from its size, before it is read.
// The file is sparse, so the test writes a few bytes, not 100 MB.
TEST(TrainConfigFuzz, AHundredMegabyteConfigIsRefusedBeforeItIsRead) {
  const std::string path = ::testing::TempDir() + "config_fuzz_100mb.yaml";
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << "depths: [1, 1, 1, 1";
  }
  fs::resize_file(path, 100u << 20);
  CommandLine cl;
  cl.config_file = path;
  NAT_EXPECT_ERROR(load_config(cl), path.c_str(), "104857600 bytes", "at most 1 MiB");
  NAT_EXPECT_ERROR(data::load_data_config_yaml(path), path.c_str(), "104857600 bytes", "at most 1 MiB");
  fs::remove(path);
  // In memory, just past the limit: the same refusal, naming the origin.
  std::string big = "depths: [" + repeat("1, ", 350000) + "1]\n";
  NAT_EXPECT_ERROR(apply_yaml_text(big, "args.yaml"), "args.yaml", "at most 1 MiB");
  NAT_EXPECT_ERROR(data::parse_data_config_yaml(big, "args.yaml"), "args.yaml", "at most 1 MiB");
}

// An allocation failure anywhere in reading a config (the k-th allocation fails, for k spread over every
// allocation the read makes) is a nat::Error naming the file, never a std::bad_alloc.
TEST(TrainConfigFuzz, AllocationFailureIsANatErrorNamingTheFile) {
  const std::string text = read_text(fs::path(NAT_SOURCE_DIR) / "configs" / "digits.yaml");
  const std::string origin = "digits.yaml";
  // The defaults are built before the failure is armed: constructing them is the caller's business.
  TrainConfig train_base;
  data::DataConfig data_base;
  std::vector<std::pair<const char*, std::function<void()>>> readers = {
      {"apply_yaml_text", [&] { train_base = apply_yaml_text(text, origin, std::move(train_base)); }},
      {"parse_data_config_yaml", [&] { data_base = data::parse_data_config_yaml(text, origin, std::move(data_base)); }},
  };
  for (const auto& [name, read] : readers) {
    const long kNever = 1L << 40;
    read();  // the first read also builds function-local tables: count a later one
    train_base = TrainConfig();
    data_base = data::DataConfig();
    g_fail_countdown = kNever;
    read();
    const long allocations = kNever - g_fail_countdown.exchange(0);
    ASSERT_GT(allocations, 10) << name;
    const long step = std::max(1L, allocations / 400);
    int failed = 0, out_of_memory = 0;
    for (long k = 1; k <= allocations; k += step) {
      train_base = TrainConfig();
      data_base = data::DataConfig();
      g_fail_countdown = k;
      std::string msg;
      try {
        read();
        msg = "no error";
      } catch (const Error& e) {
        msg = e.what();
      } catch (const std::exception& e) {
        msg = std::string("escaped: ") + e.what();
      }
      if (g_fail_countdown.exchange(0) != 0) break;  // finished before the k-th allocation
      ++failed;
      // Mostly "out of memory"; where yaml-cpp converts a number through a stream, the stream swallows the
      // failure and the key's value is reported as malformed instead: still a nat::Error naming the file.
      EXPECT_TRUE(nat::testing::message_contains(msg, {"digits.yaml"})) << name << ", allocation " << k;
      EXPECT_EQ(msg.find("escaped"), std::string::npos) << name << ", allocation " << k << ": " << msg;
      if (msg.find("out of memory") != std::string::npos) ++out_of_memory;
    }
    EXPECT_GT(out_of_memory, failed / 2) << name;
  }
}

}  // namespace nat::train
