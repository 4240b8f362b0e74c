// safetensors reader and writer with full header validation.
#include "nn/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <map>
#include <new>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <tuple>

namespace nat::nn {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;    // the reference implementation's limit (100 MB)
constexpr int kMaxDepth = 3;                     // containers a header may nest: top object -> entry -> shape
constexpr size_t kMaxArray = 8;                  // values in an unknown field of an entry (no known field holds more)
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

namespace {

struct Entry {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

// Reads the header as a stream of JSON events (no DOM): each entry is checked as it closes, containers
// deeper or arrays longer than a valid header needs are refused as they open, and nothing but the entries
// and the metadata is kept, so memory stays a small multiple of the header and no destructor allocates
// (a DOM's does, which turns an allocation failure during unwinding into std::terminate).
class HeaderReader : public nlohmann::json_sax<nlohmann::json> {
 public:
  HeaderReader(const std::string& file, uint64_t buffer_size) : file_(file), buffer_size_(buffer_size) {}

  std::vector<Entry> entries;
  std::map<std::string, std::string> metadata;

  bool null() override { return scalar("null"); }
  bool boolean(bool) override { return scalar("a boolean"); }
  bool number_integer(number_integer_t v) override {
    if (v >= 0) return number(static_cast<uint64_t>(v));
    return scalar("a negative number");
  }
  bool number_unsigned(number_unsigned_t v) override { return number(v); }
  bool number_float(number_float_t, const string_t&) override { return scalar("a fraction"); }
  bool binary(binary_t&) override { return scalar("binary"); }
  bool string(string_t& v) override {
    if (state_ == State::metadata) {
      NAT_CHECK(metadata.emplace(key_, v).second, prefix(), "the header gives the key '", key_,
                "' twice in __metadata__");
      return true;
    }
    if (state_ == State::entry && key_ == "dtype") {
      NAT_CHECK(!has_dtype_, where(), "the header gives the key 'dtype' twice");
      has_dtype_ = true;
      dtype_text_ = v;
      return true;
    }
    return scalar("a string");
  }

  bool start_object(std::size_t) override {
    open();
    switch (state_) {
      case State::start:
        state_ = State::top;
        return true;
      case State::top:
        if (key_ == "__metadata__") {
          NAT_CHECK(!seen_metadata_, prefix(), "the header gives the key '__metadata__' twice");
          seen_metadata_ = true;
          state_ = State::metadata;
        } else {
          NAT_CHECK(names_.insert(key_).second, prefix(), "the header gives the key '", key_, "' twice");
          current_ = Entry{};
          current_.name = key_;
          has_dtype_ = has_shape_ = has_offsets_ = false;
          state_ = State::entry;
        }
        return true;
      case State::entry:
        return skip_container();
      case State::skip:
        ++skip_depth_;
        value_counts_.push_back(0);
        return true;
      default:
        return scalar("an object");
    }
  }
  bool end_object() override {
    --depth_;
    switch (state_) {
      case State::metadata:
        state_ = State::top;
        return true;
      case State::entry:
        finish_entry();
        state_ = State::top;
        return true;
      case State::skip:
        return end_skip();
      default:  // the top-level object
        state_ = State::done;
        return true;
    }
  }
  bool key(string_t& k) override {
    if (state_ != State::skip) key_ = k;
    return true;
  }
  bool start_array(std::size_t) override {
    open();
    if (state_ == State::entry && (key_ == "shape" || key_ == "data_offsets")) {
      bool& seen = key_ == "shape" ? has_shape_ : has_offsets_;
      NAT_CHECK(!seen, where(), "the header gives the key '", key_, "' twice");
      seen = true;
      state_ = key_ == "shape" ? State::shape : State::offsets;
      offsets_seen_ = 0;
      return true;
    }
    if (state_ == State::entry) return skip_container();
    if (state_ == State::skip) {
      ++skip_depth_;
      value_counts_.push_back(0);
      return true;
    }
    return scalar("an array");
  }
  bool end_array() override {
    --depth_;
    if (state_ == State::shape || state_ == State::offsets) {
      NAT_CHECK(state_ == State::shape || offsets_seen_ == 2, where(), "'data_offsets' must be [begin, end]");
      state_ = State::entry;
      return true;
    }
    return end_skip();
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    NAT_THROW(prefix(), "header is not valid JSON: ", e.what());
  }

 private:
  enum class State { start, top, metadata, entry, shape, offsets, skip, done };

  std::string prefix() const { return str("[safetensors] ", file_, ": "); }
  std::string where() const { return str("[safetensors] ", file_, ": tensor '", current_.name, "': "); }

