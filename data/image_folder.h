// ImageFolder datasets, as timm reads them: <data_dir>/<split>/<class>/.../<image>, listed recursively,
// the label being the leaf folder's name; classes and files sorted with timm's natural_key, so
// ImageNet's wnids map to 0..999 in the standard order. Only .png/.jpg/.jpeg (any case) are listed.
// A listing is cached (data/file_index.h) and reused while no folder of the tree has changed. A class
// folder (a folder directly in the split, not hidden) without any image is refused, as torchvision does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nat::data {

struct Sample {
  std::string path;  // absolute
  int64_t label = 0;
};

struct ImageFolderOptions {
  // Fixed class list (e.g. the train split's, for the val split): folders not in it are skipped with
  // a warning. Empty: the classes are the split's own folders.
  std::vector<std::string> classes;
  // Where listings are cached (data/file_index.h): unset means default_index_cache_dir(), "" no cache.
  std::optional<std::string> cache_dir;
};

class ImageFolder {
 public:
  // `split_dir` is the split folder itself. Throws nat::Error when it is missing, holds no images, or
  // has a class folder without images.
  explicit ImageFolder(const std::string& split_dir, ImageFolderOptions options = {});

  const std::string& root() const { return root_; }
  int64_t size() const { return static_cast<int64_t>(samples_.size()); }
  const Sample& sample(int64_t i) const { return samples_[static_cast<size_t>(i)]; }
  const std::vector<Sample>& samples() const { return samples_; }
  const std::vector<std::string>& classes() const { return classes_; }
  int64_t num_classes() const { return static_cast<int64_t>(classes_.size()); }
  bool listed_from_cache() const { return from_cache_; }

  // The file's bytes; throws nat::Error naming the path when it cannot be read.
  std::vector<uint8_t> read(int64_t i) const;

 private:
  std::string root_;
  std::vector<Sample> samples_;
  std::vector<std::string> classes_;
  bool from_cache_ = false;
};

// timm's split search: <data_dir>/<split>, else the synonyms of a train split (train, training) or
// of an eval split (val, valid, validation, eval, evaluation). Throws, naming what was tried.
std::string find_split_dir(const std::string& data_dir, const std::string& split);

// timm's natural_key order: digit runs compare as numbers, the rest case-insensitively.
bool natural_less(const std::string& a, const std::string& b);

// True for the extensions timm lists (.png, .jpg, .jpeg; any case).
bool has_image_extension(const std::string& path);

// One class folder name per line (blank lines ignored), in index order.
std::vector<std::string> load_class_map(const std::string& path);

// Reads a whole file; throws nat::Error naming the path on failure.
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace nat::data
