// Whether this process runs as a rank of an MPI job, from the variables its launcher set, for
// the subcommands that run without MPI (plot, calibrate, --version): under mpiexec every rank
// would run them at once.
#pragma once

#include <string>

namespace braid::perf {

// The launcher variable that says this process is a rank of an MPI job ("" if none): MPICH's
// Hydra and Slurm's PMI set PMI_RANK/PMI_SIZE, Open MPI OMPI_COMM_WORLD_*, PMIx launchers
// PMIX_RANK.
std::string MpiJobVariable();

// Whether this process is the first rank of the job it runs in (or in none): the rank that
// speaks for the job, once.
bool FirstRankOfJob();

}  // namespace braid::perf
