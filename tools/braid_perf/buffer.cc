#include "buffer.h"

#include <cstring>
#include <string>

#include "backend.h"
#include "device_memory.h"

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

MessageBuffer::MessageBuffer(MemoryKind kind, size_t bytes) : kind_(kind) {
  if (kind_ == MemoryKind::kCuda) {
    data_ = static_cast<std::byte*>(device::Allocate(bytes));
  } else {
    host_ = AllocateBuffer(bytes);
    data_ = host_.get();
  }
}

MessageBuffer::~MessageBuffer() {
  if (kind_ == MemoryKind::kCuda) device::Free(data_);
}

void MessageBuffer::Write(const std::byte* host, size_t bytes) {
  if (kind_ == MemoryKind::kCuda) device::CopyToDevice(data_, host, bytes);
  else std::memcpy(data_, host, bytes);
}

void MessageBuffer::Read(std::byte* host, size_t bytes) const {
  if (kind_ == MemoryKind::kCuda) device::CopyToHost(host, data_, bytes);
  else std::memcpy(host, data_, bytes);
}

void MessageBuffer::Fill(std::byte value, size_t bytes) {
  if (kind_ == MemoryKind::kCuda) device::Fill(data_, static_cast<unsigned char>(value), bytes);
  else std::memset(data_, static_cast<int>(value), bytes);
}

}  // namespace braid::perf
