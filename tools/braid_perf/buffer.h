// Page-aligned host buffers for the measurement loops, faulted in before any timing, and the
// point-to-point suites' message buffers, in host or device memory (--memory).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <functional>
#include <memory>

#include "options.h"

namespace braid::perf {

struct FreeDeleter {
  void operator()(std::byte* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<std::byte[], FreeDeleter>;

// At least `bytes` (one page if 0), zero-filled so the pages are resident. Throws std::bad_alloc
// when out of memory (or `bytes` is too large to round to pages): see AllocatedOnEveryRank.
Buffer AllocateBuffer(size_t bytes);

// Collective over MPI_COMM_WORLD: runs `allocate` (this rank's buffer setup) and returns whether
// it succeeded on every rank. An allocation that fails (std::bad_alloc, std::length_error) is
// reported by its rank instead of aborting the process, so that every rank can leave together
// with exit code 2 (a request too large for this machine). MemoryFits (memory_budget.h) refuses
// most such runs before; this catches what it cannot foresee.
bool AllocatedOnEveryRank(const std::function<void()>& allocate);

// `bytes` of message memory of one kind. data() is what the layers under test get; the bench
// reads and writes it through Write/Read/Fill, which copy when it is device memory.
class MessageBuffer {
 public:
  MessageBuffer(MemoryKind kind, size_t bytes);
  ~MessageBuffer();
  MessageBuffer(const MessageBuffer&) = delete;
  MessageBuffer& operator=(const MessageBuffer&) = delete;

  std::byte* data() { return data_; }
  void Write(const std::byte* host, size_t bytes);  // host -> the first `bytes`
  void Read(std::byte* host, size_t bytes) const;   // the first `bytes` -> host
  void Fill(std::byte value, size_t bytes);

 private:
  MemoryKind kind_;
  Buffer host_;               // kHost
  std::byte* data_ = nullptr;  // host_.get() or device memory
};

}  // namespace braid::perf
