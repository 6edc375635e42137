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

}  // namespace braid::perf
