// The libraries braid-perf can time: braid itself, or the MPI library's own collectives (for
// comparison on the same machines with the same harness).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "braid/comm.h"
#include "braid/types.h"
#include "collective.h"
#include "options.h"

namespace braid::perf {

// One operation. Buffers follow NCCL's conventions, in-place included: reducescatter's
// recv == send + rank * count, allgather's send == recv + rank * count, otherwise send == recv.
struct CallArgs {
  Collective collective = Collective::kAllReduce;
  const void* send = nullptr;
  void* recv = nullptr;
  size_t count = 0;  // the collective's count argument, see Shape::count
  DataType type = DataType::kFloat32;
  RedOp op;
  int root = 0;
  bool in_place = false;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // For the header: "braid (transport ucx)", "mpi (MPICH Version: 4.0.2 ...)".
  virtual std::string Describe() const = 0;
  // What this rank's messaging layer selected for its peers (braid: the transport's description;
  // MPI: not exposed by the library).
  virtual std::string PeerTransports() const = 0;
  // Whether the in-place variant exists (braid rejects aliasing in alltoall; in-place sendrecv
  // would race the send against the receive into the same buffer).
  virtual bool SupportsInPlace(Collective c) const = 0;
  // Offset in elements of this rank's result within the in-place buffer (which starts at
  // `send` for reducescatter): NCCL puts it at rank * count, MPI at 0.
  virtual size_t InPlaceOutputOffset(Collective c, int rank, size_t count) const = 0;
  // Runs one operation to completion on this rank. Failure is fatal: the error is printed with
  // the rank and the whole job is aborted with exit code 3.
  virtual void Run(const CallArgs& args) = 0;
};

// Creates the braid communicator over MPI_COMM_WORLD (fatal on failure, exit 3).
std::unique_ptr<Comm> CreateBraidComm(const Options& options);
std::unique_ptr<Backend> MakeBraidBackend(const Options& options);
std::unique_ptr<Backend> MakeMpiBackend(const Options& options);

// First line of MPI_Get_library_version, whitespace collapsed, with MPICH's device when it names
// one: "MPICH Version: 4.0.2, device ch4:ucx".
std::string MpiLibraryVersion();

// Why the MPI backend cannot run these options (a type or reduction MPI lacks, or a count above
// MPI's int limit), or "" if it can.
std::string MpiUnsupportedReason(const Options& options, int nranks);

// Prints "braid-perf: rank R: <what>: <message>" to stderr and aborts the job with `exit_code`.
[[noreturn]] void FatalError(const std::string& what, const std::string& message, int exit_code);

}  // namespace braid::perf
