#include "buffer.h"

#include <cstring>
#include <string>

#include "backend.h"

namespace braid::perf {

namespace {
constexpr size_t kAlignment = 4096;  // bytes; page-aligned, as device allocations are
}  // namespace

Buffer AllocateBuffer(size_t bytes) {
  size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(kAlignment, rounded));
  if (p == nullptr) FatalError("allocating buffers", std::to_string(rounded) + " bytes: out of memory", 3);
  std::memset(p, 0, rounded);  // fault the pages in now, not during the timed loop
  return Buffer(p);
}

}  // namespace braid::perf
