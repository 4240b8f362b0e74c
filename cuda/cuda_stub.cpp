// Built when NAT_CUDA=OFF: no CUDA backend is registered, so any use of a CUDA device raises
// "built without CUDA" from core/backend.h instead of crashing.
namespace nat::cuda {
bool compiled_with_cuda() { return false; }
}  // namespace nat::cuda
