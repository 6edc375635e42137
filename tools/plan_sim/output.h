// Where plan-sim writes a result: a file named by an option (--out, --trace), or stdout for "-".
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace CLI {
class Validator;
}

namespace braid::sim {

// For options that name a file (--model, --cluster, --out, --trace, ...): an empty name is an
// error, not "option not given" (`--trace "$UNSET"` would otherwise drop the trace silently).
const CLI::Validator& NonEmptyPath();
// Whether writing output `a` and then output `b` ("-": stdout) would land in one file, the
// second truncating the first: the same existing regular file by device and inode (hard links,
// symlinks, stdout redirected to it), or for a path not created yet, the same path once
// symlinks and ".." are resolved. Call after CheckWritable() has created both, so that a
// symlink to a file not yet there is caught too.
bool SameOutputFile(const std::string& a, const std::string& b);

// Calls `write` on the file at `path` ("-": stdout); InputError naming `option` and the path if
// it cannot.
void Emit(const char* option, const std::string& path, const std::function<void(std::ostream&)>& write);
// InputError naming `option` and `path` if the file cannot be opened for writing, so that a run
// fails before its work rather than after (creates the file if it does not exist).
void CheckWritable(const char* option, const std::string& path);

}  // namespace braid::sim
