// ImageFolder: split search, natural ordering, labels from leaf folders, file reading.
#include "data/image_folder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/error.h"
#include "data/file_index.h"

namespace fs = std::filesystem;

namespace nat::data {

namespace {

const char* const kTrainSynonyms[] = {"train", "training"};
const char* const kEvalSynonyms[] = {"val", "valid", "validation", "eval", "evaluation"};

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// Compares two digit runs as non-negative integers of any length.
int compare_numbers(const std::string& a, size_t ab, size_t ae, const std::string& b, size_t bb, size_t be) {
  while (ab + 1 < ae && a[ab] == '0') ++ab;
  while (bb + 1 < be && b[bb] == '0') ++bb;
  if (ae - ab != be - bb) return ae - ab < be - bb ? -1 : 1;
  int c = a.compare(ab, ae - ab, b, bb, be - bb);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

bool natural_less(const std::string& a, const std::string& b) {
  // natural_key is the list [text, number, text, number, ..., text] of the lowercased string (text runs
  // may be empty); lists compare element by element, and a list that is a prefix of the other is smaller.
  auto is_d = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  size_t i = 0, j = 0;
  for (bool text = true;; text = !text) {
    size_t ie = i, je = j;
    while (ie < a.size() && is_d(a[ie]) != text) ++ie;
    while (je < b.size() && is_d(b[je]) != text) ++je;
    if (text) {
      size_t n = std::min(ie - i, je - j);
      for (size_t k = 0; k < n; ++k) {
        auto ca = static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(a[i + k])));
        auto cb = static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(b[j + k])));
        if (ca != cb) return ca < cb;
      }
      if (ie - i != je - j) return ie - i < je - j;
      // A number follows a text run only when characters remain.
      bool a_more = ie < a.size(), b_more = je < b.size();
      if (!a_more || !b_more) return !a_more && b_more;
    } else {
      int c = compare_numbers(a, i, ie, b, j, je);
      if (c) return c < 0;
    }
    i = ie;
    j = je;
  }
}

bool has_image_extension(const std::string& path) {
  auto dot = path.find_last_of('.');
  if (dot == std::string::npos || path.find('/', dot) != std::string::npos) return false;
  std::string ext = path.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

std::string find_split_dir(const std::string& data_dir, const std::string& split) {
  NAT_CHECK(!data_dir.empty(), "[image folder] no data_dir given (the folder holding the train/val splits)");
  NAT_CHECK(is_dir(data_dir), "[image folder] data_dir ", data_dir, " does not exist or is not a folder");
  std::string name = split.substr(0, split.find('['));
  std::vector<std::string> tried{name};
  if (is_dir(fs::path(data_dir) / name)) return (fs::path(data_dir) / name).string();
  auto try_all = [&](const auto& syns) -> std::string {
    for (const char* s : syns) {
      tried.emplace_back(s);
      if (is_dir(fs::path(data_dir) / s)) return (fs::path(data_dir) / s).string();
    }
    return "";
  };
  std::string found;
  if (std::find(std::begin(kTrainSynonyms), std::end(kTrainSynonyms), name) != std::end(kTrainSynonyms))
    found = try_all(kTrainSynonyms);
  else if (std::find(std::begin(kEvalSynonyms), std::end(kEvalSynonyms), name) != std::end(kEvalSynonyms))
    found = try_all(kEvalSynonyms);
  if (!found.empty()) return found;
  std::string list;
  for (const auto& t : tried) list += (list.empty() ? "" : ", ") + t;
  NAT_THROW("[image folder] no '", split, "' split under ", data_dir, ": looked for the folders ", list);
}

std::vector<std::string> load_class_map(const std::string& path) {
  std::ifstream in(path);
  NAT_CHECK(in, "[image folder] cannot read class_map ", path);
  std::vector<std::string> classes;
  std::set<std::string> seen;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (line.empty()) continue;
    NAT_CHECK(seen.insert(line).second, "[image folder] class_map ", path, " lists '", line, "' twice");
    classes.push_back(line);
  }
  NAT_CHECK(!classes.empty(), "[image folder] class_map ", path, " lists no classes");
  return classes;
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  NAT_CHECK(fd >= 0, "cannot open ", path, ": ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    NAT_THROW("cannot stat ", path, ": ", std::strerror(e));
  }
  std::vector<uint8_t> buf(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int e = errno;
      ::close(fd);
      NAT_THROW("cannot read ", path, ": ", r == 0 ? "unexpected end of file" : std::strerror(e));
    }
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  return buf;
}

