#include "memory_budget.h"

#include <mpi.h>

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>

#include "bootstrap/host_identity.h"
#include "collective.h"
#include "device_memory.h"
#include "p2p_staging.h"

namespace braid::perf {
namespace {

constexpr size_t kNoLimit = std::numeric_limits<size_t>::max();

// a * k and a + b, or SIZE_MAX where that overflows: a need that large fits nowhere anyway.
size_t Times(size_t a, size_t k) {
  size_t product = 0;
  return __builtin_mul_overflow(a, k, &product) ? kNoLimit : product;
}
size_t Plus(size_t a, size_t b) {
  size_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? kNoLimit : sum;
}

// "1.5 GiB": powers of 1024, as -b/-e count.
std::string Binary(size_t bytes) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = double(bytes);
  int unit = 0;
  for (; value >= 1024 && unit < 6; ++unit) value /= 1024;
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

// Collective over `sharing` (the ranks on one host, or using one GPU): whether `need` bytes per
// rank fit the `available` bytes that its first rank read, split among them; `memory` says
// which memory that is. Unknown memory (nullopt) is taken to fit: there is nothing to check
// against. The first rank prints why not, so each memory is reported once.
bool FitsShare(const Options& options, size_t need, std::optional<size_t> available, const std::string& memory,
               MPI_Comm sharing) {
  int sharers = 1, first = 0;
  MPI_Comm_size(sharing, &sharers);
  MPI_Comm_rank(sharing, &first);
  // One reading for all: two taken a moment apart differ, and the ranks must agree.
  uint64_t reading[2] = {available.has_value(), available.value_or(0)};
  MPI_Bcast(reading, 2, MPI_UINT64_T, 0, sharing);
  available = reading[0] ? std::optional<size_t>(reading[1]) : std::nullopt;
  if (!available || need <= *available / size_t(sharers)) return true;
  if (first == 0) {
    const std::string what = options.suite ? P2pSuiteName(*options.suite) : CollectiveName(options.collective);
    // A need that overflowed (Times, Plus) is not 16 EiB but more than any size can say.
    const std::string needed = need == kNoLimit ? "2^64 B or more" : Binary(need);
    std::fprintf(stderr, "braid-perf: %s with -e/--maxbytes %zu B (%s) needs %s per rank, but %s is %s for %d "
                 "rank(s), %s each: use a smaller -e/--maxbytes\n", what.c_str(), options.max_bytes,
                 Binary(options.max_bytes).c_str(), needed.c_str(), memory.c_str(),
                 Binary(*available).c_str(), sharers, Binary(*available / size_t(sharers)).c_str());
  }
  return false;
}

}  // namespace

MemoryNeed RankMemoryNeed(const Options& o, int nranks) {
  MemoryNeed need;
  if (!o.suite) {
    // The send and the receive (in-place) buffer of bench.cc, and as much again for the
    // library's own working space: braid's scratch slots and premulsum copy, or the temporary
    // buffers of an MPI library's collective.
    const size_t buffer = ShapeFor(o.collective, o.max_bytes, DataTypeSize(o.type), nranks).bytes;
    need.host = Times(buffer, 3);
    return need;
  }
  // p2p_bench.cc's send and receive buffers, and the host copy of one message that -c 1 checks.
  const size_t buffers = Times(o.max_bytes, 2);
  if (o.memory == MemoryKind::kCuda) {
    need.device = buffers;
    // Pinned staging both ways for each backend (an upper bound: one that takes device memory
    // itself is not staged, but which one does is known only once it exists).
    need.host = Times(StagingBytes(o), o.versus ? 4 : 2);
  } else {
    need.host = buffers;
  }
  if (o.check) need.host = Plus(need.host, o.max_bytes);
  return need;
}

std::optional<size_t> MeminfoBytes(const char* field) {
  std::ifstream meminfo("/proc/meminfo");
  const std::string key = std::string(field) + ":";
  std::string name;
  size_t kib = 0;
  while (meminfo >> name >> kib) {
    if (name == key) return Times(kib, 1024);
    meminfo.ignore(256, '\n');
  }
  return std::nullopt;
}

bool MemoryFits(const Options& options) {
  int nranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  const MemoryNeed need = RankMemoryNeed(options, nranks);
  MPI_Comm host;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &host);
  const std::string host_name = bootstrap::Hostname();
  int fits = FitsShare(options, need.host, MeminfoBytes("MemAvailable"),
                       fmt::format("host memory available on {} (MemAvailable)", host_name), host);
  if (fits && need.device > 0) {
    const int gpu = device::CurrentDevice();
    MPI_Comm users;
    MPI_Comm_split(host, gpu, 0, &users);
    fits = FitsShare(options, need.device, device::FreeBytes(),
                     fmt::format("the free memory of GPU {} on {}", gpu, host_name), users);
    MPI_Comm_free(&users);
  }
  MPI_Comm_free(&host);
  MPI_Allreduce(MPI_IN_PLACE, &fits, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return fits != 0;
}

}  // namespace braid::perf
