#include "output.h"

#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "sim/common/input_error.h"

namespace braid::sim {

void Emit(const std::string& path, const std::function<void(std::ostream&)>& write) {
  if (path == "-") {
    write(std::cout);
    std::cout.flush();
    return;
  }
  std::ofstream file(path, std::ios::trunc);
  if (!file) throw InputError(fmt::format("--out {}: cannot open for writing", path));
  write(file);
  if (!file) throw InputError(fmt::format("--out {}: write failed", path));
}

}  // namespace braid::sim
