// Run directory files: args.yaml, summary.csv, train.log and the checkpoint links.
#include "train/run_dir.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "nn/safetensors.h"

namespace nat::train {

namespace fs = std::filesystem;

RunDir::RunDir(const std::string& path) : path_(path) {
  std::error_code ec;
  fs::create_directories(path_, ec);
  NAT_CHECK(!ec && fs::is_directory(path_), "[run] cannot create the run directory ", path_, ": ", ec.message());
  log_ = std::fopen(file("train.log").c_str(), "a");
  NAT_CHECK(log_ != nullptr, "[run] cannot write ", file("train.log"));
}

RunDir::~RunDir() {
  if (log_) std::fclose(log_);
}

void RunDir::write_text(const std::string& name, const std::string& text) const {
  nn::write_file_atomic(file(name), std::vector<uint8_t>(text.begin(), text.end()));
}

void RunDir::append_summary(const std::vector<std::string>& columns, const std::vector<std::string>& values) const {
  std::string p = file("summary.csv");
  bool fresh = !fs::exists(p) || fs::file_size(p) == 0;
  std::ofstream f(p, std::ios::app);
  NAT_CHECK(f.good(), "[run] cannot write ", p);
  auto row = [&](const std::vector<std::string>& v) {
    for (size_t i = 0; i < v.size(); ++i) f << (i ? "," : "") << v[i];
    f << "\n";
  };
  if (fresh) row(columns);
  row(values);
  f.flush();
  NAT_CHECK(f.good(), "[run] cannot write ", p);
}

void RunDir::log(const std::string& line) {
  std::fputs(line.c_str(), log_);
  std::fputc('\n', log_);
  std::fflush(log_);
}

void RunDir::link(const std::string& from, const std::string& to) const {
  std::string src = file(from), dst = file(to), tmp = dst + ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_hard_link(src, tmp, ec);
  if (ec) {
    ec.clear();
    fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
    NAT_CHECK(!ec, "[run] cannot copy ", src, " to ", tmp, ": ", ec.message());
  }
  fs::rename(tmp, dst, ec);
  NAT_CHECK(!ec, "[run] cannot rename ", tmp, " to ", dst, ": ", ec.message());
}

void RunDir::remove(const std::string& name) const {
  std::error_code ec;
  fs::remove(file(name), ec);
}

std::string run_dir_path(const std::string& output, const std::string& experiment, const std::string& model,
                         int64_t img_size) {
  std::string out = output.empty() ? "output/train" : output;
  if (!experiment.empty()) return out + "/" + experiment;
  std::time_t t = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&t));
  std::string safe = model;
  for (char& c : safe)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '+') c = '_';
  if (safe.size() > 40) safe = "custom";
  return out + "/" + stamp + "-" + safe + "-" + std::to_string(img_size);
}

std::pair<std::vector<std::string>, std::vector<std::vector<double>>> read_summary(const std::string& csv_path) {
  std::ifstream f(csv_path);
  NAT_CHECK(f.good(), "[summary] cannot read ", csv_path);
  std::string line;
  std::vector<std::string> header;
  std::vector<std::vector<double>> rows;
  auto split = [](const std::string& s) {
    std::vector<std::string> v;
    std::stringstream ss(s);
    for (std::string x; std::getline(ss, x, ',');) v.push_back(x);
    return v;
  };
  int64_t line_no = 0;
  while (std::getline(f, line)) {
    ++line_no;
    if (line.empty()) continue;
    auto cells = split(line);
    if (header.empty()) {
      header = cells;
      continue;
    }
    if (cells == header) continue;  // a resumed run may repeat the header
    NAT_CHECK(cells.size() == header.size(), "[summary] ", csv_path, ":", line_no, " has ", cells.size(),
              " columns, the header ", header.size());
    std::vector<double> r;
    for (const auto& c : cells) {
      try {
        r.push_back(c.empty() ? NAN : std::stod(c));
      } catch (...) {
        NAT_THROW("[summary] ", csv_path, ":", line_no, ": '", c, "' is not a number");
      }
    }
    rows.push_back(r);
  }
  NAT_CHECK(!header.empty(), "[summary] ", csv_path, " is empty");
  return {header, rows};
}

}  // namespace nat::train
