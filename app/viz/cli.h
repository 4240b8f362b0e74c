// Argument helpers for `nat explain`, `nat attn` and `nat trace`: repeatable options and "ROW,COL" / "H,W".
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "app/viz/na_window.h"

namespace nat::viz {

// Removes every "--NAME VALUE" and "--NAME=VALUE" from argv and returns the values in order (app::Args keeps
// only the last value of an option; this lets an option repeat: --query 0,0 --query 3,4).
std::vector<std::string> take_option(std::vector<std::string>& argv, const std::string& name);
// "ROW,COL" -> Cell; throws naming `what` on anything else.
Cell parse_cell(const std::string& text, const std::string& what);
// "H,W" or "N" -> {H, W}.
std::pair<int64_t, int64_t> parse_size(const std::string& text, const std::string& what);

}  // namespace nat::viz
