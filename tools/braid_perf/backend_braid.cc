// braid backend: the communicator is created over MPI_COMM_WORLD's ranks with CommFromMpi, so
// MPI is only the launcher and the id exchange.
#include <mpi.h>

#include <cstdio>
#include <cstdlib>

#include "backend.h"
#include "braid/comm.h"
#include "braid/mpi.h"

namespace braid::perf {
namespace {

class BraidBackend final : public Backend {
 public:
  explicit BraidBackend(std::unique_ptr<Comm> comm) : comm_(std::move(comm)) {}

  std::string Describe() const override { return "braid (transport " + comm_->transport_name() + ")"; }
  std::string PeerTransports() const override { return comm_->transport_description(); }

  bool SupportsInPlace(Collective c) const override {
    return c != Collective::kAllToAll && c != Collective::kSendRecv;
  }

  size_t InPlaceOutputOffset(Collective c, int rank, size_t count) const override {
    return c == Collective::kReduceScatter ? size_t(rank) * count : 0;
  }

  void Run(const CallArgs& a) override {
    Status s;
    switch (a.collective) {
      case Collective::kAllReduce: s = comm_->AllReduce(a.send, a.recv, a.count, a.type, a.op); break;
      case Collective::kReduceScatter:
        s = comm_->ReduceScatter(a.send, a.recv, a.count, a.type, a.op);
        break;
      case Collective::kAllGather: s = comm_->AllGather(a.send, a.recv, a.count, a.type); break;
      case Collective::kBroadcast: s = comm_->Broadcast(a.send, a.recv, a.count, a.type, a.root); break;
      case Collective::kReduce: s = comm_->Reduce(a.send, a.recv, a.count, a.type, a.op, a.root); break;
      case Collective::kAllToAll: s = comm_->AllToAll(a.send, a.recv, a.count, a.type); break;
      case Collective::kSendRecv: s = SendRecv(a); break;
    }
    if (!s.ok()) FatalError(CollectiveName(a.collective), s.ToString(), 3);
  }

 private:
  // Ring shift: send to the next rank, receive from the previous one, concurrently.
  Status SendRecv(const CallArgs& a) {
    const int n = comm_->size(), r = comm_->rank();
    if (Status s = comm_->GroupStart(); !s.ok()) return s.WithContext("GroupStart");
    Status send = comm_->Send(a.send, a.count, a.type, (r + 1) % n);
    Status recv = comm_->Recv(a.recv, a.count, a.type, (r - 1 + n) % n);
    // Always close the group so the communicator is left consistent, then report the first error.
    Status end = comm_->GroupEnd();
    if (!send.ok()) return send.WithContext("Send");
    if (!recv.ok()) return recv.WithContext("Recv");
    return end.ok() ? end : end.WithContext("GroupEnd");
  }

  std::unique_ptr<Comm> comm_;
};

}  // namespace

void FatalError(const std::string& what, const std::string& message, int exit_code) {
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr, "braid-perf: rank %d: %s: %s\n", rank, what.c_str(), message.c_str());
  std::fflush(stderr);
  // Not MPI_Abort: under MPICH's Hydra the abort tore the job down before the launcher had
  // forwarded this message (lost in 2 of 3 runs). A rank that exits non-zero without
  // MPI_Finalize makes the launcher end the others as well, and its output is forwarded first.
  std::_Exit(exit_code);
}

std::unique_ptr<Comm> CreateBraidComm(const Options& options) {
  CommOptions comm_options;
  comm_options.algorithm = options.algo;
  std::unique_ptr<Comm> comm;
  Status s = CommFromMpi(MPI_COMM_WORLD, &comm, comm_options);
  if (!s.ok()) FatalError("creating the braid communicator", s.ToString(), 3);
  return comm;
}

std::unique_ptr<Backend> MakeBraidBackend(const Options& options) {
  return std::make_unique<BraidBackend>(CreateBraidComm(options));
}

}  // namespace braid::perf
