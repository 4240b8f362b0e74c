// Tree check: a shared atomic counter hands out files to threads; each reads, probes and fully decodes.
#include "data/check.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>

#include "core/error.h"
#include "data/decode.h"
#include "data/file_index.h"
#include "data/image_folder.h"

namespace fs = std::filesystem;

namespace nat::data {

namespace {

std::string lower_ext(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e;
}

ImageFormat format_of_extension(const std::string& ext) {
  if (ext == ".jpg" || ext == ".jpeg") return ImageFormat::jpeg;
  if (ext == ".png") return ImageFormat::png;
  return ImageFormat::unknown;
}

}  // namespace

CheckReport check_tree(const std::string& dir, const CheckOptions& opt) {
  std::error_code ec;
  NAT_CHECK(fs::is_directory(dir, ec), "[data check] ", dir, " does not exist or is not a folder");
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> files;
  if (opt.all_files) {
    auto o = fs::directory_options::follow_directory_symlink | fs::directory_options::skip_permission_denied;
    for (fs::recursive_directory_iterator it(dir, o, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file(ec)) files.push_back(it->path().string());
    NAT_CHECK(!ec, "[data check] error while listing ", dir, ": ", ec.message());
  } else {
    for (auto& rel : list_image_tree(dir).files) files.push_back((fs::path(dir) / rel).string());
  }
  std::sort(files.begin(), files.end());

  CheckReport rep;
  rep.files = static_cast<int64_t>(files.size());
  std::mutex mu;
  std::atomic<int64_t> next{0}, done{0};
  auto work = [&] {
    CheckReport local;
    for (int64_t i; (i = next++) < static_cast<int64_t>(files.size());) {
      const std::string& path = files[static_cast<size_t>(i)];
      std::string reason;
      try {
        std::vector<uint8_t> bytes = read_file_bytes(path);
        local.bytes += static_cast<int64_t>(bytes.size());
        ImageInfo info = probe_image(bytes.data(), bytes.size());
        decode_rgb(bytes.data(), bytes.size(), 1, opt.max_image_pixels);
        ImageFormat by_ext = format_of_extension(lower_ext(path));
        if (by_ext != ImageFormat::unknown && by_ext != info.format) ++local.format_differs_from_extension;
        if (info.format == ImageFormat::jpeg && info.channels == 4) ++local.cmyk_jpeg;
        if (info.channels == 1 || info.channels == 2) ++local.grayscale;
        if (info.format == ImageFormat::png && (info.channels == 2 || info.channels == 4)) ++local.with_alpha;
        if (info.bit_depth > 8) ++local.sixteen_bit;
        if (info.format != ImageFormat::jpeg && info.format != ImageFormat::png) ++local.other_format;
      } catch (const Error& e) {  // DecodeError, or a read error
        reason = e.what();
      } catch (const std::bad_alloc&) {
        reason = "out of memory while reading or decoding it";
      } catch (const std::exception& e) {  // decode converts OpenCV's; anything else is still this file's
        reason = str("unexpected error: ", e.what());
      } catch (...) {
        reason = "unexpected error of unknown type";
      }
      for (char& c : reason)
        if (c == '\n') c = ' ';
      int64_t d = ++done;
      if (!reason.empty() || (opt.on_progress && d % 1000 == 0)) {
        std::lock_guard<std::mutex> g(mu);
        if (!reason.empty()) {
          local.bad.emplace_back(path, reason);
          if (opt.on_bad) opt.on_bad(path, reason);
        }
        if (opt.on_progress && d % 1000 == 0) opt.on_progress(d, rep.files);
      }
    }
    std::lock_guard<std::mutex> g(mu);
    rep.bytes += local.bytes;
    rep.bad.insert(rep.bad.end(), local.bad.begin(), local.bad.end());
    rep.format_differs_from_extension += local.format_differs_from_extension;
    rep.cmyk_jpeg += local.cmyk_jpeg;
    rep.grayscale += local.grayscale;
    rep.with_alpha += local.with_alpha;
    rep.sixteen_bit += local.sixteen_bit;
    rep.other_format += local.other_format;
  };
  int64_t n = opt.workers > 0 ? opt.workers : std::max<int64_t>(1, std::thread::hardware_concurrency());
  n = std::min<int64_t>(n, std::max<int64_t>(1, rep.files));
  std::vector<std::thread> threads;
  for (int64_t t = 1; t < n; ++t) {
    try {
      threads.emplace_back(work);
    } catch (const std::system_error&) {  // the system refuses more threads: check with those started
      break;
    }
  }
  work();
  for (auto& t : threads) t.join();
  std::sort(rep.bad.begin(), rep.bad.end());
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace nat::data
