// Shared pieces of the `nat bench` commands: the clock (wall, or process CPU time for a busy machine),
// the median of timed repetitions, and running a PyTorch baseline script that prints JSON lines.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/device.h"

namespace nat::app {

void set_bench_cpu_time(bool on);  // --cpu-time
bool bench_cpu_time();
double bench_now_ms();
// Median of `reps` timed calls after `warmup` untimed ones, with the device synchronised around each.
double median_ms(const std::function<void()>& fn, int warmup, int reps, Device dev);
// Runs `/usr/bin/python3 <source>/bench/<script> <args>` and parses each output line as JSON
// (empty when PyTorch or the script is unavailable).
std::vector<nlohmann::json> run_torch_script(const std::string& script, const std::string& args);

}  // namespace nat::app
