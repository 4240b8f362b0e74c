// Storage allocation through the device's backend.
#include "core/storage.h"

#include "core/backend.h"
#include "core/error.h"

namespace nat {

Storage::Storage(size_t nbytes, Device device, bool pinned) : nbytes_(nbytes), device_(device), pinned_(pinned) {
  NAT_CHECK(!(pinned && !device.is_cpu()), "[storage] pinned memory is host memory; got device ", device);
  if (nbytes == 0) return;
  if (pinned)
    data_ = backend(Device::cuda(0)).allocate_pinned(nbytes);
  else
    data_ = backend(device).allocate(nbytes, device.index);
}

Storage::Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter)
    : data_(data), nbytes_(nbytes), device_(device), owned_(false), deleter_(std::move(deleter)) {}

Storage::~Storage() {
  if (!data_) return;
  if (!owned_) {
    if (deleter_) deleter_(data_);
    return;
  }
  try {
    if (pinned_)
      backend(Device::cuda(0)).deallocate_pinned(data_);
    else
      backend(device_).deallocate(data_, device_.index);
  } catch (...) {
    // Destructors must not throw; a failing free at shutdown is not worth crashing for.
  }
}

}  // namespace nat
