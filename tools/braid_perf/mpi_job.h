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

// Whether the job this process runs in (if any) may have other ranks: its launcher's size
// variable (PMI_SIZE, OMPI_COMM_WORLD_SIZE) is above 1, or only PMIX_RANK says there is a job.
bool JobMayHaveOtherRanks();

}  // namespace braid::perf
