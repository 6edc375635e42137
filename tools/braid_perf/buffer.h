// Page-aligned host buffers for the measurement loops, faulted in before any timing, and the
// point-to-point suites' message buffers, in host or device memory (--memory).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

#include "options.h"

namespace braid::perf {

struct FreeDeleter {
  void operator()(std::byte* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<std::byte[], FreeDeleter>;

// At least `bytes` (one page if 0), zero-filled so the pages are resident. Out of memory is fatal
// (FatalError, exit 3).
Buffer AllocateBuffer(size_t bytes);

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
