// Top-k accuracy and probabilities from logits, on the host. A non-finite logit never wins: NaN ranks
// below every number, and a sample whose own class's logit is NaN or infinite is a miss (a diverged
// model must score 0 %, not 100 %).
#include "train/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace nat::train {

namespace {

// Rank of column `c` in a row (0 = the largest): how many entries beat it (larger, or equal and earlier).
// A non-finite row[c] ranks last (C): NaN compares false with everything, which used to rank it first, and
// an infinite logit says nothing about the class. A NaN elsewhere beats nothing.
int64_t rank_of(const double* row, int64_t C, int64_t c) {
  if (!std::isfinite(row[c])) return C;
  int64_t rank = 0;
  for (int64_t j = 0; j < C; ++j) rank += row[j] > row[c] || (row[j] == row[c] && j < c);
  return rank;
}

// Strict weak order of a row's columns for sorting: larger first, NaN last, ties by the lower index.
bool ranks_before(const double* row, int64_t a, int64_t b) {
  const bool na = std::isnan(row[a]), nb = std::isnan(row[b]);
  if (na || nb) return !na && nb;
  return row[a] > row[b];
}

}  // namespace

TopK topk_hits(const Tensor& logits, const Tensor& labels) {
  NAT_CHECK(logits.dim() == 2 && labels.dim() == 1 && labels.size(0) == logits.size(0),
            "[topk] expected logits [N, C] ", "and labels [N], got ", shape_str(logits.shape()), " and ",
            shape_str(labels.shape()));
  const int64_t N = logits.size(0), C = logits.size(1);
  std::vector<double> x = logits.to_double_vector();
  std::vector<int64_t> y = labels.to(DType::i64).to_vector<int64_t>();
  TopK r;
  r.count = N;
  const int64_t k5 = std::min<int64_t>(5, C);
  for (int64_t i = 0; i < N; ++i) {
    NAT_CHECK(y[i] >= 0 && y[i] < C, "[topk] label ", y[i], " of sample ", i, " is outside [0, ", C, ")");
    int64_t rank = rank_of(x.data() + i * C, C, y[i]);
    r.top1 += rank < 1;
    r.top5 += rank < k5;
  }
  return r;
}

std::vector<std::vector<std::pair<int64_t, double>>> topk_probabilities(const Tensor& logits, int64_t k) {
  NAT_CHECK(logits.dim() == 2 && logits.size(1) > 0, "[topk] expected logits [N, C] with C >= 1, got ",
            shape_str(logits.shape()));
  const int64_t N = logits.size(0), C = logits.size(1);
  k = std::min(k, C);
  std::vector<double> x = logits.to_double_vector();
  std::vector<std::vector<std::pair<int64_t, double>>> out(N);
  for (int64_t i = 0; i < N; ++i) {
    const double* row = x.data() + i * C;
    std::vector<int64_t> idx(C);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return ranks_before(row, a, b); });
    // softmax as torch computes it: a NaN or +inf anywhere in the row makes every probability NaN (z is
    // NaN), -inf is probability 0; the order above stays defined either way.
    const double mx = row[idx[0]];
    double z = 0;
    for (int64_t j = 0; j < C; ++j) z += std::exp(row[j] - mx);
    for (int64_t j = 0; j < k; ++j) out[i].emplace_back(idx[j], std::exp(row[idx[j]] - mx) / z);
  }
  return out;
}

}  // namespace nat::train
