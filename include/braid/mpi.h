// Optional header-only bridge: create a braid::Comm over the ranks of an MPI communicator, so
// that an MPI launcher (mpiexec, srun) can start braid jobs. libbraid does not link MPI; the
// application includes this header and links MPI itself.
//
// Contract of CommFromMpi:
// - Collective over `mpi_comm`: every rank of it must call it (from the thread that owns MPI),
//   after MPI_Init and before MPI_Finalize. The new communicator has MPI_Comm_size(mpi_comm)
//   ranks and rank i of it is MPI rank i of `mpi_comm`.
// - Rank 0 of `mpi_comm` starts the rendezvous root (Comm::GetUniqueId) and broadcasts the
//   128-byte id with MPI_Bcast; all ranks then join with Comm::Create(id, size, rank, options).
// - If rank 0 cannot create the id, every rank returns the same error (the failure is
//   broadcast with the id) instead of hanging in Create. Failures of Create are per rank.
// - MPI is used only for the id exchange; the braid communicator does not use `mpi_comm`
//   afterwards: it may outlive `mpi_comm` and be destroyed before or after MPI_Finalize.
// - *out is set only on success.
#pragma once

#include <mpi.h>

#include <cstring>
#include <memory>
#include <string>

#include "braid/comm.h"
#include "braid/status.h"

namespace braid {

inline Status CommFromMpi(MPI_Comm mpi_comm, std::unique_ptr<Comm>* out,
                          const CommOptions& options = {}) {
  if (out == nullptr) return Status::InvalidArgument("CommFromMpi: out is null");
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized)
    return Status::InvalidUsage("CommFromMpi: MPI is not initialized (or already finalized)");
  if (mpi_comm == MPI_COMM_NULL) return Status::InvalidArgument("CommFromMpi: mpi_comm is MPI_COMM_NULL");

  int rank = 0, size = 0;
  if (MPI_Comm_rank(mpi_comm, &rank) != MPI_SUCCESS || MPI_Comm_size(mpi_comm, &size) != MPI_SUCCESS)
    return Status::SystemError("CommFromMpi: MPI_Comm_rank/MPI_Comm_size failed");

  // The id plus one status byte, so that a failure on rank 0 reaches every rank.
  struct Packet {
    UniqueId id;
    char root_ok;
  } packet;
  std::memset(&packet, 0, sizeof(packet));
  Status root_status;
  if (rank == 0) {
    root_status = Comm::GetUniqueId(&packet.id);
    packet.root_ok = root_status.ok() ? 1 : 0;
  }
  if (MPI_Bcast(&packet, int(sizeof(packet)), MPI_BYTE, 0, mpi_comm) != MPI_SUCCESS)
    return Status::SystemError("CommFromMpi: MPI_Bcast of the unique id failed");
  if (!packet.root_ok) {
    if (rank == 0) return root_status.WithContext("CommFromMpi: GetUniqueId on rank 0");
    return Status::RemoteError("CommFromMpi: rank 0 failed to create the unique id");
  }
  std::unique_ptr<Comm> comm;
  Status s = Comm::Create(packet.id, size, rank, &comm, options);
  if (!s.ok()) return s.WithContext("CommFromMpi: Comm::Create rank " + std::to_string(rank));
  *out = std::move(comm);
  return Status::Ok();
}

}  // namespace braid
