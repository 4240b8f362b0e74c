// safetensors reader and writer with full header validation.
#include "nn/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

namespace nat::nn {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;  // the reference implementation's limit (100 MB)
constexpr int kMaxDepth = 4;
constexpr uint64_t kMaxDim = uint64_t(1) << 62;  // keeps every dim and byte count representable in int64

const char* st_dtype(DType t) {
  switch (t) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::bf16:
      return "BF16";
    case DType::f16:
      return "F16";
    case DType::i32:
      return "I32";
    case DType::i64:
      return "I64";
    case DType::u8:
      return "U8";
  }
  return "?";
}

bool parse_dtype(const std::string& s, DType& t) {
  for (int i = 0; i < kNumDTypes; ++i)
    if (s == st_dtype(static_cast<DType>(i))) {
      t = static_cast<DType>(i);
      return true;
    }
  return false;
}

}  // namespace

const Tensor* TensorFile::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

const Tensor& TensorFile::at(const std::string& name, const std::string& file) const {
  const Tensor* t = find(name);
  NAT_CHECK(t != nullptr, "[safetensors] ", file, ": no tensor named '", name, "'");
  return *t;
}

TensorFile parse_safetensors(const uint8_t* data, size_t size, const std::string& name) {
  NAT_CHECK(size >= 8, "[safetensors] ", name, ": file is ", size, " bytes, too short for the 8-byte header length");
  uint64_t n = 0;
  std::memcpy(&n, data, 8);
  NAT_CHECK(n <= kMaxHeader, "[safetensors] ", name, ": header length ", n, " exceeds the 100 MB limit");
  NAT_CHECK(n <= size - 8, "[safetensors] ", name, ": header length ", n, " runs past the end of the file (", size,
            " bytes): truncated?");
  NAT_CHECK(n >= 2 && data[8] == '{', "[safetensors] ", name, ": header (", n,
            " bytes) does not start with '{': not a safetensors file?");
  nlohmann::json header;
  try {
    // A valid header nests 3 deep (object -> entry -> shape); refuse deeper input early, before it costs memory.
    auto depth_limit = [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
      if (depth > kMaxDepth) throw std::runtime_error("nesting deeper than " + std::to_string(kMaxDepth));
      return true;
    };
    header = nlohmann::json::parse(data + 8, data + 8 + n, depth_limit);
  } catch (const std::exception& e) {
    NAT_THROW("[safetensors] ", name, ": header is not valid JSON: ", e.what());
  }
  NAT_CHECK(header.is_object(), "[safetensors] ", name, ": header must be a JSON object");
  const uint8_t* buffer = data + 8 + n;
  uint64_t buffer_size = size - 8 - n;

  TensorFile out;
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& key = it.key();
    const auto& v = it.value();
    if (key == "__metadata__") {
      NAT_CHECK(v.is_object(), "[safetensors] ", name, ": __metadata__ must be an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        NAT_CHECK(m.value().is_string(), "[safetensors] ", name, ": __metadata__['", m.key(), "'] is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto where = [&] { return str("[safetensors] ", name, ": tensor '", key, "': "); };
    NAT_CHECK(v.is_object(), where(), "entry must be an object");
    NAT_CHECK(v.contains("dtype") && v["dtype"].is_string(), where(), "missing string field 'dtype'");
    NAT_CHECK(v.contains("shape") && v["shape"].is_array(), where(), "missing array field 'shape'");
    NAT_CHECK(v.contains("data_offsets") && v["data_offsets"].is_array() && v["data_offsets"].size() == 2, where(),
              "'data_offsets' must be [begin, end]");
    Entry e;
    e.name = key;
    std::string ds = v["dtype"].get<std::string>();
    NAT_CHECK(parse_dtype(ds, e.dtype), where(), "unsupported dtype '", ds,
              "' (supported: F32, F64, BF16, F16, I64, I32, U8)");
    NAT_CHECK(v["shape"].size() <= 8, where(), "more than 8 dims");
    // Element and byte counts are checked against 2^62 before every multiplication, so nothing wraps.
    uint64_t count = 1;
    for (const auto& d : v["shape"]) {
      NAT_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0), where(),
                "shape entries must be non-negative integers");
      uint64_t dim = d.get<uint64_t>();
      NAT_CHECK(dim <= kMaxDim && (dim == 0 || count <= kMaxDim / dim), where(), "shape is too large");
      count *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    NAT_CHECK(count <= kMaxDim / dtype_size(e.dtype), where(), "shape is too large");
    const uint64_t nbytes = count * dtype_size(e.dtype);
    for (const auto& o : v["data_offsets"])
      NAT_CHECK(o.is_number_unsigned() || (o.is_number_integer() && o.get<int64_t>() >= 0), where(),
                "data_offsets must be non-negative integers");
    e.begin = v["data_offsets"][0].get<uint64_t>();
    e.end = v["data_offsets"][1].get<uint64_t>();
    NAT_CHECK(e.begin <= e.end && e.end <= buffer_size, where(), "data_offsets [", e.begin, ", ", e.end,
              "] fall outside the ", buffer_size, "-byte data buffer");
    NAT_CHECK(e.end - e.begin == nbytes, where(), "data_offsets span ", e.end - e.begin, " bytes but shape ",
              shape_str(e.shape), " of ", ds, " needs ", nbytes);
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  uint64_t cursor = 0;
  for (const auto& e : entries) {
    NAT_CHECK(e.begin >= cursor, "[safetensors] ", name, ": tensor '", e.name, "' overlaps the previous tensor");
    NAT_CHECK(e.begin == cursor, "[safetensors] ", name, ": a gap of ", e.begin - cursor, " bytes before tensor '",
              e.name, "' (the data buffer must be fully indexed)");
    cursor = e.end;
  }
  NAT_CHECK(cursor == buffer_size, "[safetensors] ", name, ": ", buffer_size - cursor,
            " trailing bytes after the last tensor");
  // Everything validated: now copy the bytes.
  for (const auto& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (t.nbytes()) std::memcpy(t.data_ptr(), buffer + e.begin, t.nbytes());
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

TensorFile load_safetensors(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  NAT_CHECK(fd >= 0, "[safetensors] cannot open '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    NAT_THROW("[safetensors] '", path, "' is not a regular file");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t r = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (r <= 0) {
      int err = r < 0 ? errno : 0;
      ::close(fd);
      NAT_THROW("[safetensors] reading '", path, "' failed after ", done, " of ", bytes.size(), " bytes",
                err ? ": " : " (file shrank?)", err ? std::strerror(err) : "");
    }
    done += static_cast<size_t>(r);
  }
  ::close(fd);
  return parse_safetensors(bytes.data(), bytes.size(), path);
}

std::vector<uint8_t> serialize_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                           const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  std::vector<Tensor> host;
  for (const auto& [name, t] : tensors) {
    NAT_CHECK(name != "__metadata__" && seen.insert(name).second, "[safetensors] duplicate or reserved tensor name '",
              name, "'");
    Tensor h = t.to(Device::cpu()).contiguous();
    header[name] = {
        {"dtype", st_dtype(h.dtype())}, {"shape", h.shape()}, {"data_offsets", {offset, offset + h.nbytes()}}};
    offset += h.nbytes();
    host.push_back(h);
  }
  std::string js = header.dump();
  while ((8 + js.size()) % 8) js.push_back(' ');
  std::vector<uint8_t> out(8 + js.size() + offset);
  uint64_t n = js.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, js.data(), js.size());
  uint8_t* p = out.data() + 8 + js.size();
  for (const auto& h : host) {
    if (h.nbytes()) std::memcpy(p, h.data_ptr(), h.nbytes());
    p += h.nbytes();
  }
  return out;
}

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  NAT_CHECK(fd >= 0, "[write] cannot create '", tmp, "': ", std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      NAT_THROW("[write] writing '", tmp, "' failed: ", std::strerror(err));
    }
    done += static_cast<size_t>(w);
  }
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  NAT_CHECK(ok, "[write] fsync of '", tmp, "' failed: ", std::strerror(errno));
  NAT_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "[write] rename '", tmp, "' -> '", path,
            "' failed: ", std::strerror(errno));
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  int dfd = ::open(dir.empty() ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, serialize_safetensors(tensors, metadata));
}

}  // namespace nat::nn
