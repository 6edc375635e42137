#include "output.h"

#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "sim/common/input_error.h"

namespace braid::sim {

void Emit(const char* option, const std::string& path, const std::function<void(std::ostream&)>& write) {
  if (path == "-") {
    write(std::cout);
    if (!std::cout.flush()) throw InputError(fmt::format("{} -: writing to stdout failed", option));
    return;
  }
  std::ofstream file(path, std::ios::trunc);
  if (!file) throw InputError(fmt::format("{} {}: cannot open for writing", option, path));
  write(file);
  // Flushed before the check: a short result sits in the stream's buffer until then.
  if (!file.flush()) throw InputError(fmt::format("{} {}: write failed", option, path));
}

void CheckWritable(const char* option, const std::string& path) {
  if (path == "-") return;
  // Append mode: an existing file is not truncated by the check.
  if (!std::ofstream(path, std::ios::app)) {
    throw InputError(fmt::format("{} {}: cannot open for writing", option, path));
  }
}

}  // namespace braid::sim
