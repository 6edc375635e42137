#include "buffer.h"

#include <mpi.h>

#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>

#include "device_memory.h"

namespace braid::perf {

namespace {
constexpr size_t kAlignment = 4096;  // bytes; page-aligned, as device allocations are
}  // namespace

Buffer AllocateBuffer(size_t bytes) {
  if (bytes > std::numeric_limits<size_t>::max() - kAlignment) throw std::bad_alloc();  // rounding would wrap
  size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(kAlignment, rounded));
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, rounded);  // fault the pages in now, not during the timed loop
  return Buffer(p);
}

bool AllocatedOnEveryRank(const std::function<void()>& allocate) {
  std::string failure;
  try {
    allocate();
  } catch (const std::bad_alloc& e) {
    failure = e.what();
  } catch (const std::length_error& e) {
    failure = e.what();
  }
  int ok = failure.empty();
  if (!ok) {
    int rank = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    std::fprintf(stderr, "braid-perf: rank %d: allocating the message buffers failed (%s): out of memory; use a "
                 "smaller -e/--maxbytes\n", rank, failure.c_str());
  }
  MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return ok != 0;
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
