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
// second truncating or interleaving with the first (tools::SameFile: hard links, symlinks, also
// dangling ones, /dev/stdout for "-"); /dev/null excepted, which keeps nothing to lose.
bool SameOutputFile(const std::string& a, const std::string& b);

// Calls `write` on the file at `path` ("-": stdout); InputError naming `option` and the path if
// it cannot.
void Emit(const char* option, const std::string& path, const std::function<void(std::ostream&)>& write);
// Emit for a run's --trace (`trace`, already built) and its --out together: a failure writing
// either keeps both files as they were (staged, then renamed together: tools::ReplaceFiles).
// Stdout ("-" for either) cannot be taken back, so it is written after the file.
void EmitWithTrace(const std::string& trace_path, const std::string& trace, const std::string& out_path,
                   const std::function<void(std::ostream&)>& write);
// Prints SizeForGpus's note, if any, to stderr ("plan-sim: note: ...").
void PrintNote(const std::string& note);

// InputError naming `option` and `path` if Emit could not write the file (tools::WritableError),
// so that a run fails before its work rather than after. Creates nothing and opens no existing
// file: opening and closing a FIFO to probe it would end its reader's input (QA, session 53).
void CheckWritable(const char* option, const std::string& path);

}  // namespace braid::sim
