// `nat data check`: decode every image of a tree (in parallel) and report the ones that fail, plus the
// odd-but-decodable files a C++ loader must handle (ImageNet has a PNG named .JPEG, CMYK JPEGs and
// grayscale images; files found in the ImageNet training set). No OpenCV in this header.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/image_info.h"

namespace nat::data {

struct CheckOptions {
  int64_t workers = 0;     // 0: all hardware threads
  bool all_files = false;  // also files without an image extension
  // Images whose header promises more pixels are reported bad without being decoded (0: no limit).
  int64_t max_image_pixels = kDefaultMaxImagePixels;
  // Called (from one thread at a time) for each file that fails, as soon as it is found.
  std::function<void(const std::string& path, const std::string& reason)> on_bad;
  // Called now and then (from one thread at a time) with the number of files done.
  std::function<void(int64_t done, int64_t total)> on_progress;
};

struct CheckReport {
  int64_t files = 0, bytes = 0;
  std::vector<std::pair<std::string, std::string>> bad;  // (path, reason), sorted by path
  int64_t format_differs_from_extension = 0;             // e.g. a PNG named .JPEG
  int64_t cmyk_jpeg = 0, grayscale = 0, with_alpha = 0, sixteen_bit = 0, other_format = 0;
  double seconds = 0;
};

// Throws nat::Error when `dir` does not exist; an empty tree gives files == 0. Any failure on one
// file (decoder error, OpenCV exception, out of memory) lists that file as bad with the reason; none ends
// the check.
CheckReport check_tree(const std::string& dir, const CheckOptions& options = {});

}  // namespace nat::data
