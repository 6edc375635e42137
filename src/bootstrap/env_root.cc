#include <cstdlib>
#include <string>
#include <string_view>

#include "bootstrap/unique_id.h"

namespace braid::bootstrap {

LaunchJob LaunchJobFromEnv() {
  // Only names every rank of one launch is given alike: BRAID_JOB_ID (which also joins ranks of
  // several launches), torchrun's rendezvous id ("none", its default, names nothing) and the PMIx
  // namespace (Open MPI's mpirun, srun --mpi=pmix: one per launch). Not Slurm's job id: ranks
  // started over ssh inside an allocation do not inherit it while those on the launch node do,
  // and such a job would be refused.
  for (const char* name : {"BRAID_JOB_ID", "TORCHELASTIC_RUN_ID", "PMIX_NAMESPACE"}) {
    const char* value = std::getenv(name);
    if (!value || !*value) continue;
    if (std::string_view(name) == "TORCHELASTIC_RUN_ID" && std::string_view(value) == "none") continue;
    return {name, value};
  }
  return {};
}

RootAddress EnvRootAddress(const std::string& host, uint16_t port, const LaunchJob& job) {
  // Not the host: a rank reaches whichever root listens where it was told, so the host tells no
  // jobs apart, and spellings of one root must agree (rank 0 binding 0.0.0.0:P, the others given
  // an interface address; a name that resolves differently per host). With it in, such ranks
  // were refused as another job's (QA session 56).
  std::string text = std::to_string(port);
  if (!job.value.empty()) text += "\n" + job.value;
  uint64_t hash = 1469598103934665603ull;  // FNV-1a 64-bit offset basis
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;  // FNV-1a 64-bit prime
  }
  return RootAddress{host, port, hash};
}

}  // namespace braid::bootstrap
