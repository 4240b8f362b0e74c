// Storage: one ref-counted block of memory on one device. Tensors are views onto a Storage
// (shape, strides, offset); many tensors may share one.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "core/device.h"

namespace nat {

class Storage {
 public:
  // Allocates nbytes on `device`; `pinned` asks for page-locked host memory (CUDA builds only).
  Storage(size_t nbytes, Device device, bool pinned = false);
  // Wraps memory owned elsewhere; `deleter` (may be empty) runs when the last tensor lets go.
  Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  bool pinned() const { return pinned_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  bool pinned_ = false;
  bool owned_ = true;
  std::function<void(void*)> deleter_;
};

}  // namespace nat
