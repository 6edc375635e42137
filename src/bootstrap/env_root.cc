#include <cstdlib>
#include <string>
#include <string_view>

#include "bootstrap/unique_id.h"

namespace braid::bootstrap {

LaunchJob LaunchJobFromEnv() {
  // In order: BRAID_JOB_ID overrides the launcher's name when ranks come from several launches;
  // torchrun's rendezvous id ("none", its default, names nothing); Slurm's job (not its step: one
  // job may start its ranks with several sruns; a heterogeneous job's components have job ids of
  // their own and share SLURM_HET_JOB_ID); PMIx's namespace (Open MPI's mpirun, one per launch).
  for (const char* name : {"BRAID_JOB_ID", "TORCHELASTIC_RUN_ID", "SLURM_HET_JOB_ID", "SLURM_JOB_ID", "PMIX_NAMESPACE"}) {
    const char* value = std::getenv(name);
    if (!value || !*value) continue;
    if (std::string_view(name) == "TORCHELASTIC_RUN_ID" && std::string_view(value) == "none") continue;
    return {name, value};
  }
  return {};
}

RootAddress EnvRootAddress(const std::string& host, uint16_t port, const LaunchJob& job) {
  std::string text = host + ":" + std::to_string(port);
  if (!job.value.empty()) text += "\n" + job.value;
  uint64_t hash = 1469598103934665603ull;  // FNV-1a 64-bit offset basis
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;  // FNV-1a 64-bit prime
  }
  return RootAddress{host, port, hash};
}

}  // namespace braid::bootstrap
