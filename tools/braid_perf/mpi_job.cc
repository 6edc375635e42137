#include "mpi_job.h"

#include <cstdlib>
#include <string_view>

namespace braid::perf {

std::string MpiJobVariable() {
  for (const char* name : {"PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"})
    if (std::getenv(name)) return name;
  return "";
}

bool FirstRankOfJob() {
  for (const char* name : {"PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"})
    if (const char* rank = std::getenv(name)) return std::string_view(rank) == "0";
  return true;
}

bool JobMayHaveOtherRanks() {
  for (const char* name : {"PMI_SIZE", "OMPI_COMM_WORLD_SIZE"})
    if (const char* size = std::getenv(name)) return std::string_view(size) != "1";
  return std::getenv("PMIX_RANK") != nullptr;  // a PMIx launcher: the size is the job's to say
}

}  // namespace braid::perf
