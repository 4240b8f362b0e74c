// OpenCV decoding with format checks. A JPEG whose entropy-coded data is cut short still "decodes" in
// libjpeg (the rest is filled with grey, with a warning on stderr); PIL refuses such a file, so it is
// refused here too: after the first SOS marker, a real EOI (FF D9) must follow, since entropy-coded
// data cannot contain that byte pair (0xFF is stuffed as FF 00); and a file whose scan data ends
// before the image its header promises is complete is refused from libjpeg's premature-end warning
// (data/jpeg_region.cpp). The size from the header is checked against the pixel limit first.
#include "data/decode.h"

#include <cstdio>
#include <cstring>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#if NAT_WITH_LIBJPEG
#include "data/jpeg_region.h"
#endif

namespace nat::data {

namespace {

bool jpeg_has_eoi(const uint8_t* d, size_t n) {
  // Walk header segments to the first SOS, then look for FF D9 in the rest.
  size_t i = 2;
  while (i + 4 <= n) {
    if (d[i] != 0xFF) return false;
    while (i < n && d[i] == 0xFF) ++i;
    if (i >= n) return false;
    uint8_t m = d[i++];
    if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) continue;
    if (m == 0xD9) return false;
    if (i + 2 > n) return false;
    size_t len = (size_t{d[i]} << 8) | d[i + 1];
    if (m == 0xDA) {
      if (len >= n - i) return false;
      for (const uint8_t* p = d + i + len; p + 1 < d + n;) {
        p = static_cast<const uint8_t*>(std::memchr(p, 0xFF, static_cast<size_t>(d + n - p - 1)));
        if (!p) return false;
        if (p[1] == 0xD9) return true;
        ++p;
      }
      return false;
    }
    i += len;
  }
  return false;
}

}  // namespace

int jpeg_reduction(double region_w, double region_h, int out_w, int out_h) {
  for (int f : {8, 4, 2})
    if (region_w / f >= out_w && region_h / f >= out_h) return f;
  return 1;
}

cv::Mat decode_rgb(const uint8_t* data, size_t size, int reduce, int64_t max_pixels) {
  DecodedRegion r = decode_rgb_region(data, size, reduce, cv::Rect(), max_pixels);
  return r.rgb;
}

namespace {

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// The decoding proper, once the header has passed the checks.
DecodedRegion decode_checked(const uint8_t* data, size_t size, const ImageInfo& info, int reduce, cv::Rect want,
                             int64_t max_pixels) {
  const ImageFormat fmt = info.format;
  DecodedRegion out;
  int flags = cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION;
  if (fmt == ImageFormat::jpeg) {
#if NAT_WITH_LIBJPEG
    std::string error;
    int width = 0, height = 0;
    JpegResult r =
        decode_jpeg_region(data, size, reduce, want, max_pixels, out.rgb, &out.x0, &out.y0, &width, &height, error);
    if (r == JpegResult::error) throw DecodeError("corrupt JPEG data: " + error);
    if (r == JpegResult::refused) throw DecodeError(error);
    if (r == JpegResult::ok) {
      out.width = reduced_size(width, reduce);
      out.height = reduced_size(height, reduce);
      out.reduce = reduce;
      return out;
    }
#else
    (void)want;
#endif
    if (reduce == 2) flags = cv::IMREAD_REDUCED_COLOR_2 | cv::IMREAD_IGNORE_ORIENTATION;
    if (reduce == 4) flags = cv::IMREAD_REDUCED_COLOR_4 | cv::IMREAD_IGNORE_ORIENTATION;
    if (reduce == 8) flags = cv::IMREAD_REDUCED_COLOR_8 | cv::IMREAD_IGNORE_ORIENTATION;
  }
  cv::Mat buf(1, static_cast<int>(size), CV_8UC1, const_cast<uint8_t*>(data));
  cv::Mat img = cv::imdecode(buf, flags);
  if (img.empty()) throw DecodeError(str("corrupt ", format_name(fmt), " data (the decoder returned no image)"));
  if (img.type() != CV_8UC3) throw DecodeError(str("unexpected decoded type ", img.type(), " for ", format_name(fmt)));
  // The header was checked; this catches a decoder that found another size in the file than the header said.
  check_image_size(ImageInfo{fmt, img.cols, img.rows}, max_pixels);
  cv::cvtColor(img, out.rgb, cv::COLOR_BGR2RGB);
  out.width = out.rgb.cols;
  out.height = out.rgb.rows;
  out.reduce = fmt == ImageFormat::jpeg ? reduce : 1;
  return out;
}

}  // namespace

DecodedRegion decode_rgb_region(const uint8_t* data, size_t size, int reduce, cv::Rect want, int64_t max_pixels) {
  if (size == 0) throw DecodeError("empty file");
  const ImageInfo info = probe_image(data, size);
  const ImageFormat fmt = info.format;
  if (fmt == ImageFormat::unknown) {
    char head[64];
    std::snprintf(head, sizeof head, "first bytes %02x %02x %02x %02x", data[0], size > 1 ? data[1] : 0,
                  size > 2 ? data[2] : 0, size > 3 ? data[3] : 0);
    throw DecodeError(str("not an image: unknown format (", head, ")"));
  }
  if (fmt == ImageFormat::gif) throw DecodeError("GIF images are not supported by OpenCV");
  NAT_CHECK(reduce == 1 || reduce == 2 || reduce == 4 || reduce == 8, "[decode] reduce must be 1, 2, 4 or 8, got ",
            reduce);
  if (size > static_cast<size_t>(INT32_MAX))
    throw DecodeError(str("a file of ", size, " bytes is over the 2 GiB OpenCV can decode"));
  // A JPEG cut short is said to be truncated, even when the cut took its size away.
  if (fmt == ImageFormat::jpeg && !jpeg_has_eoi(data, size))
    throw DecodeError("truncated or corrupt JPEG (no end-of-image marker after the scan data)");
  check_image_size(info, max_pixels);
  try {
    return decode_checked(data, size, info, reduce, want, max_pixels);
  } catch (const cv::Exception& e) {
    // OpenCV reports corrupt data (and its own size limits) by exception; the message is multi-line.
    throw DecodeError(str(format_name(fmt), " decoder failed: ", one_line(e.err.empty() ? e.what() : e.err)));
  } catch (const std::bad_alloc&) {
    NAT_THROW("[decode] out of memory decoding a ", info.width, " x ", info.height, " ", format_name(fmt), " image");
  }
}

}  // namespace nat::data
