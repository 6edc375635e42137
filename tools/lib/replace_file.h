// Writing the tools' output files (braid-perf --json/--csv/-o, plan-sim --out/--trace,
// braid-topo --out) so that a run that fails never costs the file already there: the new content
// goes to a temporary file beside the target and is renamed over it only once all of it is written.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace braid::tools {

// "" if ReplaceFile can write `path`, else "cannot open '<path>' for writing: <why>": its
// directory is missing or takes no new files (a probe file is created there and removed), or
// `path` is a directory. Checked before a run starts, so that a bad path fails fast and no
// existing file is touched.
std::string WritableError(const std::string& path);

// Writes `text` to a temporary file in `path`'s directory (hidden, ".<name>.XXXXXX") and renames
// it over `path` once it is complete and flushed: a crash or a failed write leaves the old file
// as it was and no partly written one. The new file keeps the old one's permissions (a new one
// gets 0666 less the umask, as any new file); a symbolic link is followed, so the
// file it points to is the one replaced. A path that exists and is no regular file (/dev/stdout,
// a FIFO) is written in place; a FIFO without a reader is an error, not a wait for one. Returns
// "" or the error ("writing '<path>' failed: <why>").
std::string ReplaceFile(const std::string& path, const std::string& text);

// Writes `text` to stdout and flushes it. stdio keeps a write's failure (a full disk, a closed
// pipe) until the flush, so unchecked the output was lost with exit 0 (`> /dev/full`). Returns
// "" or "writing <what> to stdout failed: <why>" (`what` empty: "writing to stdout failed: ...").
std::string WriteStdout(const std::string& text, const std::string& what = "");

// WriteStdout for "-", else ReplaceFile.
std::string WriteOutput(const std::string& path, const std::string& text);

// Whether two paths name one file: the same existing file (hard links, symlinks, /dev/stdout
// for "-", which stands for stdout), or, when one is not there yet, the same path once "." / ".."
// and symbolic links (a dangling one names the file writing through it would create) are
// resolved.
bool SameFile(const std::string& a, const std::string& b);

// ReplaceFile for several files that belong together (braid-perf's --json and --csv of one run):
// all are written to their temporaries first and renamed only if every one was written, so a
// failure replaces none of them. Files that are no regular files are written in place after the
// others were staged (they cannot be undone; a failure there still replaces nothing else).
// Returns "" or the first error.
std::string ReplaceFiles(const std::vector<std::pair<std::string, std::string>>& path_and_text);

}  // namespace braid::tools
