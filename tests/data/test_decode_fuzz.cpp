// Seeded mutation fuzzing of the image decoders (issue 17, "make the probe permanent"). A corpus of valid
// files made here (JPEG: baseline, progressive, restart markers, grayscale, odd sizes, CMYK; PNG: RGB, gray,
// RGBA, 16-bit; BMP; TIFF; WebP lossy and lossless) and of header bombs is mutated with a fixed seed (bit
// flips, byte overwrites, truncation, splices of two files, chunk insertion and deletion) and every input
// goes through each entry point: sniff_format and probe_image, decode_rgb at every reduction,
// decode_rgb_region (libjpeg's region decoder) and the train and eval SamplePipeline. Each must decode or
// throw DecodeError / nat::Error, never crash (ASan + UBSan in CI), and never allocate past the pixel
// limit: a tight max_image_pixels, plus an address-space cap (RLIMIT_AS in Release, ASan's
// max_allocation_size_mb under ASan), turns any allocation a header bomb provokes into an "out of
// memory" error, which fails the test.
//   NAT_FUZZ_ITERS  inputs to run (default 100000: about 7 s in Release on one core)
//   NAT_FUZZ_SEED   seed of the mutations (default 17)
// A failing input is written to $TMPDIR/nat-decode-fuzz-<seed>-<iteration>.bin for reproduction. The
// decoders' own stderr chatter (libpng's "libpng error: ...", one line per bad PNG) is silenced while the
// test runs; sanitizer reports still reach the real stderr.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "data/image_info.h"
#include "tests/data/fixtures.h"

#if NAT_WITH_OPENCV
#include "data/decode.h"
#include "data/pipeline.h"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define NAT_FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NAT_FUZZ_ASAN 1
#endif
#endif

#if NAT_FUZZ_ASAN
#include <sanitizer/common_interface_defs.h>
// No allocation over 512 MiB: it returns null (and the decoder reports out of memory) instead of aborting.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1:max_allocation_size_mb=512"; }
#endif

