// Where plan-sim writes a result: a file named by an option (--out, --trace), or stdout for "-".
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace braid::sim {

// Calls `write` on the file at `path` ("-": stdout); InputError naming `option` and the path if
// it cannot.
void Emit(const char* option, const std::string& path, const std::function<void(std::ostream&)>& write);
// InputError naming `option` and `path` if the file cannot be opened for writing, so that a run
// fails before its work rather than after (creates the file if it does not exist).
void CheckWritable(const char* option, const std::string& path);

}  // namespace braid::sim
