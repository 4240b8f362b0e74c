// `nat data preview`: one batch of augmented training samples as a PNG grid, each tile captioned with its
// (mixed) label: the two largest soft-target classes with their weights, and how it was mixed.
// No OpenCV in this header.
#pragma once

#include <string>
#include <vector>

#include "data/loader.h"

namespace nat::data {

// Writes `batch` (from `pipeline`'s loader) to `path` (PNG). `columns` 0: about square.
void write_preview(const Batch& batch, const SamplePipeline& pipeline, const std::vector<std::string>& class_names,
                   const std::string& path, int columns = 0);

}  // namespace nat::data