namespace nat::data {
namespace {

#if NAT_WITH_OPENCV

using Bytes = std::vector<uint8_t>;
using nat::testing::encode;

constexpr int64_t kMaxPixels = 1 << 16;  // the corpus's images are far smaller; every bomb is far larger

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long long x = std::strtoll(v, &end, 10);
  return end && *end == 0 && x > 0 ? x : fallback;
}

cv::Mat photo(int w, int h, uint64_t seed) {
  cv::Mat img = nat::testing::gradient_rgb(w, h, static_cast<int>(seed * 37 % 256));
  cv::RNG rng(seed);
  cv::Mat noise(h, w, CV_8UC3);
  rng.fill(noise, cv::RNG::NORMAL, 0, 25);
  img += noise;
  cv::circle(img, {w / 3, h / 2}, std::max(2, h / 4), cv::Scalar(250, 30, 60), cv::FILLED);
  return img;
}

Bytes encode_with(const cv::Mat& rgb, const std::string& ext, std::vector<int> params) {
  cv::Mat bgr;
  if (rgb.channels() == 3)
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  else
    bgr = rgb;
  Bytes out;
  EXPECT_TRUE(cv::imencode(ext, bgr, out, params)) << ext;
  return out;
}

// A little-endian 32-bit write (BMP, WebP headers).
void put_le32(Bytes& b, size_t at, uint32_t v) {
  for (int k = 0; k < 4; ++k) b[at + k] = static_cast<uint8_t>(v >> (8 * k));
}

std::vector<Bytes> corpus() {
  std::vector<Bytes> c;
  const cv::Mat a = photo(40, 30, 1), odd = photo(33, 17, 2), tiny = photo(8, 8, 3);
  cv::Mat gray, rgba, wide;
  cv::cvtColor(a, gray, cv::COLOR_RGB2GRAY);
  cv::cvtColor(a, rgba, cv::COLOR_RGB2RGBA);
  a.convertTo(wide, CV_16UC3, 257.0);
  c.push_back(encode(a, ".jpg", 90));
  c.push_back(encode(odd, ".jpg", 75));
  c.push_back(encode(tiny, ".jpg", 50));
  c.push_back(encode(gray, ".jpg"));
  c.push_back(encode_with(a, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1}));
  c.push_back(encode_with(a, ".jpg", {cv::IMWRITE_JPEG_RST_INTERVAL, 2}));
  c.push_back(encode_with(a, ".jpg", {cv::IMWRITE_JPEG_OPTIMIZE, 1, cv::IMWRITE_JPEG_QUALITY, 30}));
#if NAT_TEST_WITH_LIBJPEG
  c.push_back(nat::testing::cmyk_jpeg(a, false));
  c.push_back(nat::testing::cmyk_jpeg(odd, true));
#endif
  c.push_back(encode(a, ".png"));
  c.push_back(encode(gray, ".png"));
  c.push_back(encode(rgba, ".png"));
  c.push_back(encode(wide, ".png"));
  c.push_back(encode(odd, ".bmp"));
  c.push_back(encode(odd, ".tiff"));
  c.push_back(encode(a, ".webp"));
  c.push_back(encode_with(odd, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101}));  // lossless (VP8L)
  // Header bombs of every format.
  c.push_back(nat::testing::with_jpeg_size(encode(tiny, ".jpg"), 65500, 65500));
  c.push_back(nat::testing::with_jpeg_size(encode_with(a, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1}), 30000, 20000));
  c.push_back(nat::testing::with_png_size(encode(a, ".png"), 16000, 16000));
  c.push_back(nat::testing::with_png_size(encode(tiny, ".png"), 1, 1u << 30));
  Bytes bmp = encode(odd, ".bmp");
  put_le32(bmp, 18, 50000);
  put_le32(bmp, 22, static_cast<uint32_t>(-50000));  // top-down
  c.push_back(bmp);
  Bytes webp = encode(a, ".webp");
  webp[26] = 0xFF;  // VP8 frame: 16383 x 16383
  webp[27] = 0x3F;
  webp[28] = 0xFF;
  webp[29] = 0x3F;
  c.push_back(webp);
  c.push_back(nat::testing::with_scan_cut_short(encode(a, ".jpg", 90)));
  return c;
}

// One to three random edits of a corpus file (or of two, spliced).
Bytes mutate(const std::vector<Bytes>& corpus, std::mt19937_64& rng) {
  auto below = [&](uint64_t n) { return n ? rng() % n : 0; };
  Bytes b = corpus[below(corpus.size())];
  const int edits = 1 + static_cast<int>(below(3));
  for (int e = 0; e < edits && !b.empty(); ++e) {
    switch (below(8)) {
      case 0:  // bit flips
        for (int k = 0, n = 1 + static_cast<int>(below(8)); k < n; ++k) b[below(b.size())] ^= 1u << below(8);
        break;
      case 1: {  // interesting bytes, biased to the header where the sizes and tables are
        static const uint8_t kValues[] = {0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE, 0xD8, 0xD9, 0xDA, 0xC0};
        const size_t span = below(2) ? std::min<size_t>(b.size(), 256) : b.size();
        for (int k = 0, n = 1 + static_cast<int>(below(4)); k < n; ++k)
          b[below(span)] = below(2) ? kValues[below(sizeof kValues)] : static_cast<uint8_t>(rng());
        break;
      }
      case 2:  // truncation
        b.resize(below(b.size()) + 1);
        break;
      case 3: {  // splice: the head of this file, the tail of another
        const Bytes& other = corpus[below(corpus.size())];
        const size_t at = below(b.size()), from = below(other.size());
        b.resize(at);
        b.insert(b.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
        break;
      }
      case 4: {  // delete a chunk
        const size_t at = below(b.size()), n = std::min<size_t>(b.size() - at, 1 + below(64));
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + n));
        break;
      }
      case 5: {  // insert random bytes
        const size_t at = below(b.size() + 1), n = 1 + below(32);
        Bytes chunk(n);
        for (auto& x : chunk) x = static_cast<uint8_t>(rng());
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), chunk.begin(), chunk.end());
        break;
      }
      case 6: {  // duplicate a chunk in place (repeated markers, segments)
        const size_t at = below(b.size()), n = std::min<size_t>(b.size() - at, 1 + below(128));
        Bytes chunk(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + n));
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), chunk.begin(), chunk.end());
        break;
      }
      default: {  // a 16-bit big-endian field (JPEG segment lengths, SOF sizes) set to an extreme
        if (b.size() < 2) break;
        const size_t at = below(b.size() - 1);
        const uint16_t v = below(2) ? 0xFFFF : static_cast<uint16_t>(below(4));
        b[at] = static_cast<uint8_t>(v >> 8);
        b[at + 1] = static_cast<uint8_t>(v);
        break;
      }
    }
  }
  return b;
}

