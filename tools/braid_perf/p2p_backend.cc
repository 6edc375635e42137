#include "p2p_backend.h"

namespace braid::perf {

std::unique_ptr<P2pBackend> MakeP2p(BackendKind kind, const Options& options) {
  switch (kind) {
    case BackendKind::kBraid: return MakeBraidP2p(options);
    case BackendKind::kUcx: return MakeUcxP2p(options);
    case BackendKind::kMpi: return MakeMpiP2p(options);
  }
  return nullptr;
}

}  // namespace braid::perf
