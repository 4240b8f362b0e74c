// A small YAML reader for the data keys of a timm-style config (the format of NAT's configs/*.yml):
// it fills a DataConfig from the keys it knows (DataConfig's field names) and ignores every other key
// (model, lr, epochs, ...), which belong to the trainer. This is a stop-gap for `nat data preview`;
// the trainer's config loader (train/) supersedes it and should fill DataConfig the same way.
// Needs yaml-cpp; builds without it get a stub that throws.
#pragma once

#include <string>
#include <vector>

#include "data/config.h"

namespace nat::data {

// Applies the data keys of the YAML file at `path` on top of `base`, then validates.
// Throws nat::Error naming the file and key on a parse error or a value of the wrong type.
DataConfig load_data_config_yaml(const std::string& path, DataConfig base = {});

// The same from a YAML string (`origin` names it in errors).
DataConfig parse_data_config_yaml(const std::string& text, const std::string& origin, DataConfig base = {});

// The data keys this reader understands.
const std::vector<std::string>& data_config_keys();

}  // namespace nat::data
