#include "output.h"

#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "sim/common/input_error.h"

namespace braid::sim {

void Emit(const char* option, const std::string& path, const std::function<void(std::ostream&)>& write) {
  if (path == "-") {
    write(std::cout);
    std::cout.flush();
    return;
  }
  std::ofstream file(path, std::ios::trunc);
  if (!file) throw InputError(fmt::format("{} {}: cannot open for writing", option, path));
  write(file);
  if (!file) throw InputError(fmt::format("{} {}: write failed", option, path));
}

}  // namespace braid::sim