// Caps the address space at `extra` bytes over the current size for the test's lifetime (Release only:
// ASan reserves terabytes of shadow, so there the allocator's own cap above does the job).
class AddressSpaceCap {
 public:
  explicit AddressSpaceCap(size_t extra) {
#if !NAT_FUZZ_ASAN
    std::ifstream statm("/proc/self/statm");
    size_t pages = 0;
    if (!(statm >> pages) || getrlimit(RLIMIT_AS, &saved_) != 0) return;
    rlimit cap = saved_;
    cap.rlim_cur = pages * static_cast<size_t>(sysconf(_SC_PAGESIZE)) + extra;
    if (saved_.rlim_cur != RLIM_INFINITY && saved_.rlim_cur < cap.rlim_cur) return;
    active_ = setrlimit(RLIMIT_AS, &cap) == 0;
#else
    (void)extra;
#endif
  }
  ~AddressSpaceCap() {
    if (active_) setrlimit(RLIMIT_AS, &saved_);
  }
  AddressSpaceCap(const AddressSpaceCap&) = delete;
  AddressSpaceCap& operator=(const AddressSpaceCap&) = delete;

 private:
  rlimit saved_{};
  bool active_ = false;
};

// Sends fd 2 to /dev/null for the test's lifetime; sanitizer reports go to the real stderr.
class QuietStderr {
 public:
  QuietStderr() {
    std::fflush(stderr);
    saved_ = dup(2);
    const int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved_ >= 0 && null >= 0) dup2(null, 2);
    if (null >= 0) close(null);
#if NAT_FUZZ_ASAN
    if (saved_ >= 0) __sanitizer_set_report_fd(reinterpret_cast<void*>(static_cast<intptr_t>(saved_)));
#endif
  }
  ~QuietStderr() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    dup2(saved_, 2);
#if NAT_FUZZ_ASAN
    __sanitizer_set_report_fd(reinterpret_cast<void*>(static_cast<intptr_t>(2)));
#endif
    close(saved_);
  }
  QuietStderr(const QuietStderr&) = delete;
  QuietStderr& operator=(const QuietStderr&) = delete;

 private:
  int saved_ = -1;
};

bool sounds_like_memory(const std::string& msg) {
  for (const char* s : {"out of memory", "Failed to allocate", "Insufficient memory", "bad_alloc"})
    if (msg.find(s) != std::string::npos) return true;
  return false;
}

