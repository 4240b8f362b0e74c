// What a file is, from its first bytes, never from its name (ImageNet has a PNG named .JPEG):
// the format by magic number, and for JPEG and PNG the size, channel count and bit depth read from
// the header (JPEG SOF segment, PNG IHDR) without decoding. No OpenCV needed.
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

struct ImageInfo {
  ImageFormat format = ImageFormat::unknown;
  int width = 0, height = 0;  // 0 when the header could not be read
  int channels = 0;           // JPEG: components (1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK); PNG: with alpha
  int bit_depth = 0;          // bits per channel (PNG 1..16, JPEG 8 or 12)
  bool has_size() const { return width > 0 && height > 0; }
  std::string describe() const;  // "JPEG 500x375, 3 channels, 8-bit"
};

ImageFormat sniff_format(const uint8_t* data, size_t size);
ImageInfo probe_image(const uint8_t* data, size_t size);  // never throws

}  // namespace nat::data
