// Magic numbers and header parsing. JPEG: walk the marker segments from SOI to the first SOFn
// (n = 0..15 except 4 DHT, 8 JPG, 12 DAC); PNG: the IHDR chunk is always first, at byte 8.
#include "data/image_info.h"

#include <cstring>

#include "core/error.h"

namespace nat::data {

namespace {

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

void probe_jpeg(const uint8_t* d, size_t n, ImageInfo& info) {
  size_t i = 2;  // after SOI
  while (i + 4 <= n) {
    if (d[i] != 0xFF) return;           // not at a marker: corrupt header
    while (i < n && d[i] == 0xFF) ++i;  // fill bytes
    if (i >= n) return;
    uint8_t m = d[i++];
    if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) continue;  // markers without a length
    if (m == 0xD9 || m == 0xDA) return;                                // EOI / SOS before any SOF
    if (i + 2 > n) return;
    uint16_t len = be16(d + i);
    if (len < 2) return;
    bool sof = (m >= 0xC0 && m <= 0xCF) && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof) {
      if (i + 8 > n || len < 8) return;
      info.bit_depth = d[i + 2];
      info.height = be16(d + i + 3);
      info.width = be16(d + i + 5);
      info.channels = d[i + 7];
      return;
    }
    i += len;
  }
}

void probe_png(const uint8_t* d, size_t n, ImageInfo& info) {
  if (n < 8 + 8 + 13 || std::memcmp(d + 12, "IHDR", 4) != 0) return;
  info.width = static_cast<int>(be32(d + 16));
  info.height = static_cast<int>(be32(d + 20));
  info.bit_depth = d[24];
  switch (d[25]) {  // colour type
    case 0:
      info.channels = 1;
      break;
    case 2:  // RGB
    case 3:  // palette, expands to RGB
      info.channels = 3;
      break;
    case 4:
      info.channels = 2;
      break;
    case 6:
      info.channels = 4;
      break;
    default:
      info.channels = 0;
  }
  if (info.width <= 0 || info.height <= 0) info.width = info.height = 0;
}

}  // namespace

const char* format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::jpeg:
      return "JPEG";
    case ImageFormat::png:
      return "PNG";
    case ImageFormat::bmp:
      return "BMP";
    case ImageFormat::gif:
      return "GIF";
    case ImageFormat::webp:
      return "WebP";
    case ImageFormat::tiff:
      return "TIFF";
    case ImageFormat::unknown:
      break;
  }
  return "unknown format";
}

ImageFormat sniff_format(const uint8_t* d, size_t n) {
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return ImageFormat::jpeg;
  if (n >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return ImageFormat::png;
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return ImageFormat::bmp;
  if (n >= 6 && (std::memcmp(d, "GIF87a", 6) == 0 || std::memcmp(d, "GIF89a", 6) == 0)) return ImageFormat::gif;
  if (n >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0) return ImageFormat::webp;
  if (n >= 4 && (std::memcmp(d, "II*\0", 4) == 0 || std::memcmp(d, "MM\0*", 4) == 0)) return ImageFormat::tiff;
  return ImageFormat::unknown;
}

ImageInfo probe_image(const uint8_t* d, size_t n) {
  ImageInfo info;
  info.format = sniff_format(d, n);
  if (info.format == ImageFormat::jpeg) probe_jpeg(d, n, info);
  if (info.format == ImageFormat::png) probe_png(d, n, info);
  return info;
}

std::string ImageInfo::describe() const {
  if (!has_size()) return str(format_name(format), " (size unknown from the header)");
  return str(format_name(format), " ", width, "x", height, ", ", channels, " channel", channels == 1 ? "" : "s", ", ",
             bit_depth, "-bit");
}

}  // namespace nat::data
