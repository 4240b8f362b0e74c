// Tensor: a cheap, shared handle (like PyTorch's) onto a TensorImpl, which is a view —
// shape, strides (in elements) and offset — over a ref-counted Storage on one device.
// Copying a Tensor shares the data; clone() copies it. View methods never copy;
// reshape() copies only when no view exists. Autograd state hangs off the impl (autograd/).
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/shape.h"
#include "core/storage.h"

namespace nat {

struct AutogradMeta;  // defined in autograd/; opaque to core

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  std::shared_ptr<AutogradMeta> autograd;
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories ----
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu(),
                      bool pinned = false);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor arange(int64_t n, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor scalar(double value, DType dtype = DType::f32, Device device = Device::cpu());
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = Device::cpu());
  // Wraps existing host memory without copying (the caller keeps it alive).
  static Tensor from_blob(void* data, const Shape& shape, DType dtype);

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t size(int64_t d) const;
  int64_t stride(int64_t d) const;
  int64_t offset() const { return impl().offset; }
  int64_t numel() const { return nat::numel(impl().shape); }
  DType dtype() const { return impl().dtype; }
  size_t element_size() const { return dtype_size(impl().dtype); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * element_size(); }
  Device device() const { return impl().storage->device(); }
  bool is_cpu() const { return device().is_cpu(); }
  bool is_cuda() const { return device().is_cuda(); }
  bool is_contiguous() const;
  bool is_pinned() const { return impl().storage->pinned(); }
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  bool shares_storage(const Tensor& o) const { return impl().storage == o.impl().storage; }
  std::string meta_str() const;  // "f32[2, 3] cpu"

  // Raw pointer to the first element (storage base + offset).
  void* data_ptr() const;
  template <typename T> T* data() const;  // checks the dtype

  // ---- views (no copy) ----
  Tensor view(const Shape& shape) const;        // throws when the strides do not allow a view
  Tensor reshape(const Shape& shape) const;     // a view when possible, else a contiguous copy
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;  // Python semantics
  Tensor select(int64_t dim, int64_t index) const;  // drops `dim`
  Tensor expand(const Shape& shape) const;      // broadcast to `shape` (-1 keeps a size), stride 0
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;

  // ---- copies ----
  Tensor contiguous() const;  // self when already contiguous
  Tensor clone() const;       // always a new contiguous tensor
  Tensor to(Device device, bool non_blocking = false) const;
  Tensor to(DType dtype) const;
  Tensor cpu() const { return to(Device::cpu()); }
  Tensor cuda(int index = 0) const { return to(Device::cuda(index)); }
  Tensor pin_memory() const;  // a pinned host copy (CUDA builds); ready for non_blocking copies
  // In-place copy from `src` (broadcast to this shape, converted to this dtype, moved to this device).
  Tensor& copy_(const Tensor& src, bool non_blocking = false);
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }

  // ---- host access ----
  double item() const;  // a one-element tensor's value
  template <typename T> std::vector<T> to_vector() const;  // contiguous host copy, dtype must match
  std::vector<double> to_double_vector() const;            // any dtype, converted

  std::string str() const;  // PyTorch-like printing
  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  Tensor make_view(Shape shape, Shape strides, int64_t offset) const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Printing options (PyTorch-like summarisation of large tensors).
struct PrintOptions {
  int precision = 4;
  int64_t threshold = 1000;  // summarise above this many elements
  int64_t edgeitems = 3;
};
PrintOptions& print_options();

// ---- template definitions ----
template <typename T>
T* Tensor::data() const {
  NAT_CHECK(dtype() == dtype_v<T>, "[data] tensor has dtype ", dtype(), ", requested ", dtype_name(dtype_v<T>));
  return static_cast<T*>(data_ptr());
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  NAT_CHECK(static_cast<int64_t>(values.size()) == nat::numel(shape), "[from_vector] ", values.size(),
            " values do not fill shape ", shape_str(shape), " (", nat::numel(shape), " elements)");
  Tensor host = empty(shape, dtype_v<T>, Device::cpu());
  std::copy(values.begin(), values.end(), host.data<T>());
  return device.is_cpu() ? host : host.to(device);
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  NAT_CHECK(dtype() == dtype_v<T>, "[to_vector] tensor has dtype ", dtype(), ", requested ", dtype_name(dtype_v<T>));
  Tensor h = to(Device::cpu()).contiguous();
  const T* p = h.data<T>();
  return std::vector<T>(p, p + h.numel());
}

}  // namespace nat