ImageFolder::ImageFolder(const std::string& split_dir, ImageFolderOptions options) {
  NAT_CHECK(is_dir(split_dir), "[image folder] ", split_dir, " does not exist or is not a folder");
  std::error_code ec;
  root_ = fs::canonical(split_dir, ec).string();
  NAT_CHECK(!ec, "[image folder] cannot resolve ", split_dir, ": ", ec.message());
  std::string cache_dir = options.cache_dir ? *options.cache_dir : default_index_cache_dir();

  std::optional<FileIndex> index = load_file_index(cache_dir, root_);
  from_cache_ = index.has_value();
  if (!index) {
    index = list_image_tree(root_);
    save_file_index(cache_dir, root_, *index);
  }

  // Label = leaf folder name; files directly in the split folder have no class.
  std::vector<std::pair<std::string, std::string>> files;  // (relative path, label)
  std::set<std::string> top_with_images;                   // first component of each image's path
  int64_t at_root = 0;
  for (const auto& rel : index->files) {
    fs::path p(rel);
    if (!p.has_parent_path()) {
      ++at_root;
      continue;
    }
    top_with_images.insert(p.begin()->string());
    files.emplace_back(rel, p.parent_path().filename().string());
  }
  if (options.classes.empty()) {
    std::set<std::string> labels;
    for (const auto& f : files) labels.insert(f.second);
    classes_.assign(labels.begin(), labels.end());
    std::stable_sort(classes_.begin(), classes_.end(), natural_less);  // from a set: ties stay bytewise
  } else {
    classes_ = options.classes;
  }
  std::map<std::string, int64_t> class_index;
  for (size_t i = 0; i < classes_.size(); ++i) class_index[classes_[i]] = static_cast<int64_t>(i);

  std::set<std::string> unknown;
  std::vector<std::pair<std::string, int64_t>> kept;
  for (auto& f : files) {
    auto it = class_index.find(f.second);
    if (it == class_index.end()) {
      unknown.insert(f.second);
      continue;
    }
    kept.emplace_back(std::move(f.first), it->second);
  }
  // Ties of natural_key ("img2" vs "img02") are broken bytewise, so the order never depends on the listing's.
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    if (natural_less(a.first, b.first)) return true;
    if (natural_less(b.first, a.first)) return false;
    return a.first < b.first;
  });

  NAT_CHECK(!kept.empty(), "[image folder] no images in ", root_, " (", index->files.size(), " image files found",
            at_root ? str(", ", at_root,
                          " of them directly in the split folder with no class folder;"
                          " a flat layout such as ImageNet's original val/ must be sorted into"
                          " <split>/<class>/ first")
                    : std::string(),
            "; images are .png, .jpg or .jpeg files inside one folder per class)");
  // A class folder without images would silently drop a class and shift every later label (or, for the
  // validation split, score nothing of that class): refused, as torchvision's ImageFolder refuses it.
  // Hidden folders (.ipynb_checkpoints, ...) are not classes.
  std::vector<std::string> empty_classes;
  for (const auto& [rel, mtime] : index->dirs) {
    if (rel.empty() || rel == "." || rel.find('/') != std::string::npos || rel[0] == '.') continue;
    if (!top_with_images.count(rel)) empty_classes.push_back(rel);
  }
  std::sort(empty_classes.begin(), empty_classes.end(), natural_less);
  NAT_CHECK(empty_classes.empty(), "[image folder] class folder '", empty_classes.empty() ? "" : empty_classes[0],
            "' in ", root_, " holds no image file (.png, .jpg, .jpeg)",
            empty_classes.size() > 1 ? str(", nor do ", empty_classes.size() - 1, " more") : std::string(),
            "; remove it or add images (a class without images would shift the labels of the classes after it)");

  if (at_root > 0)
    std::fprintf(stderr, "nat data: warning: %lld image(s) directly in %s have no class folder and are ignored\n",
                 static_cast<long long>(at_root), root_.c_str());
  if (!unknown.empty())
    std::fprintf(stderr,
                 "nat data: warning: %zu folder(s) of %s are not among the %zu given classes (first: %s); "
                 "their images are ignored\n",
                 unknown.size(), root_.c_str(), classes_.size(), unknown.begin()->c_str());

  samples_.reserve(kept.size());
  for (auto& k : kept) samples_.push_back({(fs::path(root_) / k.first).string(), k.second});
}

std::vector<uint8_t> ImageFolder::read(int64_t i) const {
  NAT_CHECK(i >= 0 && i < size(), "[image folder] sample ", i, " out of range [0, ", size(), ")");
  return read_file_bytes(samples_[static_cast<size_t>(i)].path);
}

}  // namespace nat::data
