// Where plan-sim writes a result: a file named by an option (--out, --trace), or stdout for "-".
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace CLI {
class Validator;
}

namespace braid::sim {

// For options that name a file (--model, --cluster, --out, --trace, ...): an empty name is an
// error, not "option not given" (`--trace "$UNSET"` would otherwise drop the trace silently).
const CLI::Validator& NonEmptyPath();
// Whether writing output `a` and then output `b` ("-": stdout) would land in one file, the
// second truncating or interleaving with the first: the same existing file, pipe or terminal by
// device and inode (hard links, symlinks, /dev/stdout, stdout redirected to it; /dev/null
// excepted), or for a path not created yet, the same path once symlinks and ".." are resolved. Call after CheckWritable() has created both, so that a
// symlink to a file not yet there is caught too.
bool SameOutputFile(const std::string& a, const std::string& b);

// Calls `write` on the file at `path` ("-": stdout); InputError naming `option` and the path if
// it cannot.
void Emit(const char* option, const std::string& path, const std::function<void(std::ostream&)>& write);
// Emit for a run's --trace (`trace`, already built) and its --out together: a failure writing
// either keeps both files as they were (staged, then renamed together: tools::ReplaceFiles).
// Stdout ("-" for either) cannot be taken back, so it is written after the file.
void EmitWithTrace(const std::string& trace_path, const std::string& trace, const std::string& out_path,
                   const std::function<void(std::ostream&)>& write);
// InputError naming `option` and `path` if the file cannot be opened for writing, so that a run
// fails before its work rather than after. Creates the file if it does not exist, and then
// records it in `created` (if given) so that a run that fails can take it away again.
// Prints SizeForGpus's note, if any, to stderr ("plan-sim: note: ...").
void PrintNote(const std::string& note);

void CheckWritable(const char* option, const std::string& path, std::vector<std::string>* created = nullptr);

// Removes, when it goes out of scope, the files a run created for its outputs, unless Keep()
// was called: a run that fails leaves no empty or partial output behind.
class CreatedOutputs {
 public:
  CreatedOutputs() = default;
  CreatedOutputs(const CreatedOutputs&) = delete;
  CreatedOutputs& operator=(const CreatedOutputs&) = delete;
  ~CreatedOutputs();
  std::vector<std::string>* list() { return &paths_; }
  void Keep() { paths_.clear(); }

 private:
  std::vector<std::string> paths_;
};

}  // namespace braid::sim
