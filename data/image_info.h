// What a file is, from its first bytes, never from its name (ImageNet has a PNG named .JPEG):
// the format by magic number, and the size read from the header without decoding (JPEG SOF segment,
// PNG IHDR, BMP info header, WebP VP8/VP8L/VP8X chunk, TIFF first IFD), with the channel count and bit
// depth for JPEG and PNG. Decoders check the size against a pixel limit before allocating anything
// (check_image_size). No OpenCV needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"

namespace nat::data {

// A file that is not a decodable image (unknown format, corrupt or truncated data). The loader
// catches it to skip and count the sample; the message names the reason, the caller adds the path.
class DecodeError : public Error {
 public:
  using Error::Error;
};

enum class ImageFormat : uint8_t { unknown, jpeg, png, bmp, gif, webp, tiff };

const char* format_name(ImageFormat f);

// PIL's Image.MAX_IMAGE_PIXELS (the DataConfig key max_image_pixels defaults to it): 1024 * 1024 * 1024 // 4 // 3.
constexpr int64_t kDefaultMaxImagePixels = 89478485;

struct ImageInfo {
  ImageFormat format = ImageFormat::unknown;
  int width = 0, height = 0;  // 0 when the header could not be read
  int channels = 0;           // JPEG: components (1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK); PNG: with alpha; else 0
  int bit_depth = 0;          // bits per channel (PNG 1..16, JPEG 8 or 12); else 0
  bool has_size() const { return width > 0 && height > 0; }
  std::string describe() const;  // "JPEG 500x375, 3 channels, 8-bit"
};

ImageFormat sniff_format(const uint8_t* data, size_t size);
ImageInfo probe_image(const uint8_t* data, size_t size);  // never throws

// Throws DecodeError when the header gave no size (a corrupt header: no decoder is trusted with it) or
// when width x height exceeds `max_pixels` (0: no limit), naming both; the caller adds the file's path.
void check_image_size(const ImageInfo& info, int64_t max_pixels);

}  // namespace nat::data
