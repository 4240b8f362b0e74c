// Run directory files: the lock, args.yaml, summary.csv, train.log and the checkpoint links.
#include "train/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "nn/safetensors.h"

namespace nat::train {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_csv(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');) v.push_back(x);
  if (!s.empty() && s.back() == ',') v.emplace_back();
  return v;
}

// summary.csv as text cells: the first header, and every row (repeated headers of older versions dropped).
struct SummaryCells {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

SummaryCells read_cells(const std::string& p) {
  SummaryCells c;
  std::error_code ec;
  if (!fs::exists(p, ec)) return c;
  std::ifstream f(p);
  NAT_CHECK(f.good(), "[run] cannot read ", p, ": ", std::strerror(errno));
  for (std::string line; std::getline(f, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> cells = split_csv(line);
    if (c.header.empty())
      c.header = std::move(cells);
    else if (cells != c.header)
      c.rows.push_back(std::move(cells));
  }
  NAT_CHECK(!f.bad(), "[run] cannot read ", p, ": ", std::strerror(errno));
  return c;
}

void write_cells(const std::string& p, const SummaryCells& c) {
  std::string text;
  auto row = [&](const std::vector<std::string>& v) {
    for (size_t i = 0; i < v.size(); ++i) text += (i ? "," : "") + v[i];
    text += "\n";
  };
  row(c.header);
  for (const auto& r : c.rows) row(r);
  nn::write_file_atomic(p, std::vector<uint8_t>(text.begin(), text.end()));
}

// The epoch of a row (its "epoch" cell), or -1 when it has none that reads as an integer.
int64_t row_epoch(const SummaryCells& c, const std::vector<std::string>& row) {
  auto it = std::find(c.header.begin(), c.header.end(), "epoch");
  const size_t i = it == c.header.end() ? 0 : static_cast<size_t>(it - c.header.begin());
  if (i >= row.size()) return -1;
  int64_t e = -1;
  const std::string& s = row[i];
  auto r = std::from_chars(s.data(), s.data() + s.size(), e);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() ? e : -1;
}

int64_t drop_rows_from(SummaryCells& c, int64_t epoch) {
  const size_t before = c.rows.size();
  c.rows.erase(std::remove_if(c.rows.begin(), c.rows.end(), [&](const auto& r) { return row_epoch(c, r) >= epoch; }),
               c.rows.end());
  return static_cast<int64_t>(before - c.rows.size());
}

std::string bytes_str(int64_t b) {
  const char* unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 6) v /= 1024, ++u;
  char buf[64];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%lld bytes", static_cast<long long>(b));
  else
    std::snprintf(buf, sizeof buf, "%lld bytes (%.1f %s)", static_cast<long long>(b), v, unit[u]);
  return buf;
}

}  // namespace

RunDir::RunDir(const std::string& path) : path_(path) {
  std::error_code ec;
  fs::create_directories(path_, ec);
  NAT_CHECK(!ec && fs::is_directory(path_), "[run] cannot create the run directory ", path_, ": ",
            ec ? ec.message() : std::string("a file of that name is in the way"));
  const std::string lock = file(".lock");
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  NAT_CHECK(lock_fd_ >= 0, "[run] cannot create ", lock, ": ", std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      char buf[256] = {};
      const ssize_t n = ::pread(lock_fd_, buf, sizeof buf - 1, 0);
      std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("pid unknown");
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      ::close(lock_fd_);
      lock_fd_ = -1;
      NAT_THROW("[run] ", path_, " is in use by another run (", holder, ", holding ", lock,
                "): two runs never share a run directory. Wait for that run to end or stop it, or give this run "
                "another --experiment");
    }
    // A file system without flock (some network mounts): train on, but say what is not guarded.
    std::fprintf(stderr,
                 "nat train: warning: cannot lock %s (%s); a second run in this directory would not be noticed\n",
                 lock.c_str(), std::strerror(err));
  } else {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    const std::string who = str("pid ", ::getpid(), " on ", host, "\n");
    if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, who.data(), who.size(), 0) < 0) {
      const int err = errno;
      ::close(lock_fd_);
      lock_fd_ = -1;
      NAT_THROW("[run] cannot write ", lock, ": ", std::strerror(err));
    }
  }
  log_ = std::fopen(file("train.log").c_str(), "a");
  if (!log_) {
    const int err = errno;
    ::close(lock_fd_);
    lock_fd_ = -1;
    NAT_THROW("[run] cannot open ", file("train.log"), " for writing: ", std::strerror(err));
  }
}

