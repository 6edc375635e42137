// Where plan-sim writes a result: a file named by an option (--out, --trace), or stdout for "-".
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace braid::sim {

// Calls `write` on the file at `path` ("-": stdout); InputError naming `option` and the path if
// it cannot.
void Emit(const char* option, const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace braid::sim
