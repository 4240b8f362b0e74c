// safetensors read/write (format: little-endian u64 header length N, N bytes of JSON header, then the
// data buffer; each tensor entry {"dtype", "shape", "data_offsets": [begin, end]} relative to the
// buffer; optional "__metadata__" string map). Every header field and offset is validated before any
// tensor byte is read, so a truncated, oversized or malicious file (keys given twice, overflowing shapes,
// overlapping offsets) gives a nat::Error naming the file and the problem, never a crash or an
// out-of-bounds read; the header is read as a stream, so memory stays a small multiple of the file, and
// an allocation failure is a nat::Error too. Writes are atomic (temp file, fsync, rename).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace nat::nn {

struct TensorFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file order (sorted by data offset)
  std::map<std::string, std::string> metadata;
  const Tensor* find(const std::string& name) const;    // nullptr when absent
  const Tensor& at(const std::string& name, const std::string& file) const;  // throws naming the file
};

TensorFile load_safetensors(const std::string& path);
// Parses an in-memory image; `name` is used in error messages.
TensorFile parse_safetensors(const uint8_t* data, size_t size, const std::string& name);

// Tensors are written as CPU copies in the order given; names must be unique.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});
std::vector<uint8_t> serialize_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                           const std::map<std::string, std::string>& metadata = {});

// Writes `bytes` to `path` atomically: `path`.tmp, fsync, rename, fsync of the directory.
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace nat::nn