  // A container opens: refuse nesting deeper than a valid header's (top object -> entry -> shape).
  void open() {
    NAT_CHECK(++depth_ <= kMaxDepth, prefix(), "header nesting deeper than ", kMaxDepth,
              " levels (a valid header has 3)");
    if (state_ == State::skip) count_skipped();
  }
  // An unknown field of an entry holding an object or array: read past it, keeping nothing.
  bool skip_container() {
    state_ = State::skip;
    skip_depth_ = 1;
    value_counts_.push_back(0);
    return true;
  }
  bool end_skip() {
    value_counts_.pop_back();
    if (--skip_depth_ == 0) state_ = State::entry;
    return true;
  }
  void count_skipped() {
    NAT_CHECK(value_counts_.empty() || ++value_counts_.back() <= kMaxArray, where(), "a field holds more than ",
              kMaxArray, " values (no field of a valid header has more)");
  }

  bool number(uint64_t v) {
    if (state_ == State::shape) {
      NAT_CHECK(current_.shape.size() < 8, where(), "more than 8 dims");
      NAT_CHECK(v <= kMaxDim, where(), "shape is too large");
      current_.shape.push_back(static_cast<int64_t>(v));
      return true;
    }
    if (state_ == State::offsets) {
      NAT_CHECK(offsets_seen_ < 2, where(), "'data_offsets' must be [begin, end]");
      (offsets_seen_++ == 0 ? current_.begin : current_.end) = v;
      return true;
    }
    return scalar("a number");
  }

  // A scalar (or, via the callers above, a container) where the state does not take it.
  bool scalar(const char* what) {
    switch (state_) {
      case State::top:
        if (key_ == "__metadata__") NAT_THROW(prefix(), "__metadata__ must be an object of strings, got ", what);
        NAT_THROW(prefix(), "tensor '", key_, "': entry must be an object, got ", what);
      case State::metadata:
        NAT_THROW(prefix(), "__metadata__['", key_, "'] is not a string (got ", what, ")");
      case State::shape:
        NAT_THROW(where(), "shape entries must be non-negative integers, got ", what);
      case State::offsets:
        NAT_THROW(where(), "data_offsets must be non-negative integers, got ", what);
      case State::entry:
        if (key_ == "dtype") NAT_THROW(where(), "missing string field 'dtype' (got ", what, ")");
        if (key_ == "shape") NAT_THROW(where(), "missing array field 'shape' (got ", what, ")");
        if (key_ == "data_offsets") NAT_THROW(where(), "'data_offsets' must be [begin, end] (got ", what, ")");
        return true;  // an unknown field's scalar: ignored
      case State::skip:
        count_skipped();
        return true;
      default:
        NAT_THROW(prefix(), "header is not a JSON object");
    }
  }

  void finish_entry() {
    Entry& e = current_;
    NAT_CHECK(has_dtype_, where(), "missing string field 'dtype'");
    NAT_CHECK(has_shape_, where(), "missing array field 'shape'");
    NAT_CHECK(has_offsets_, where(), "'data_offsets' must be [begin, end]");
    NAT_CHECK(parse_dtype(dtype_text_, e.dtype), where(), "unsupported dtype '", dtype_text_,
              "' (supported: F32, F64, BF16, F16, I64, I32, U8)");
    // The product of the non-zero dims is checked against 2^62 before every multiplication, so nothing
    // wraps: neither the element count nor the strides (which skip zero dims), in any dim order; an
    // empty [0, 2^40, 2^40] would overflow its strides and is refused like a full one.
    uint64_t volume = 1;
    bool empty = false;
    for (int64_t d : e.shape) {
      const auto dim = static_cast<uint64_t>(d);
      if (dim == 0) {
        empty = true;
        continue;
      }
      NAT_CHECK(volume <= kMaxDim / dim, where(), "shape is too large");
      volume *= dim;
    }
    NAT_CHECK(volume <= kMaxDim / dtype_size(e.dtype), where(), "shape is too large");
    const uint64_t nbytes = empty ? 0 : volume * dtype_size(e.dtype);
    NAT_CHECK(e.begin <= e.end && e.end <= buffer_size_, where(), "data_offsets [", e.begin, ", ", e.end,
              "] fall outside the ", buffer_size_, "-byte data buffer");
    NAT_CHECK(e.end - e.begin == nbytes, where(), "data_offsets span ", e.end - e.begin, " bytes but shape ",
              shape_str(e.shape), " of ", dtype_text_, " needs ", nbytes);
    entries.push_back(std::move(e));
  }

