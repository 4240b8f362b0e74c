// The cached file index of an ImageFolder split. Listing 1.28M files costs seconds on a local disk
// and minutes on a network file system, so the listing is written once to
//   <cache_dir>/index-<hash of the split's absolute path>.txt
// with the modification time of every folder in the tree. It is reused while every recorded folder
// still has its recorded mtime (adding, removing or renaming an entry changes its folder's mtime).
// Writes are atomic (temporary file + rename); a cache that cannot be written only costs a relisting.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nat::data {

struct FileIndex {
  std::vector<std::pair<std::string, int64_t>> dirs;  // folder relative to the root ("." for it), mtime ns
  std::vector<std::string> files;                     // image files relative to the root, unsorted
};

// Walks `root` recursively (following symlinks, as timm's os.walk(followlinks=True)), keeping files
// with an image extension.
FileIndex list_image_tree(const std::string& root);

// The cached index of `root`, if one exists and is still valid.
std::optional<FileIndex> load_file_index(const std::string& cache_dir, const std::string& root);
// Returns false (and says why, once per process, on stderr) when the cache cannot be written.
bool save_file_index(const std::string& cache_dir, const std::string& root, const FileIndex& index);

// $NAT_CACHE_DIR, else $XDG_CACHE_HOME/nat, else $HOME/.cache/nat, else "" (no cache).
std::string default_index_cache_dir();

}  // namespace nat::data
