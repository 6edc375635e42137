// This job's other ranks on this host, by braid's own notion of a host (hostname, boot id, network
// and pid namespaces: src/bootstrap/host_identity.h), so braid-perf's backends and braid agree.
#pragma once

#include <vector>

namespace braid::perf {

struct LocalPeer {
  int rank = 0;
  int pid = 0;
};

// Collective over MPI_COMM_WORLD: gathers every rank's pid and host identity and keeps this
// host's other ranks.
std::vector<LocalPeer> LocalPeers();

}  // namespace braid::perf
