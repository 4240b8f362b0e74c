// Cutting the opencv-doc digit sheet into an ImageFolder (see digits.h).
#include "data/digits.h"

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <vector>

#include "core/error.h"
#include "data/image_folder.h"

#if NAT_WITH_ZLIB
#include <zlib.h>
#endif

namespace fs = std::filesystem;

namespace nat::data {

namespace {

constexpr const char* kDebianSheet = "/usr/share/doc/opencv-doc/examples/data/digits.png";
constexpr int kCell = 20, kCols = 100, kRowsPerClass = 5, kClasses = 10;

std::vector<uint8_t> gunzip(const std::vector<uint8_t>& in, const std::string& path) {
#if NAT_WITH_ZLIB
  z_stream zs{};
  NAT_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, "[digits] zlib init failed");
  std::vector<uint8_t> out;
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  uint8_t chunk[1 << 16];
  while (rc == Z_OK) {
    zs.next_out = chunk;
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.insert(out.end(), chunk, chunk + (sizeof chunk - zs.avail_out));
  }
  inflateEnd(&zs);
  NAT_CHECK(rc == Z_STREAM_END, "[digits] ", path, " is not a valid gzip file");
  return out;
#else
  (void)in;
  NAT_THROW("[digits] ", path, " is gzipped and this build has no zlib; gunzip it first");
#endif
}

}  // namespace

std::string find_digits_sheet(const std::string& hint) {
  std::error_code ec;
  if (!hint.empty()) {
    NAT_CHECK(fs::is_regular_file(hint, ec), "[digits] the digit sheet ", hint, " does not exist");
    return hint;
  }
  for (std::string p : {std::string(kDebianSheet), std::string(kDebianSheet) + ".gz"})
    if (fs::is_regular_file(p, ec)) return p;
  NAT_THROW("[digits] the handwritten-digit sheet ", kDebianSheet,
            " is missing. It ships with Debian's opencv-doc "
            "package: run `apt-get install -y opencv-doc` (as root), or pass --sheet PATH to a copy of OpenCV's "
            "samples/data/digits.png");
}

DigitsSummary build_digits(const std::string& out_dir, const std::string& sheet_hint, bool overwrite) {
  DigitsSummary sum;
  sum.sheet = find_digits_sheet(sheet_hint);
  std::vector<uint8_t> bytes = read_file_bytes(sum.sheet);
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) bytes = gunzip(bytes, sum.sheet);
  cv::Mat sheet = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1, bytes.data()), cv::IMREAD_GRAYSCALE);
  NAT_CHECK(!sheet.empty(), "[digits] ", sum.sheet, " is not a decodable image");
  NAT_CHECK(sheet.cols == kCols * kCell && sheet.rows == kClasses * kRowsPerClass * kCell, "[digits] ", sum.sheet,
            " is ", sheet.cols, "x", sheet.rows, " px; expected the 2000x1000 sheet of 20x20 digits");

  std::error_code ec;
  for (const char* split : {"train", "val"}) {
    fs::path d = fs::path(out_dir) / split;
    if (fs::exists(d, ec) && !fs::is_empty(d, ec)) {
      NAT_CHECK(overwrite, "[digits] ", d.string(), " already exists and is not empty (use --force to replace it)");
      fs::remove_all(d, ec);
      NAT_CHECK(!ec, "[digits] cannot remove ", d.string(), ": ", ec.message());
    }
  }
  for (int k = 0; k < kClasses; ++k)
    for (const char* split : {"train", "val"}) {
      fs::create_directories(fs::path(out_dir) / split / std::to_string(k), ec);
      NAT_CHECK(!ec, "[digits] cannot create ", (fs::path(out_dir) / split).string(), ": ", ec.message());
    }

  const std::vector<int> png_params = {cv::IMWRITE_PNG_COMPRESSION, 1};
  for (int k = 0; k < kClasses; ++k) {
    for (int j = 0; j < kRowsPerClass * kCols; ++j) {
      int row = k * kRowsPerClass + j / kCols, col = j % kCols;
      cv::Mat cell = sheet(cv::Rect(col * kCell, row * kCell, kCell, kCell));
      bool val = j % 10 == 9;
      char name[32];
      std::snprintf(name, sizeof name, "%d_%03d.png", k, j);
      fs::path p = fs::path(out_dir) / (val ? "val" : "train") / std::to_string(k) / name;
      NAT_CHECK(cv::imwrite(p.string(), cell, png_params), "[digits] cannot write ", p.string());
      ++(val ? sum.val : sum.train);
    }
  }
  return sum;
}

}  // namespace nat::data
