// Synthetic, natural-looking photographs for benchmarks and tests: smooth colour fields, soft-edged
// shapes and multi-scale grain, so that JPEG sizes and decode costs resemble ImageNet's
// (a 500 x 375 image at quality 90 is ~105 kB). Deterministic in the seed. No OpenCV in this header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nat::data {

// Encoded JPEG bytes of image `index` (width x height, 4:2:0, `quality`).
std::vector<uint8_t> synthetic_jpeg(uint64_t seed, int64_t index, int width, int height, int quality = 90);

// Writes `count` JPEGs as an ImageFolder split: <dir>/c<k>/img_<i>.JPEG, k = i % classes.
// Returns the total number of bytes written.
int64_t write_synthetic_image_folder(const std::string& dir, int64_t count, int64_t classes, int width, int height,
                                     uint64_t seed = 0, int quality = 90);

}  // namespace nat::data
