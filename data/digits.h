// The digits dataset: the handwritten-digit sheet that Debian's opencv-doc package ships
// (/usr/share/doc/opencv-doc/examples/data/digits.png: 2000 x 1000 px, 20 x 20 px cells, 50 rows of
// 100 digits; rows 5k..5k+4 hold digit k, i.e. 500 per class) cut into an ImageFolder of PNGs:
//   <out>/train/<k>/<k>_<j>.png and <out>/val/<k>/<k>_<j>.png, j = 0..499 row-major within the class.
// The split is fixed and stratified: cell j goes to val when j % 10 == 9 (50 per class, spread over
// every row), to train otherwise (450 per class). No OpenCV in this header.
#pragma once

#include <cstdint>
#include <string>

namespace nat::data {

struct DigitsSummary {
  std::string sheet;
  int64_t train = 0, val = 0;
};

// The sheet's path: `hint` if given, else the Debian location (digits.png or digits.png.gz).
// Throws nat::Error with the apt command when it is missing.
std::string find_digits_sheet(const std::string& hint = "");

// Writes the dataset under `out_dir`. Refuses to write into existing train/ or val/ folders unless
// `overwrite` (then they are removed first).
DigitsSummary build_digits(const std::string& out_dir, const std::string& sheet = "", bool overwrite = false);

}  // namespace nat::data
