// The PIL image operations that timm's RandAugment and torchvision's ColorJitter call, on 8-bit RGB
// cv::Mat, with PIL's arithmetic: ImageOps (autocontrast, equalize, invert, posterize, solarize),
// ImageEnhance (blend with a degenerate image: grey for Color, mean grey for Contrast, black for
// Brightness, the SMOOTH-filtered image for Sharpness; the result truncated to 8 bits and clipped),
// and affine transforms as Image.transform does them (output pixel centres mapped through the matrix;
// a centre that lands outside the source takes the fill colour, others interpolate with edge clamping).
// Known difference: PIL's bicubic uses a = -0.5, OpenCV's warpAffine a = -0.75.
#pragma once

#include <array>
#include <cstdint>
#include <opencv2/core.hpp>

#include "data/resize.h"

namespace nat::data {

using Rgb = std::array<uint8_t, 3>;

void auto_contrast(cv::Mat& img);
void equalize(cv::Mat& img);
void invert(cv::Mat& img);
void posterize(cv::Mat& img, int bits);                         // keep the `bits` high bits (>= 8: unchanged)
void solarize(cv::Mat& img, int threshold);                     // v >= threshold -> 255 - v
void solarize_add(cv::Mat& img, int add, int threshold = 128);  // v < threshold -> min(255, v + add)
void enhance_color(cv::Mat& img, double factor);                // 0: greyscale, 1: unchanged
void enhance_contrast(cv::Mat& img, double factor);             // 0: mean grey
void enhance_brightness(cv::Mat& img, double factor);           // 0: black
void enhance_sharpness(cv::Mat& img, double factor);            // 0: smoothed, 2: sharpened

// PIL's L conversion of one RGB pixel (ITU-R 601-2 luma, rounded).
inline uint8_t luma(const uint8_t* p) {
  return static_cast<uint8_t>((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
}

// Image.transform(size, AFFINE, (a, b, c, d, e, f)): the output pixel whose centre is (x, y) (pixel
// centres at +0.5) takes the source at (a x + b y + c, d x + e y + f).
void affine_pil(cv::Mat& img, const std::array<double, 6>& m, Interp interp, const Rgb& fill);
void shear_x(cv::Mat& img, double factor, Interp interp, const Rgb& fill);
void shear_y(cv::Mat& img, double factor, Interp interp, const Rgb& fill);
void translate_x(cv::Mat& img, double pixels, Interp interp, const Rgb& fill);
void translate_y(cv::Mat& img, double pixels, Interp interp, const Rgb& fill);
void rotate(cv::Mat& img, double degrees, Interp interp, const Rgb& fill);  // counter-clockwise, about the centre

}  // namespace nat::data
