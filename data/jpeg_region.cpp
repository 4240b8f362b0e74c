// libjpeg-turbo region decoding (see jpeg_region.h). libjpeg reports fatal errors through error_exit,
// which must not return: it longjmps back here. Only objects declared before the setjmp (whose scope the
// jump does not leave) are touched after it, so no destructor is skipped. Warnings (e.g. "extraneous bytes
// before marker", which PIL also tolerates) are silenced, except the two that mean the scan data ended
// before the image did (a truncated file, whose missing rows libjpeg would fill with grey): those refuse it.
#include "data/jpeg_region.h"

#include <csetjmp>
#include <cstdio>

#include "core/error.h"

// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>
// after jpeglib.h: the message codes of the warnings that mean "truncated"
#include <jerror.h>

namespace nat::data {

namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  char truncated[JMSG_LENGTH_MAX];  // the first premature-end warning, or ""
};

void on_error(j_common_ptr c) {
  auto* e = reinterpret_cast<ErrorManager*>(c->err);
  (*c->err->format_message)(c, e->message);
  std::longjmp(e->jump, 1);
}

void on_message(j_common_ptr c, int level) {
  auto* e = reinterpret_cast<ErrorManager*>(c->err);
  const int code = c->err->msg_code;
  if (level < 0 && (code == JWRN_HIT_MARKER || code == JWRN_JPEG_EOF) && e->truncated[0] == 0)
    (*c->err->format_message)(c, e->truncated);
}

}  // namespace

JpegResult decode_jpeg_region(const uint8_t* data, size_t size, int reduce, cv::Rect want, int64_t max_pixels,
                              cv::Mat& out, int* x0, int* y0, int* width, int* height, std::string& error) {
  jpeg_decompress_struct c{};
  ErrorManager err{};
  c.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  JpegResult result = JpegResult::ok;
  cv::Mat rows;  // declared before the setjmp, so a longjmp never leaves its scope
  if (setjmp(err.jump)) {
    error = err.message;
    jpeg_destroy_decompress(&c);
    return JpegResult::error;
  }
  jpeg_create_decompress(&c);
  jpeg_mem_src(&c, data, static_cast<unsigned long>(size));
  jpeg_read_header(&c, TRUE);
  *width = static_cast<int>(c.image_width);
  *height = static_cast<int>(c.image_height);
  if (max_pixels > 0 && int64_t{c.image_width} * c.image_height > max_pixels) {
    error = str("JPEG image of ", c.image_width, " x ", c.image_height, " = ", int64_t{c.image_width} * c.image_height,
                " pixels exceeds max_image_pixels = ", max_pixels, "; refused before decoding");
    result = JpegResult::refused;
  } else if (c.num_components != 1 && c.num_components != 3) {
    result = JpegResult::unsupported;
  } else {
    c.out_color_space = JCS_RGB;
    c.scale_num = 1;
    c.scale_denom = static_cast<unsigned int>(reduce);
    jpeg_start_decompress(&c);
    const int W = static_cast<int>(c.output_width), H = static_cast<int>(c.output_height);
    const cv::Rect image(0, 0, W, H);
    cv::Rect r = want.area() > 0 ? (want & image) : image;
    if (r.area() == 0) r = image;
    // Chroma upsampling at a cropped edge replicates the edge instead of reading the neighbour, so the
    // outermost columns of a cropped row differ from a full decode: decode kEdge more on each side and
    // drop them again. (Skipped rows have no such effect.)
    const int kEdge = 2;
    cv::Rect wide = r.x == 0 && r.width == W ? r : (cv::Rect(r.x - kEdge, r.y, r.width + 2 * kEdge, r.height) & image);
    JDIMENSION xoff = static_cast<JDIMENSION>(wide.x), cols = static_cast<JDIMENSION>(wide.width);
    if (wide.x != 0 || wide.width != W) jpeg_crop_scanline(&c, &xoff, &cols);  // widens to whole MCUs
    if (r.y > 0) jpeg_skip_scanlines(&c, static_cast<JDIMENSION>(r.y));
    try {
      rows.create(r.height, static_cast<int>(cols), CV_8UC3);
    } catch (...) {  // out of memory: free libjpeg's state before the exception leaves
      jpeg_destroy_decompress(&c);
      throw;
    }
    while (c.output_scanline < static_cast<JDIMENSION>(r.y + r.height)) {
      JSAMPROW row = rows.ptr<uint8_t>(static_cast<int>(c.output_scanline) - r.y);
      if (jpeg_read_scanlines(&c, &row, 1) != 1) {  // cannot happen with a memory source; never spin
        std::snprintf(err.truncated, sizeof err.truncated, "no scanline returned");
        break;
      }
    }
    if (err.truncated[0]) {
      error = str("truncated JPEG: its scan data ends before the ", c.image_width, " x ", c.image_height,
                  " image its header promises (libjpeg: ", err.truncated, ")");
      result = JpegResult::refused;
    } else {
      const int left = xoff > 0 ? kEdge : 0, right = static_cast<int>(xoff + cols) < W ? kEdge : 0;
      out = rows(cv::Rect(left, 0, static_cast<int>(cols) - left - right, r.height));
      *x0 = static_cast<int>(xoff) + left;
      *y0 = r.y;
    }
  }
  jpeg_abort_decompress(&c);
  jpeg_destroy_decompress(&c);
  return result;
}

}  // namespace nat::data
