// Files that users hand to braid's tools (hwloc XML exports, plan-sim's model, cluster and
// calibration files), read whole, as a regular file or from a pipe (bash's <(lstopo --of xml -),
// /dev/stdin fed by a pipe, a named FIFO).
#pragma once

#include <cstddef>
#include <string>

#include "braid/status.h"

namespace braid::input_file {

// What the caller reads, for the error messages: "an hwloc XML file (or a pipe)" is what a
// device or a directory given by mistake is refused as not being; "an hwloc XML export" is what
// may not hold more than max_bytes.
struct Kind {
  const char* expected;
  const char* limit_holder;
  size_t max_bytes;
};

// The error for `path` holding more than kind.max_bytes (Read's own).
Status TooLarge(const std::string& path, const Kind& kind);

// Reads `path` into *text. InvalidArgument naming `path` when it cannot be opened or read, is
// neither a regular file nor a pipe (a directory; /dev/zero, which never ends), holds more than
// kind.max_bytes (a file of gigabytes given by mistake is an error, not a full memory), or is a
// pipe that nothing was written to (a FIFO without a writer reads as empty, never blocks).
Status Read(const std::string& path, const Kind& kind, std::string* text);

}  // namespace braid::input_file
