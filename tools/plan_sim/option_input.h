// Inputs named by options (--model, --cluster, --calibration): their errors say which option.
#pragma once

#include <fmt/format.h>

#include <string>

#include "sim/common/input_error.h"

namespace braid::sim {

// `load()`, with an InputError that does not name its option prefixed "option: " (a file's error
// names only its path, which for a pipe is /dev/fd/63; QA, session 54).
template <typename Load>
auto ForOption(const char* option, Load load) {
  try {
    return load();
  } catch (const InputError& e) {
    const std::string what = e.what();
    if (what.rfind("--", 0) == 0) throw;
    throw InputError(fmt::format("{}: {}", option, what));
  }
}

}  // namespace braid::sim