TEST(DecodeFuzz, MutatedImagesDecodeOrThrowDecodeError) {
  const int64_t iters = env_int("NAT_FUZZ_ITERS", 100000);
  const uint64_t seed = static_cast<uint64_t>(env_int("NAT_FUZZ_SEED", 17));
  const std::vector<Bytes> files = corpus();
  DataConfig cfg;
  cfg.img_size = 16;
  cfg.max_image_pixels = kMaxPixels;
  const SamplePipeline train(cfg, true), eval(cfg, false);
  std::vector<float> out(static_cast<size_t>(train.floats_per_sample()));

  std::mt19937_64 rng(seed);
  int64_t decoded = 0, refused = 0, failures = 0;
  AddressSpaceCap cap(size_t{768} << 20);
  QuietStderr quiet;
  for (int64_t it = 0; it < iters && failures < 5; ++it) {
    // The corpus itself first, then mutations.
    const Bytes b = it < static_cast<int64_t>(files.size()) ? files[static_cast<size_t>(it)] : mutate(files, rng);
    const uint8_t* p = b.empty() ? nullptr : b.data();
    const int reduce = 1 << (rng() % 4);
    const cv::Rect want(static_cast<int>(rng() % 40), static_cast<int>(rng() % 30), 1 + static_cast<int>(rng() % 40),
                        1 + static_cast<int>(rng() % 30));
    SampleRng srng(static_cast<uint64_t>(it));
    std::string stage, problem;
    auto attempt = [&](const char* name, auto&& f) {
      if (!problem.empty()) return;
      stage = name;
      try {
        f();
        ++decoded;
      } catch (const DecodeError& e) {
        ++refused;
        if (sounds_like_memory(e.what())) problem = std::string("allocated past the pixel limit: ") + e.what();
      } catch (const Error& e) {
        ++refused;
        if (sounds_like_memory(e.what())) problem = std::string("allocated past the pixel limit: ") + e.what();
      } catch (const std::exception& e) {
        problem = std::string("an exception other than nat::Error: ") + e.what();
      } catch (...) {
        problem = "an exception of unknown type";
      }
    };
    attempt("probe_image", [&] {
      const ImageInfo info = probe_image(p, b.size());
      (void)sniff_format(p, b.size());
      (void)info.describe();
    });
    if (b.empty()) continue;  // the decoders take a non-null pointer
    attempt("decode_rgb", [&] {
      cv::Mat m = decode_rgb(p, b.size(), reduce, kMaxPixels);
      if (m.type() != CV_8UC3 || m.empty() || m.total() > static_cast<size_t>(kMaxPixels))
        problem = "decode_rgb returned an image that is not 8-bit RGB within the limit";
    });
    attempt("decode_rgb_region", [&] {
      DecodedRegion r = decode_rgb_region(p, b.size(), reduce, want, kMaxPixels);
      const cv::Rect got(r.x0, r.y0, r.rgb.cols, r.rgb.rows);
      if (r.rgb.type() != CV_8UC3 || (got & cv::Rect(0, 0, r.width, r.height)) != got)
        problem = "decode_rgb_region returned a region outside its image";
    });
    attempt("train pipeline", [&] { train.run(p, b.size(), srng, out.data()); });
    attempt("eval pipeline", [&] { eval.run(p, b.size(), srng, out.data()); });
    if (!problem.empty()) {
      ++failures;
      const std::string path =
          ::testing::TempDir() + "nat-decode-fuzz-" + std::to_string(seed) + "-" + std::to_string(it) + ".bin";
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
      ADD_FAILURE() << "input " << it << " (seed " << seed << ", " << b.size() << " bytes, saved to " << path << "), "
                    << stage << ": " << problem;
    }
  }
  std::printf(
      "[decode fuzz] %lld inputs (seed %llu; NAT_FUZZ_ITERS, NAT_FUZZ_SEED to change) through 5 entry points: "
      "%lld calls decoded, %lld refused\n",
      static_cast<long long>(iters), static_cast<unsigned long long>(seed), static_cast<long long>(decoded),
      static_cast<long long>(refused));
  EXPECT_GT(decoded, 0);
  EXPECT_GT(refused, 0);
}

#else
TEST(DecodeFuzz, NeedsOpenCV) { GTEST_SKIP() << "built without OpenCV: decoding is a stub"; }
#endif

}  // namespace
}  // namespace nat::data
