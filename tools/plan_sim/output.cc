#include "output.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <utility>

#include "lib/replace_file.h"
#include "sim/common/input_error.h"

namespace braid::sim {
namespace {

// Device and inode of `path` ("-": stdout) when two outputs written there would end up as one:
// a regular file (the second truncates the first), a pipe or a terminal (they interleave:
// `--trace /dev/stdout` with results on stdout). Not /dev/null, which keeps nothing to lose.
std::optional<std::pair<dev_t, ino_t>> OutputFileId(const std::string& path) {
  struct stat st;
  const int rc = path == "-" ? fstat(STDOUT_FILENO, &st) : stat(path.c_str(), &st);
  if (rc != 0) return std::nullopt;
  struct stat null_device;
  if (S_ISCHR(st.st_mode) && stat("/dev/null", &null_device) == 0 && st.st_rdev == null_device.st_rdev)
    return std::nullopt;
  return std::pair{st.st_dev, st.st_ino};
}

}  // namespace

void PrintNote(const std::string& note) {
  if (!note.empty()) std::cerr << "plan-sim: note: " << note << "\n";
}

const CLI::Validator& NonEmptyPath() {
  static const CLI::Validator validator(
      [](std::string& path) { return path.empty() ? std::string("an empty path names no file") : std::string(); },
      "PATH");
  return validator;
}

bool SameOutputFile(const std::string& a, const std::string& b) {
  if (a == b) return true;
  const auto id_a = OutputFileId(a), id_b = OutputFileId(b);
  if (id_a && id_b) return *id_a == *id_b;
  if (a == "-" || b == "-") return false;
  // A file not created yet: compare where the paths lead (symlinked directories, "..", "./").
  // Absolute first: weakly_canonical leaves a relative path whose first part does not exist as is.
  std::error_code error_a, error_b;
  const std::filesystem::path path_a = std::filesystem::weakly_canonical(std::filesystem::absolute(a), error_a);
  const std::filesystem::path path_b = std::filesystem::weakly_canonical(std::filesystem::absolute(b), error_b);
  return !error_a && !error_b && path_a == path_b;
}

void Emit(const char* option, const std::string& path, const std::function<void(std::ostream&)>& write) {
  if (path == "-") {
    write(std::cout);
    if (!std::cout.flush()) throw InputError(fmt::format("{} -: writing to stdout failed", option));
    return;
  }
  // Built whole, then replaced in one rename: a write that fails (a full disk) keeps the file that
  // was there instead of leaving it cut short.
  std::ostringstream text;
  write(text);
  if (std::string error = tools::ReplaceFile(path, text.str()); !error.empty())
    throw InputError(fmt::format("{}: {}", option, error));
}

void EmitWithTrace(const std::string& trace_path, const std::string& trace, const std::string& out_path,
                   const std::function<void(std::ostream&)>& write) {
  // Stdout cannot be taken back, so it is written last.
  if (out_path == "-") {
    Emit("--trace", trace_path, [&](std::ostream& out) { out << trace; });
    return Emit("--out", out_path, write);
  }
  if (trace_path == "-") {
    Emit("--out", out_path, write);
    return Emit("--trace", trace_path, [&](std::ostream& out) { out << trace; });
  }
  std::ostringstream results;
  write(results);
  if (std::string error = tools::ReplaceFiles({{trace_path, trace}, {out_path, results.str()}}); !error.empty())
    throw InputError(fmt::format("--trace {} / --out {}: {} (neither file was changed)", trace_path, out_path, error));
}

void CheckWritable(const char* option, const std::string& path, std::vector<std::string>* created) {
  if (path == "-") return;
  std::error_code error;
  const bool existed = std::filesystem::exists(std::filesystem::symlink_status(path, error));
  // Append mode: an existing file is not truncated by the check.
  if (!std::ofstream(path, std::ios::app)) {
    throw InputError(fmt::format("{} {}: cannot open for writing", option, path));
  }
  if (!existed && created) created->push_back(path);
}

CreatedOutputs::~CreatedOutputs() {
  std::error_code ignored;
  for (const std::string& path : paths_) std::filesystem::remove(path, ignored);
}

}  // namespace braid::sim
