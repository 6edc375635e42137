// Whether a run's buffers fit the memory of the machines it runs on, checked before any of them
// is allocated: beyond the memory, Linux's overcommit lets a huge allocation succeed and the
// kernel's OOM killer then ends a rank midway through filling it (or a device allocation fails),
// and nothing says why.
#pragma once

#include <cstddef>
#include <optional>

#include "options.h"

namespace braid::perf {

// Bytes one rank allocates for a run of `options` on `nranks` ranks, at its largest size (-e).
struct MemoryNeed {
  size_t host = 0;    // host memory: message buffers, the -c 1 check's copy, pinned staging
  size_t device = 0;  // device memory (--memory cuda)
};
MemoryNeed RankMemoryNeed(const Options& options, int nranks);

// A field of /proc/meminfo ("MemAvailable", "MemTotal") in bytes; nullopt if it cannot be read.
std::optional<size_t> MeminfoBytes(const char* field);

// Collective over MPI_COMM_WORLD, before the run's buffers are allocated. True if every rank's
// need fits its share of the memory: the host's MemAvailable divided among the ranks on that
// host, and with --memory cuda its GPU's free memory (cudaMemGetInfo) among the ranks using that
// GPU. Otherwise false on every rank, after one message per host (or GPU) that is too small,
// naming the suite, -e, the need and the memory.
bool MemoryFits(const Options& options);

}  // namespace braid::perf
