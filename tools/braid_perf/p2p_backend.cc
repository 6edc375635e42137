#include "p2p_backend.h"

#include "p2p_staging.h"

namespace braid::perf {
namespace {

std::unique_ptr<P2pBackend> MakeUnstaged(BackendKind kind, const Options& options) {
  switch (kind) {
    case BackendKind::kBraid: return MakeBraidP2p(options);
    case BackendKind::kUcx: return MakeUcxP2p(options);
    case BackendKind::kMpi: return MakeMpiP2p(options);
  }
  return nullptr;
}

}  // namespace

std::unique_ptr<P2pBackend> MakeP2p(BackendKind kind, const Options& options) {
  std::unique_ptr<P2pBackend> backend = MakeUnstaged(kind, options);
  if (options.memory != MemoryKind::kCuda || backend->TakesDeviceMemory()) return backend;
  return MakeStagedP2p(std::move(backend), StagingBytes(options), CudaStagingCopies());
}

}  // namespace braid::perf
