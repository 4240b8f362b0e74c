// The data-parallel step as a picture (`nat explain ddp`): a timeline of one backward pass with the
// moments each parameter's gradient became final (ticks, coloured by bucket) and, one row per bucket, the
// span from its all-reduce's launch to its completion. Buckets that finish before backward ends are the
// communication the reducer hid behind computation. Built from GradReducer's trace (train/reducer.h).
#pragma once

#include <string>
#include <vector>

#include "train/reducer.h"

#if NAT_WITH_OPENCV
#include <opencv2/core.hpp>
#endif

namespace nat::viz {

struct BucketSpan {
  int64_t tensors = 0;
  double mib = 0;
  double first_ready_ms = -1, launch_ms = -1, done_ms = -1;
};

struct DdpTimeline {
  double backward_ms = 0;  // backward() returned at this time (0 = prepare())
  double finish_ms = 0;    // finish() returned: every gradient averaged
  std::vector<BucketSpan> buckets;
  std::vector<std::pair<double, int>> ready;  // (ms, bucket) per parameter
  std::string title;
  double hidden_fraction() const;  // share of all-reduce time that overlapped backward
};

DdpTimeline ddp_timeline(const train::GradReducer& reducer, double backward_ms, double finish_ms);
std::string format_ddp_timeline(const DdpTimeline& t);  // the table `nat explain ddp` prints

#if NAT_WITH_OPENCV
cv::Mat render_ddp_timeline(const DdpTimeline& t);
#endif

}  // namespace nat::viz
