// PyTorch-like tensor printing: nested brackets, a shared number format per tensor,
// "..." summaries for large tensors, and a footer with dtype and device.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/tensor.h"

namespace nat {

PrintOptions& print_options() {
  static PrintOptions o;
  return o;
}

namespace {

struct Formatter {
  bool integer = false;
  bool scientific = false;
  int precision = 4;
  std::string operator()(double v) const {
    char buf[64];
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (integer) std::snprintf(buf, sizeof buf, "%.0f", v);
    else if (scientific) std::snprintf(buf, sizeof buf, "%.*e", precision, v);
    else std::snprintf(buf, sizeof buf, "%.*f", precision, v);
    return buf;
  }
};

// cells: every element already formatted, in row-major order.
void print_rec(std::ostringstream& os, const std::vector<std::string>& cells, const Shape& shape, const Shape& strides,
               int64_t dim, int64_t base, bool summarize, int64_t edge, int indent, size_t width) {
  if (dim == static_cast<int64_t>(shape.size())) {
    const std::string& s = cells[base];
    os << std::string(width > s.size() ? width - s.size() : 0, ' ') << s;
    return;
  }
  os << "[";
  int64_t n = shape[dim];
  bool last = dim == static_cast<int64_t>(shape.size()) - 1;
  for (int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * edge && i == edge) {
      os << (last ? "..., " : "...,\n" + std::string(indent + 1, ' '));
      i = n - edge - 1;
      continue;
    }
    print_rec(os, cells, shape, strides, dim + 1, base + i * strides[dim], summarize, edge, indent + 1, width);
    if (i + 1 < n) {
      if (last) os << ", ";
      else os << "," << std::string(shape.size() - dim - 1, '\n') << std::string(indent + 1, ' ');
    }
  }
  os << "]";
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  const PrintOptions& po = print_options();
  std::vector<double> v = to_double_vector();
  Formatter f;
  f.precision = po.precision;
  f.integer = is_integer(dtype());
  double maxabs = 0, minabs = INFINITY;
  bool all_int = true;
  for (double x : v) {
    if (!std::isfinite(x)) continue;
    maxabs = std::max(maxabs, std::fabs(x));
    if (x != 0) minabs = std::min(minabs, std::fabs(x));
    if (x != std::floor(x)) all_int = false;
  }
  if (!f.integer) {
    f.scientific = maxabs >= 1e8 || (minabs < 1e-4 && minabs > 0) || (maxabs > 0 && maxabs / minabs > 1e3);
    if (all_int && !f.scientific) f.precision = 1;
  }
  // i64 goes through double for the statistics above, but is printed from its own digits: doubles
  // lose integers past 2^53.
  std::vector<std::string> cells(v.size());
  if (dtype() == DType::i64) {
    std::vector<int64_t> iv = to_vector<int64_t>();
    for (size_t i = 0; i < iv.size(); ++i) cells[i] = std::to_string(iv[i]);
  } else {
    for (size_t i = 0; i < v.size(); ++i) cells[i] = f(v[i]);
  }
  size_t width = 0;
  for (const auto& c : cells) width = std::max(width, c.size());
  std::ostringstream os;
  os << "tensor(";
  bool summarize = numel() > po.threshold;
  print_rec(os, cells, shape(), contiguous_strides(shape()), 0, 0, summarize, po.edgeitems, 7, width);
  os << ", dtype=" << dtype_name(dtype()) << ", shape=" << shape_str(shape());
  if (!is_cpu()) os << ", device=" << device();
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace nat
