// Resampling with PIL's semantics, which torchvision (and so timm) uses on PIL images: a separable
// convolution whose filter (triangle for bilinear, Keys cubic a = -0.5 for bicubic) is widened by the
// downscale factor, i.e. antialiased when shrinking. OpenCV's INTER_LINEAR/INTER_CUBIC do not widen
// the filter and alias when shrinking, which would change what the network sees.
// The source region is a float box, so a crop and its resize are one pass over only the pixels needed.
#pragma once

#include <opencv2/core.hpp>

namespace nat::data {

enum class Interp : uint8_t { bilinear, bicubic };

const char* interp_name(Interp i);

struct Box {
  double x = 0, y = 0, w = 0, h = 0;  // in source pixels; (0, 0) is the top-left corner of pixel (0, 0)
};

// Resamples `box` of `src` (CV_8UC3) into `dst` (CV_8UC3, out_w x out_h; reallocated if needed).
// flip_x mirrors the result horizontally at no extra cost.
void resize_box(const cv::Mat& src, cv::Mat& dst, int out_w, int out_h, Box box, Interp interp, bool flip_x = false);

// The pixels resize_box reads from an in_w x in_h source: the box widened by the filter's reach, clipped
// to the image. Decoding just this region and resizing the box shifted by its origin gives the same result.
cv::Rect source_region(int in_w, int in_h, Box box, int out_w, int out_h, Interp interp);

}  // namespace nat::data
