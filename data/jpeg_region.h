// JPEG region decoding with libjpeg-turbo (the library OpenCV's own JPEG codec calls): only the rows and
// columns a crop needs (jpeg_skip_scanlines, jpeg_crop_scanline), straight to RGB, at 1/1..1/8 scale.
// Why not cv::imdecode for JPEG: it always decodes the whole image and then swaps RGB to BGR in a scalar
// loop (a third of its time), which the pipeline would swap back. Output pixels are libjpeg's, exactly
// as a full decode gives them. Internal to data/decode.cpp; built only when libjpeg headers exist.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>

namespace nat::data {

// unsupported: a 4-component (CMYK/YCCK) JPEG, left to OpenCV. refused: over the pixel limit, or its
// scan data ends before the decoded rows (a truncated file); `error` says which.
enum class JpegResult { ok, unsupported, error, refused };

// Decodes the region `want` (pixels of the 1/reduce image; an empty rect means all) into `out`, a
// CV_8UC3 RGB image covering columns [*x0, *x0 + out.cols) and rows [*y0, *y0 + out.rows), a superset of
// `want` (widened to whole MCUs). *width, *height: the full-size image's, from the header libjpeg read,
// which is checked against `max_pixels` (0: no limit) before anything is allocated.
JpegResult decode_jpeg_region(const uint8_t* data, size_t size, int reduce, cv::Rect want, int64_t max_pixels,
                              cv::Mat& out, int* x0, int* y0, int* width, int* height, std::string& error);

}  // namespace nat::data
