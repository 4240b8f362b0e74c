// Tensor factories, views and copies. No loops over elements here: element work goes through
// the device backend's kernel list (core/backend.h).
#include "core/tensor.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "core/backend.h"

namespace nat {

namespace {

StridedLayout make_layout(const Shape& shape, const Shape& src_strides, const Shape& dst_strides, const char* op) {
  NAT_CHECK(shape.size() <= static_cast<size_t>(kMaxDims), "[", op, "] tensors with more than ", kMaxDims,
            " dims are not supported, got shape ", shape_str(shape));
  StridedLayout l;
  l.ndim = static_cast<int>(shape.size());
  for (int i = 0; i < l.ndim; ++i) {
    l.shape[i] = shape[i];
    l.src_strides[i] = src_strides[i];
    l.dst_strides[i] = dst_strides[i];
  }
  return l;
}

}  // namespace

TensorImpl& Tensor::impl() const {
  NAT_CHECK(impl_ != nullptr, "[tensor] use of an undefined tensor");
  return *impl_;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device, bool pinned) {
  for (auto s : shape) NAT_CHECK(s >= 0, "[empty] negative size in shape ", shape_str(shape));
  if (std::find(shape.begin(), shape.end(), 0) == shape.end()) {
    // Checked here so that numel() and nbytes() cannot overflow later.
    int64_t n = 1;
    for (auto s : shape) {
      NAT_CHECK(n <= std::numeric_limits<int64_t>::max() / 8 / s, "[empty] shape ", shape_str(shape),
                " has more elements than fit in 2^63 bytes");
      n *= s;
    }
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(nat::numel(shape)) * dtype_size(dtype), device, pinned);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
  NAT_CHECK(n >= 0, "[arange] n must be >= 0, got ", n);
  Tensor host = empty({n}, DType::f64);
  double* p = host.data<double>();
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<double>(i);
  return host.to(dtype).to(device);
}

Tensor Tensor::from_blob(void* data, const Shape& shape, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(data, static_cast<size_t>(nat::numel(shape)) * dtype_size(dtype),
                                            Device::cpu(), nullptr);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

int64_t Tensor::size(int64_t d) const { return shape()[normalize_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[normalize_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

std::string Tensor::meta_str() const {
  if (!defined()) return "undefined";
  return nat::str(dtype_name(dtype()), shape_str(shape()), " ", device().str());
}

void* Tensor::data_ptr() const {
  auto* base = static_cast<char*>(impl().storage->data());
  return base + impl().offset * static_cast<int64_t>(element_size());
}

// ---------------------------------------------------------------- views

Tensor Tensor::make_view(Shape shape, Shape strides, int64_t offset) const {
  auto v = std::make_shared<TensorImpl>();
  v->storage = impl().storage;
  v->shape = std::move(shape);
  v->strides = std::move(strides);
  v->offset = offset;
  v->dtype = impl().dtype;
  return Tensor(std::move(v));
}

namespace {
Shape infer_shape(const Shape& requested, int64_t n, const char* op, const Shape& from) {
  Shape s = requested;
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      NAT_CHECK(infer < 0, "[", op, "] only one dimension can be -1, got ", shape_str(requested));
      infer = static_cast<int64_t>(i);
    } else {
      NAT_CHECK(s[i] >= 0, "[", op, "] invalid size ", s[i], " in ", shape_str(requested));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    NAT_CHECK(known != 0 && n % known == 0, "[", op, "] cannot infer -1 in ", shape_str(requested), " for ", n,
              " elements (shape ", shape_str(from), ")");
    s[infer] = n / known;
  }
  NAT_CHECK(nat::numel(s) == n, "[", op, "] shape ", shape_str(requested), " is invalid for a tensor of shape ",
            shape_str(from), " (", n, " elements)");
  return s;
}
}  // namespace

Tensor Tensor::view(const Shape& new_shape) const {
  Shape s = infer_shape(new_shape, numel(), "view", shape());
  Shape st;
  if (dim() == 0) {
    st = contiguous_strides(s);
  } else {
    NAT_CHECK(compute_view_strides(shape(), strides(), s, st), "[view] shape ", shape_str(new_shape),
              " is not a view of a tensor with shape ", shape_str(shape()), " and strides ", shape_str(strides()),
              "; use reshape (which copies) or contiguous() first");
  }
  return make_view(s, st, offset());
}

Tensor Tensor::reshape(const Shape& new_shape) const {
  Shape s = infer_shape(new_shape, numel(), "reshape", shape());
  Shape st;
  if (dim() == 0 || compute_view_strides(shape(), strides(), s, st)) return view(s);
  return contiguous().view(s);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  NAT_CHECK(static_cast<int64_t>(dims.size()) == dim(), "[permute] got ", dims.size(), " dims for a tensor of shape ",
            shape_str(shape()));
  Shape s(dims.size()), st(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = normalize_dim(dims[i], dim(), "permute");
    NAT_CHECK(!seen[d], "[permute] dim ", d, " repeated in ", shape_str(Shape(dims.begin(), dims.end())));
    seen[d] = true;
    s[i] = shape()[d];
    st[i] = strides()[d];
  }
  return make_view(s, st, offset());
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  d0 = normalize_dim(d0, dim(), "transpose");
  d1 = normalize_dim(d1, dim(), "transpose");
  Shape s = shape(), st = strides();
  std::swap(s[d0], s[d1]);
  std::swap(st[d0], st[d1]);
  return make_view(s, st, offset());
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = normalize_dim(d, dim(), "slice");
  NAT_CHECK(step > 0, "[slice] step must be positive, got ", step);
  int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape(), st = strides();
  // Written so that a huge step (INT64_MAX: "just the first element") cannot overflow.
  s[d] = end > start ? (end - start - 1) / step + 1 : 0;
  st[d] = s[d] > 1 ? strides()[d] * step : strides()[d];
  return make_view(s, st, offset() + start * strides()[d]);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = normalize_dim(d, dim(), "select");
  int64_t n = shape()[d];
  NAT_CHECK(index >= -n && index < n, "[select] index ", index, " is out of range for dim ", d, " of size ", n,
            " (shape ", shape_str(shape()), ")");
  if (index < 0) index += n;
  Shape s = shape(), st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return make_view(s, st, offset() + index * strides()[d]);
}

Tensor Tensor::expand(const Shape& target) const {
  NAT_CHECK(target.size() >= shape().size(), "[expand] cannot expand shape ", shape_str(shape()), " to ",
            shape_str(target), " (fewer dims)");
  size_t lead = target.size() - shape().size();
  Shape s(target.size()), st(target.size());
  for (size_t i = 0; i < target.size(); ++i) {
    if (i < lead) {
      NAT_CHECK(target[i] >= 0, "[expand] size -1 is not allowed for a new leading dim in ", shape_str(target));
      s[i] = target[i];
      st[i] = 0;
      continue;
    }
    int64_t have = shape()[i - lead];
    int64_t want = target[i] == -1 ? have : target[i];
    NAT_CHECK(want >= 0, "[expand] invalid size ", target[i], " in ", shape_str(target));
    NAT_CHECK(have == want || have == 1, "[expand] shape ", shape_str(shape()), " cannot be broadcast to ",
              shape_str(target), " (dim ", i, ": ", have, " vs ", want, ")");
    s[i] = want;
    st[i] = (have == want) ? strides()[i - lead] : 0;
  }
  return make_view(s, st, offset());
}

Tensor Tensor::squeeze(int64_t d) const {
  d = normalize_dim(d, dim(), "squeeze");
  if (shape()[d] != 1) return *this;
  Shape s = shape(), st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return make_view(s, st, offset());
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = normalize_dim(d, dim() + 1, "unsqueeze");
  Shape s = shape(), st = strides();
  int64_t new_stride = d < dim() ? strides()[d] * shape()[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, new_stride);
  return make_view(s, st, offset());
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  if (dim() == 0) return reshape({1});
  start = normalize_dim(start, dim(), "flatten");
  end = normalize_dim(end, dim(), "flatten");
  NAT_CHECK(start <= end, "[flatten] start dim ", start, " is after end dim ", end);
  Shape s(shape().begin(), shape().begin() + start);
  int64_t m = 1;
  for (int64_t i = start; i <= end; ++i) m *= shape()[i];
  s.push_back(m);
  s.insert(s.end(), shape().begin() + end + 1, shape().end());
  return reshape(s);
}

Tensor Tensor::as_strided(const Shape& s, const Shape& st, int64_t off) const {
  NAT_CHECK(s.size() == st.size(), "[as_strided] shape ", shape_str(s), " and strides ", shape_str(st),
            " differ in length");
  NAT_CHECK(off >= 0, "[as_strided] offset ", off, " is negative (shape ", shape_str(s), ")");
  int64_t max_index = off;
  for (size_t i = 0; i < s.size(); ++i) {
    NAT_CHECK(s[i] >= 0 && st[i] >= 0, "[as_strided] negative size or stride in ", shape_str(s), " / ", shape_str(st));
    if (s[i] == 0) max_index = -1;
    if (max_index >= 0) max_index += (s[i] - 1) * st[i];
  }
  int64_t capacity = static_cast<int64_t>(impl().storage->nbytes() / element_size());
  NAT_CHECK(max_index < capacity, "[as_strided] view ", shape_str(s), " with strides ", shape_str(st), " at offset ",
            off, " reaches element ", max_index, " of a storage holding ", capacity);
  return make_view(s, st, off);
}

// ---------------------------------------------------------------- copies

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(Device d, bool non_blocking) const {
  if (d == device()) return *this;
  Tensor out = empty(shape(), dtype(), d);
  out.copy_(*this, non_blocking);
  return out;
}

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  Tensor src = contiguous();
  Tensor out = empty(shape(), t, device());
  if (numel() > 0) backend(device()).cast(out.data_ptr(), t, src.data_ptr(), dtype(), numel(), device().index);
  return out;
}

Tensor Tensor::pin_memory() const {
  NAT_CHECK(is_cpu(), "[pin_memory] only host tensors can be pinned, got a tensor on ", device());
  if (is_pinned()) return *this;
  Tensor out = empty(shape(), dtype(), Device::cpu(), /*pinned=*/true);
  out.copy_(*this);
  return out;
}

Tensor& Tensor::copy_(const Tensor& src_in, bool non_blocking) {
  NAT_CHECK(src_in.defined(), "[copy_] source tensor is undefined");
  NAT_CHECK(is_broadcastable_to(src_in.shape(), shape()), "[copy_] source shape ", shape_str(src_in.shape()),
            " cannot be broadcast to destination shape ", shape_str(shape()));
  Tensor src = src_in.expand(shape());
  if (src.dtype() != dtype()) src = src.to(dtype());
  if (numel() == 0) return *this;
  if (src.device() != device()) {
    // Cross-device: move contiguous bytes, then scatter through strides on the destination device.
    src = src.contiguous();
    Tensor staging = is_contiguous() ? *this : empty(shape(), dtype(), device());
    DeviceBackend& b = src.is_cuda() ? backend(src.device()) : backend(device());
    b.copy_bytes(staging.data_ptr(), device(), src.data_ptr(), src.device(), nbytes(), non_blocking);
    if (staging.impl_ptr() == impl_ptr()) return *this;
    src = staging;
  }
  auto layout = make_layout(shape(), src.strides(), strides(), "copy_");
  backend(device()).copy_strided(data_ptr(), src.data_ptr(), element_size(), layout, device().index);
  return *this;
}

Tensor& Tensor::fill_(double value) {
  if (numel() == 0) return *this;
  if (is_contiguous()) {
    backend(device()).fill(data_ptr(), dtype(), numel(), value, device().index);
  } else {
    copy_(full({}, value, dtype(), device()));
  }
  return *this;
}

double Tensor::item() const {
  NAT_CHECK(numel() == 1, "[item] needs a tensor with one element, got shape ", shape_str(shape()));
  return to_double_vector()[0];
}

std::vector<double> Tensor::to_double_vector() const {
  Tensor h = to(Device::cpu()).contiguous().to(DType::f64);
  const double* p = h.data<double>();
  return std::vector<double>(p, p + h.numel());
}

}  // namespace nat
