#include "output.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "lib/replace_file.h"
#include "sim/common/input_error.h"

namespace braid::sim {
namespace {

// Whether `path` ("-": stdout) is /dev/null, which keeps nothing that two outputs could lose.
bool IsNullDevice(const std::string& path) {
  struct stat st, null_device;
  const int rc = path == "-" ? fstat(STDOUT_FILENO, &st) : stat(path.c_str(), &st);
  return rc == 0 && S_ISCHR(st.st_mode) && stat("/dev/null", &null_device) == 0 && st.st_rdev == null_device.st_rdev;
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
  return !IsNullDevice(a) && !IsNullDevice(b) && tools::SameFile(a, b);
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

void CheckWritable(const char* option, const std::string& path) {
  if (path == "-") return;
  if (std::string error = tools::WritableError(path); !error.empty()) throw InputError(fmt::format("{}: {}", option, error));
}

}  // namespace braid::sim
