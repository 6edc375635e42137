#include "local_peers.h"

#include <mpi.h>
#include <unistd.h>

#include <cstring>

#include "bootstrap/host_identity.h"

namespace braid::perf {

std::vector<LocalPeer> LocalPeers() {
  constexpr int kIdentityBytes = 512;  // fixed-size records for MPI_Allgather
  struct Record {
    int pid;
    char host[kIdentityBytes];
  } mine{};
  mine.pid = int(getpid());
  std::strncpy(mine.host, bootstrap::LocalHostIdentity().c_str(), kIdentityBytes - 1);
  int rank = 0, nranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  std::vector<Record> all(static_cast<size_t>(nranks));
  MPI_Allgather(&mine, sizeof(Record), MPI_BYTE, all.data(), sizeof(Record), MPI_BYTE, MPI_COMM_WORLD);
  std::vector<LocalPeer> peers;
  for (int r = 0; r < nranks; ++r)
    if (r != rank && std::strncmp(all[size_t(r)].host, mine.host, kIdentityBytes) == 0)
      peers.push_back({r, all[size_t(r)].pid});
  return peers;
}

}  // namespace braid::perf
