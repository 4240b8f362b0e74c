// Generator bookkeeping and the random fill entry points; the per-element math is core/random_math.h.
#include "core/rng.h"

#include "core/backend.h"
#include "core/philox.h"

namespace nat {

void Generator::set_state(uint64_t seed, uint64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  seed_ = seed;
  offset_ = offset;
}

uint64_t Generator::advance(uint64_t words) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t o = offset_;
  offset_ += words;
  return o;
}

Generator& default_generator() {
  static Generator g(0);
  return g;
}

void manual_seed(uint64_t seed) { default_generator().set_state(seed, 0); }

uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
  // Two Philox blocks as a hash: keyed by seed, counter (a, b) then mixed with c.
  PhiloxOut o = philox4x32_10(static_cast<uint32_t>(a), static_cast<uint32_t>(a >> 32), static_cast<uint32_t>(b),
                              static_cast<uint32_t>(b >> 32), static_cast<uint32_t>(seed),
                              static_cast<uint32_t>(seed >> 32));
  PhiloxOut p = philox4x32_10(o.v[0], o.v[1], static_cast<uint32_t>(c), static_cast<uint32_t>(c >> 32), o.v[2], o.v[3]);
  return (static_cast<uint64_t>(p.v[0]) << 32) | p.v[1];
}

namespace {

Tensor& random_fill(Tensor& t, RandomParams p, Generator* gen, const char* op) {
  NAT_CHECK(t.defined(), "[", op, "] undefined tensor");
  if (p.kind != RandomKind::bernoulli)
    NAT_CHECK(is_floating(t.dtype()), "[", op, "] needs a floating tensor, got ", t.meta_str());
  Generator& g = gen ? *gen : default_generator();
  int64_t n = t.numel();
  p.seed = g.seed();
  p.offset = g.advance(2 * static_cast<uint64_t>(n));
  if (n == 0) return t;
  if (t.is_contiguous()) {
    backend(t.device()).random(t.data_ptr(), t.dtype(), n, p, t.device().index);
  } else {
    Tensor tmp = Tensor::empty(t.shape(), t.dtype(), t.device());
    backend(t.device()).random(tmp.data_ptr(), tmp.dtype(), n, p, t.device().index);
    t.copy_(tmp);
  }
  return t;
}

}  // namespace

Tensor& uniform_(Tensor& t, double lo, double hi, Generator* gen) {
  NAT_CHECK(lo <= hi, "[uniform_] needs lo <= hi, got ", lo, " > ", hi);
  RandomParams p;
  p.kind = RandomKind::uniform;
  p.a = lo;
  p.b = hi;
  return random_fill(t, p, gen, "uniform_");
}

Tensor& normal_(Tensor& t, double mean, double std, Generator* gen) {
  NAT_CHECK(std >= 0, "[normal_] std must be >= 0, got ", std);
  RandomParams p;
  p.kind = RandomKind::normal;
  p.a = mean;
  p.b = std;
  return random_fill(t, p, gen, "normal_");
}

Tensor& trunc_normal_(Tensor& t, double mean, double std, double lo, double hi, Generator* gen) {
  NAT_CHECK(std > 0, "[trunc_normal_] std must be > 0, got ", std);
  NAT_CHECK(lo < hi, "[trunc_normal_] needs lo < hi, got [", lo, ", ", hi, "]");
  RandomParams p;
  p.kind = RandomKind::trunc_normal;
  p.a = mean;
  p.b = std;
  p.lo = lo;
  p.hi = hi;
  return random_fill(t, p, gen, "trunc_normal_");
}

Tensor& bernoulli_(Tensor& t, double prob, Generator* gen) {
  NAT_CHECK(prob >= 0 && prob <= 1, "[bernoulli_] p must be in [0, 1], got ", prob);
  RandomParams p;
  p.kind = RandomKind::bernoulli;
  p.a = prob;
  return random_fill(t, p, gen, "bernoulli_");
}

Tensor rand(const Shape& shape, DType dtype, Device device, Generator* gen) {
  Tensor t = Tensor::empty(shape, dtype, device);
  return uniform_(t, 0.0, 1.0, gen);
}

Tensor randn(const Shape& shape, DType dtype, Device device, Generator* gen) {
  Tensor t = Tensor::empty(shape, dtype, device);
  return normal_(t, 0.0, 1.0, gen);
}

}  // namespace nat