  const std::string& file_;
  const uint64_t buffer_size_;
  State state_ = State::start;
  int depth_ = 0;
  std::string key_;
  std::set<std::string> names_;
  bool seen_metadata_ = false;
  Entry current_;
  bool has_dtype_ = false, has_shape_ = false, has_offsets_ = false;
  std::string dtype_text_;
  int offsets_seen_ = 0;
  int skip_depth_ = 0;
  std::vector<size_t> value_counts_;  // the values read so far in each open container being skipped
};

// The parse proper; parse_safetensors() turns an allocation failure inside it into a nat::Error.
TensorFile parse_image(const uint8_t* data, size_t size, const std::string& name) {
  NAT_CHECK(size >= 8, "[safetensors] ", name, ": file is ", size, " bytes, too short for the 8-byte header length");
  uint64_t n = 0;
  std::memcpy(&n, data, 8);
  NAT_CHECK(n <= kMaxHeader, "[safetensors] ", name, ": header length ", n, " exceeds the 100 MB limit");
  NAT_CHECK(n <= size - 8, "[safetensors] ", name, ": header length ", n, " runs past the end of the file (", size,
            " bytes): truncated?");
  NAT_CHECK(n >= 2 && data[8] == '{', "[safetensors] ", name, ": header (", n,
            " bytes) does not start with '{': not a safetensors file?");
  const uint8_t* buffer = data + 8 + n;
  const uint64_t buffer_size = size - 8 - n;
  HeaderReader reader(name, buffer_size);
  nlohmann::json::sax_parse(data + 8, data + 8 + n, &reader);

  std::vector<Entry>& entries = reader.entries;
  // By (begin, end): an empty tensor sharing its offset with the next tensor's first byte sorts before it,
  // whatever the names.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  uint64_t cursor = 0;
  for (const auto& e : entries) {
    NAT_CHECK(e.begin >= cursor, "[safetensors] ", name, ": tensor '", e.name, "' overlaps the previous tensor");
    NAT_CHECK(e.begin == cursor, "[safetensors] ", name, ": a gap of ", e.begin - cursor, " bytes before tensor '",
              e.name, "' (the data buffer must be fully indexed)");
    cursor = e.end;
  }
  NAT_CHECK(cursor == buffer_size, "[safetensors] ", name, ": ", buffer_size - cursor,
            " trailing bytes after the last tensor");
  // Everything validated: now copy the bytes. The tensors are disjoint parts of the buffer, so together
  // they never need more memory than the file holds.
  TensorFile out;
  out.metadata = std::move(reader.metadata);
  out.tensors.reserve(entries.size());
  for (const auto& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (t.nbytes()) std::memcpy(t.data_ptr(), buffer + e.begin, t.nbytes());
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

}  // namespace

TensorFile parse_safetensors(const uint8_t* data, size_t size, const std::string& name) {
  try {
    return parse_image(data, size, name);
  } catch (const std::bad_alloc&) {
    NAT_THROW("[safetensors] ", name, ": out of memory while reading the file (", size, " bytes)");
  } catch (const std::length_error& e) {
    NAT_THROW("[safetensors] ", name, ": out of memory while reading the file (", size, " bytes): ", e.what());
  }
}

TensorFile load_safetensors(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  NAT_CHECK(fd >= 0, "[safetensors] cannot open '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    NAT_THROW("[safetensors] '", path, "' is not a regular file");
  }
  std::vector<uint8_t> bytes;
  try {
    bytes.resize(static_cast<size_t>(st.st_size));
  } catch (const std::exception&) {  // bad_alloc, or length_error past max_size()
    ::close(fd);
    NAT_THROW("[safetensors] '", path, "': out of memory reading a file of ", st.st_size, " bytes");
  }
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
  // The old file stays whole until rename(); any failure before it removes the temporary (a full disk
  // shows at write(), fsync() or close(), and each reports its own errno).
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  NAT_CHECK(fd >= 0, "[write] cannot create '", tmp, "': ", std::strerror(errno));
  auto fail = [&](const char* step, int err, bool open) {
    if (open) ::close(fd);
    ::unlink(tmp.c_str());
    NAT_THROW("[write] ", step, " of '", tmp, "' failed: ", std::strerror(err));
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail("writing", errno, true);
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0) fail("fsync", errno, true);
  if (::close(fd) != 0) fail("close", errno, false);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    NAT_THROW("[write] rename '", tmp, "' -> '", path, "' failed: ", std::strerror(err));
  }
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