RunDir::~RunDir() {
  if (log_) std::fclose(log_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the lock; the file stays (removing it would race)
}

void RunDir::write_text(const std::string& name, const std::string& text) const {
  nn::write_file_atomic(file(name), std::vector<uint8_t>(text.begin(), text.end()));
}

void RunDir::write_summary_row(const std::vector<std::string>& columns, const std::vector<std::string>& values,
                               int64_t epoch) const {
  NAT_CHECK(columns.size() == values.size(), "[run] summary row of ", values.size(), " values for ", columns.size(),
            " columns");
  const std::string p = file("summary.csv");
  SummaryCells c = read_cells(p);
  if (c.header.empty()) c.header = columns;
  const size_t old_width = c.header.size();
  for (const auto& name : columns)
    if (std::find(c.header.begin(), c.header.end(), name) == c.header.end()) c.header.push_back(name);
  for (auto& r : c.rows)
    if (r.size() == old_width) r.resize(c.header.size());  // columns new to this run: empty in older rows
  std::vector<std::string> row(c.header.size());
  for (size_t i = 0; i < columns.size(); ++i)
    row[static_cast<size_t>(std::find(c.header.begin(), c.header.end(), columns[i]) - c.header.begin())] = values[i];
  drop_rows_from(c, epoch);
  c.rows.push_back(std::move(row));
  write_cells(p, c);
}

int64_t RunDir::drop_summary_rows_from(int64_t epoch) const {
  const std::string p = file("summary.csv");
  SummaryCells c = read_cells(p);
  const int64_t dropped = drop_rows_from(c, epoch);
  if (dropped > 0) write_cells(p, c);
  return dropped;
}

void RunDir::log(const std::string& line) {
  if (std::fputs(line.c_str(), log_) < 0 || std::fputc('\n', log_) == EOF || std::fflush(log_) != 0) {
    const int err = errno;
    std::clearerr(log_);
    NAT_THROW("[run] cannot write ", file("train.log"), ": ", std::strerror(err));
  }
}

void RunDir::link(const std::string& from, const std::string& to) const {
  std::string src = file(from), dst = file(to), tmp = dst + ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_hard_link(src, tmp, ec);
  if (ec) {
    ec.clear();
    fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
    if (ec) fs::remove(tmp, ec);
    NAT_CHECK(!ec, "[run] cannot copy ", src, " to ", tmp, ": ", ec.message());
  }
  fs::rename(tmp, dst, ec);
  NAT_CHECK(!ec, "[run] cannot rename ", tmp, " to ", dst, ": ", ec.message());
}

void RunDir::remove(const std::string& name) const {
  std::error_code ec;
  fs::remove(file(name), ec);
}

std::vector<std::string> RunDir::remove_stale_temporaries() const {
  std::vector<std::string> removed;
  std::error_code ec;
  for (fs::directory_iterator it(path_, ec), end; !ec && it != end; it.increment(ec)) {
    // Only the temporaries of the files a run writes: a run directory may be a folder of the user's own.
    const std::string name = it->path().filename().string();
    const std::string suffix = ".safetensors.tmp";
    const bool ours =
        name == "summary.csv.tmp" || name == "args.yaml.tmp" ||
        (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0);
    if (!ours) continue;
    std::error_code rec;
    if (it->is_directory(rec)) continue;
    fs::remove(it->path(), rec);
    NAT_CHECK(!rec, "[run] cannot remove the stale ", it->path().string(), ": ", rec.message());
    removed.push_back(name);
  }
  NAT_CHECK(!ec, "[run] cannot list ", path_, ": ", ec.message());
  std::sort(removed.begin(), removed.end());
  return removed;
}

std::string claim_new_run_dir(const std::string& base) {
  const fs::path parent = fs::path(base).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    NAT_CHECK(!ec, "[run] cannot create ", parent.string(), ": ", ec.message());
  }
  for (int64_t i = 0; i <= 100000; ++i) {
    const std::string d = i == 0 ? base : str(base, "-", i);
    if (::mkdir(d.c_str(), 0755) == 0) return d;
    NAT_CHECK(errno == EEXIST, "[run] cannot create the run directory ", d, ": ", std::strerror(errno));
  }
  NAT_THROW("[run] ", base, " and its suffixes -1 ... -100000 all exist; choose another --experiment");
}

int64_t free_bytes(const std::string& path) {
  struct statvfs v {};
  NAT_CHECK(::statvfs(path.c_str(), &v) == 0, "[run] cannot query the free space of ", path, ": ",
            std::strerror(errno));
  const auto blocks = ::geteuid() == 0 ? v.f_bfree : v.f_bavail;  // root may use the reserved blocks
  return static_cast<int64_t>(blocks) * static_cast<int64_t>(v.f_frsize);
}

void check_free_space(const std::string& path, int64_t needed, const std::string& what, int64_t free_override) {
  const int64_t have = free_override >= 0 ? free_override : free_bytes(path);
  NAT_CHECK(have >= needed, "[run] ", path, " has ", bytes_str(have), " free, but ", what, " needs about ",
            bytes_str(needed), ". Free some space or write the run elsewhere (--output DIR)");
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
  int64_t line_no = 0;
  while (std::getline(f, line)) {
    ++line_no;
    if (line.empty()) continue;
    if (line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    auto cells = split_csv(line);
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
