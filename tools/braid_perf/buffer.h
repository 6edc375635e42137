// Page-aligned host buffers for the measurement loops, faulted in before any timing.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

namespace braid::perf {

struct FreeDeleter {
  void operator()(std::byte* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<std::byte[], FreeDeleter>;

// At least `bytes` (one page if 0), zero-filled so the pages are resident. Out of memory is fatal
// (FatalError, exit 3).
Buffer AllocateBuffer(size_t bytes);

}  // namespace braid::perf
