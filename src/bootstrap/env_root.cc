#include <cstdlib>
#include <string>

#include "bootstrap/unique_id.h"

namespace braid::bootstrap {

LaunchJob LaunchJobFromEnv() {
  auto get = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value ? std::string(value) : std::string();
  };
  // BRAID_JOB_ID first: it overrides the launcher's name when ranks come from several launches.
  for (const char* name : {"BRAID_JOB_ID", "TORCHELASTIC_RUN_ID", "PMIX_NAMESPACE"}) {
    if (std::string value = get(name); !value.empty()) return {name, value};
  }
  // Slurm: every task of one step shares the job and step ids.
  std::string job = get("SLURM_JOB_ID"), step = get("SLURM_STEP_ID");
  if (!job.empty() && !step.empty()) return {"SLURM_JOB_ID.SLURM_STEP_ID", job + "." + step};
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
