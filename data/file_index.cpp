// Recursive listing of an image tree and its on-disk cache (format: see save_file_index below).
#include "data/file_index.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/rng.h"
#include "data/image_folder.h"

namespace fs = std::filesystem;

namespace nat::data {

namespace {

constexpr const char* kMagic = "nat-image-index 1";

int64_t mtime_ns(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

std::string cache_file(const std::string& cache_dir, const std::string& root) {
  // FNV-1a of the path, then one Philox mix: a stable file name per split folder.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : root) h = (h ^ c) * 1099511628211ull;
  char name[64];
  std::snprintf(name, sizeof name, "index-%016llx.txt", static_cast<unsigned long long>(derive_seed(h, 0)));
  return (fs::path(cache_dir) / name).string();
}

std::string join(const std::string& root, const std::string& rel) {
  return rel == "." ? root : (fs::path(root) / rel).string();
}

}  // namespace

FileIndex list_image_tree(const std::string& root) {
  FileIndex idx;
  idx.dirs.emplace_back(".", mtime_ns(root));
  std::error_code ec;
  auto opts = fs::directory_options::follow_directory_symlink | fs::directory_options::skip_permission_denied;
  fs::recursive_directory_iterator it(root, opts, ec), end;
  NAT_CHECK(!ec, "[image folder] cannot list ", root, ": ", ec.message());
  for (; it != end; it.increment(ec)) {
    NAT_CHECK(!ec, "[image folder] error while listing ", root, ": ", ec.message());
    const fs::directory_entry& e = *it;
    std::string rel = fs::relative(e.path(), root, ec).string();
    if (e.is_directory(ec)) {
      idx.dirs.emplace_back(rel, mtime_ns(e.path().string()));
    } else if (has_image_extension(rel) && e.is_regular_file(ec)) {
      idx.files.push_back(std::move(rel));
    }
  }
  return idx;
}

std::optional<FileIndex> load_file_index(const std::string& cache_dir, const std::string& root) {
  if (cache_dir.empty()) return std::nullopt;
  std::ifstream in(cache_file(cache_dir, root));
  if (!in) return std::nullopt;
  std::string line;
  if (!std::getline(in, line) || line != kMagic) return std::nullopt;
  if (!std::getline(in, line) || line != "root\t" + root) return std::nullopt;
  FileIndex idx;
  while (std::getline(in, line)) {
    if (line.rfind("dir\t", 0) == 0) {
      size_t tab = line.find('\t', 4);
      if (tab == std::string::npos) return std::nullopt;
      int64_t t = std::strtoll(line.c_str() + 4, nullptr, 10);
      std::string rel = line.substr(tab + 1);
      // Still valid only if the folder is unchanged since it was listed.
      if (mtime_ns(join(root, rel)) != t) return std::nullopt;
      idx.dirs.emplace_back(std::move(rel), t);
    } else if (line.rfind("file\t", 0) == 0) {
      idx.files.push_back(line.substr(5));
    } else if (line == "end") {
      return idx;  // complete file
    } else {
      return std::nullopt;
    }
  }
  return std::nullopt;  // truncated
}

bool save_file_index(const std::string& cache_dir, const std::string& root, const FileIndex& index) {
  static std::atomic<bool> warned{false};
  auto fail = [&](const std::string& why) {
    if (!warned.exchange(true))
      std::fprintf(stderr, "nat data: warning: cannot cache the file index in %s (%s); listings will be redone\n",
                   cache_dir.c_str(), why.c_str());
    return false;
  };
  if (cache_dir.empty()) return false;
  for (const auto& d : index.dirs)
    if (d.first.find('\n') != std::string::npos) return false;  // names the line format cannot hold
  for (const auto& f : index.files)
    if (f.find('\n') != std::string::npos) return false;
  std::error_code ec;
  fs::create_directories(cache_dir, ec);
  if (ec) return fail(ec.message());
  std::string path = cache_file(cache_dir, root);
  std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return fail("cannot create " + tmp);
    out << kMagic << "\nroot\t" << root << "\n";
    for (const auto& d : index.dirs) out << "dir\t" << d.second << "\t" << d.first << "\n";
    for (const auto& f : index.files) out << "file\t" << f << "\n";
    out << "end\n";
    if (!out.flush()) return fail("write error on " + tmp);
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return fail("cannot rename " + tmp);
  }
  return true;
}

std::string default_index_cache_dir() {
  if (const char* d = std::getenv("NAT_CACHE_DIR")) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (fs::path(x) / "nat").string();
  if (const char* h = std::getenv("HOME"); h && *h) return (fs::path(h) / ".cache" / "nat").string();
  return "";
}

}  // namespace nat::data
