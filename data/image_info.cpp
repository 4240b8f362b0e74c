// Magic numbers and header parsing, every read bounds-checked (the image decoder fuzz test feeds
// mutated headers). JPEG: walk the marker segments from SOI to the first SOFn (n = 0..15 except 4 DHT,
// 8 JPG, 12 DAC), skipping stray bytes between segments as libjpeg does; PNG: the IHDR chunk is always
// first, at byte 8; BMP: the info header after the 14-byte file header; WebP: the first chunk (VP8,
// VP8L or the extended VP8X canvas); TIFF: the width and length tags of the first IFD.
#include "data/image_info.h"

#include <cstring>

#include "core/error.h"

namespace nat::data {

namespace {

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

void probe_jpeg(const uint8_t* d, size_t n, ImageInfo& info) {
  size_t i = 2;  // after SOI
  while (i + 4 <= n) {
    if (d[i] != 0xFF) {  // stray bytes before a marker: libjpeg skips them (with a warning), so must we
      ++i;
      continue;
    }
    while (i < n && d[i] == 0xFF) ++i;  // fill bytes
    if (i >= n) return;
    uint8_t m = d[i++];
    if (m == 0x00) continue;                                           // a stuffed 0xFF, not a marker
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

void probe_bmp(const uint8_t* d, size_t n, ImageInfo& info) {
  if (n < 26) return;
  const uint32_t header = le32(d + 14);
  int64_t w = 0, h = 0;
  if (header == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
    w = le16(d + 18);
    h = le16(d + 20);
  } else if (header >= 40 && n >= 26) {  // BITMAPINFOHEADER and later: signed 32-bit, height < 0 is top-down
    w = static_cast<int32_t>(le32(d + 18));
    h = static_cast<int32_t>(le32(d + 22));
    if (h < 0) h = -h;
  }
  if (w > 0 && h > 0 && w <= INT32_MAX && h <= INT32_MAX) {
    info.width = static_cast<int>(w);
    info.height = static_cast<int>(h);
  }
}

void probe_webp(const uint8_t* d, size_t n, ImageInfo& info) {
  if (n < 30) return;
  int64_t w = 0, h = 0;
  if (std::memcmp(d + 12, "VP8 ", 4) == 0) {  // lossy: a 3-byte frame tag, the start code, 14-bit sizes
    if (d[23] != 0x9D || d[24] != 0x01 || d[25] != 0x2A) return;
    w = le16(d + 26) & 0x3FFF;
    h = le16(d + 28) & 0x3FFF;
  } else if (std::memcmp(d + 12, "VP8L", 4) == 0) {  // lossless: signature 0x2F, then (w-1, h-1) in 14 bits each
    if (d[20] != 0x2F) return;
    const uint32_t bits = le32(d + 21);
    w = (bits & 0x3FFF) + 1;
    h = ((bits >> 14) & 0x3FFF) + 1;
  } else if (std::memcmp(d + 12, "VP8X", 4) == 0) {  // extended: the canvas, (w-1, h-1) in 24 bits each
    w = (int64_t{d[24]} | (int64_t{d[25]} << 8) | (int64_t{d[26]} << 16)) + 1;
    h = (int64_t{d[27]} | (int64_t{d[28]} << 8) | (int64_t{d[29]} << 16)) + 1;
  }
  if (w > 0 && h > 0) {
    info.width = static_cast<int>(w);
    info.height = static_cast<int>(h);
  }
}

void probe_tiff(const uint8_t* d, size_t n, ImageInfo& info) {
  if (n < 8) return;
  const bool le = d[0] == 'I';
  auto u16 = [&](size_t at) -> uint32_t { return le ? le16(d + at) : be16(d + at); };
  auto u32 = [&](size_t at) -> uint32_t { return le ? le32(d + at) : be32(d + at); };
  const size_t ifd = u32(4);
  if (ifd > n || n - ifd < 2) return;
  const size_t count = u16(ifd);
  uint32_t w = 0, h = 0;
  for (size_t k = 0; k < count; ++k) {
    const size_t e = ifd + 2 + 12 * k;
    if (e > n || n - e < 12) return;
    const uint32_t tag = u16(e), type = u16(e + 2);
    if (tag != 256 && tag != 257) continue;  // ImageWidth, ImageLength
    uint32_t v = 0;
    if (type == 3)  // SHORT: in the first two bytes of the value field
      v = u16(e + 8);
    else if (type == 4)  // LONG
      v = u32(e + 8);
    else
      return;
    (tag == 256 ? w : h) = v;
  }
  if (w > 0 && h > 0 && w <= INT32_MAX && h <= INT32_MAX) {
    info.width = static_cast<int>(w);
    info.height = static_cast<int>(h);
  }
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
  if (info.format == ImageFormat::bmp) probe_bmp(d, n, info);
  if (info.format == ImageFormat::webp) probe_webp(d, n, info);
  if (info.format == ImageFormat::tiff) probe_tiff(d, n, info);
  return info;
}

void check_image_size(const ImageInfo& info, int64_t max_pixels) {
  if (!info.has_size())
    throw DecodeError(str("corrupt ", format_name(info.format), " header: no image size found in it"));
  const int64_t pixels = int64_t{info.width} * info.height;
  if (max_pixels > 0 && pixels > max_pixels)
    throw DecodeError(str(format_name(info.format), " image of ", info.width, " x ", info.height, " = ", pixels,
                          " pixels exceeds max_image_pixels = ", max_pixels,
                          " (a decompression bomb?); refused before decoding. Raise max_image_pixels (0: no "
                          "limit) if the image is genuine"));
}

std::string ImageInfo::describe() const {
  if (!has_size()) return str(format_name(format), " (size unknown from the header)");
  if (channels == 0) return str(format_name(format), " ", width, "x", height);
  return str(format_name(format), " ", width, "x", height, ", ", channels, " channel", channels == 1 ? "" : "s", ", ",
             bit_depth, "-bit");
}

}  // namespace nat::data
