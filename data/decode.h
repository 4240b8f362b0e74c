// Decoding with OpenCV, from bytes: whatever the file holds (JPEG incl. CMYK/YCCK and grayscale, PNG
// incl. palette, RGBA and 16-bit, BMP, WebP, TIFF) becomes 8-bit RGB. The format comes from the magic
// bytes (data/image_info.h). As PIL (and so timm) does, EXIF orientation is ignored and alpha dropped.
// JPEGs can be decoded at 1/2, 1/4 or 1/8 size (libjpeg's DCT scaling), far cheaper when the pipeline
// would shrink the image that much anyway, and only over the region a crop needs (data/jpeg_region.h).
// Hostile files: the size is read from the header and checked against `max_pixels` (PIL's limit by
// default; 0: none) before any decoder allocates, and every OpenCV exception becomes a DecodeError.
#pragma once

#include <opencv2/core.hpp>

#include "data/image_info.h"

namespace nat::data {

// Decodes to CV_8UC3 RGB. `reduce` (1, 2, 4 or 8) applies to JPEG only; other formats decode at full
// size. Throws DecodeError with the reason (unknown format, no size in the header, over `max_pixels`,
// truncated JPEG, decoder failure), and nat::Error when memory runs out.
cv::Mat decode_rgb(const uint8_t* data, size_t size, int reduce = 1, int64_t max_pixels = kDefaultMaxImagePixels);

// Part of an image: rows [y0, y0 + rgb.rows) and columns [x0, x0 + rgb.cols) of the image at 1/reduce
// scale (JPEG only; other formats are whole, at full size), whose size is width x height.
struct DecodedRegion {
  cv::Mat rgb;
  int x0 = 0, y0 = 0;
  int width = 0, height = 0;
  int reduce = 1;  // the reduction actually applied
};

// Decodes at least `want` (pixels of the 1/reduce image; empty: all). JPEGs with 1 or 3 components are
// decoded by libjpeg-turbo directly, only over `want` rounded out to whole MCUs (when this build has the
// libjpeg headers); everything else goes through cv::imdecode whole. Throws as decode_rgb does.
DecodedRegion decode_rgb_region(const uint8_t* data, size_t size, int reduce, cv::Rect want,
                                int64_t max_pixels = kDefaultMaxImagePixels);

// A side of the image at 1/reduce scale, as libjpeg computes it (rounded up).
inline int reduced_size(int full, int reduce) { return (full + reduce - 1) / reduce; }

// The largest JPEG reduction in {1, 2, 4, 8} that keeps a (region_w x region_h) region of the image at
// least (out_w x out_h) pixels, i.e. the region is still shrunk (never enlarged) afterwards.
int jpeg_reduction(double region_w, double region_h, int out_w, int out_h);

}  // namespace nat::data
