// The messaging layers the point-to-point suites time, from the top down: braid's Comm
// (Send/Recv, GroupStart/GroupEnd), UCX's tag API used directly with the transports braid would
// pick, and the MPI library (MPI_Send/Recv, Isend/Irecv + Waitall). Peers are MPI_COMM_WORLD
// ranks. Any failure is fatal (FatalError, exit 3).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "options.h"

namespace braid::perf {

class P2pBackend {
 public:
  virtual ~P2pBackend() = default;

  virtual std::string Describe() const = 0;
  // What this rank's layer selected for its peers, as the layer reports it.
  virtual std::string PeerTransports() const = 0;
  // Whether it takes device (CUDA) pointers itself under --memory cuda; if not, MakeP2p stages
  // its messages through pinned host memory (p2p_staging.h).
  virtual bool TakesDeviceMemory() const { return false; }

  // Blocking: returns when the message is sent (buffer reusable) or received.
  virtual void Send(const void* buf, size_t bytes, int peer) = 0;
  virtual void Recv(void* buf, size_t bytes, int peer) = 0;

  // A window: operations posted after Begin() progress concurrently and are all complete when
  // Complete() returns. Messages between a pair match in posting order.
  virtual void Begin() = 0;
  virtual void PostSend(const void* buf, size_t bytes, int peer) = 0;
  virtual void PostRecv(void* buf, size_t bytes, int peer) = 0;
  virtual void Complete() = 0;
};

std::unique_ptr<P2pBackend> MakeBraidP2p(const Options& options);
std::unique_ptr<P2pBackend> MakeMpiP2p(const Options& options);
std::unique_ptr<P2pBackend> MakeUcxP2p(const Options& options);
// One of the three, staged when options.memory is cuda and it cannot take device memory.
std::unique_ptr<P2pBackend> MakeP2p(BackendKind kind, const Options& options);

}  // namespace braid::perf
