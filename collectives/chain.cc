// Chain broadcast / reduce: ranks in the order root, root+1, ..., root-1 form a path. Data is
// pipelined slice by slice along it (rooted_pipeline.cc), so the last rank gets the last slice
// after (n-1) + (m-1) message steps for m slices; each rank sends one message per slice, which
// makes the chain the bandwidth-optimal choice for large broadcasts and reduces.
#include "collectives/schedule_builder.h"

namespace braid::coll::internal {
namespace {

TreeLinks ChainLinks(int nranks, int rank, int root) {
  const int p = (rank - root + nranks) % nranks;  // position along the chain
  TreeLinks links;
  if (p > 0) links.parent = (rank - 1 + nranks) % nranks;
  if (p < nranks - 1) links.children[links.num_children++] = (rank + 1) % nranks;
  return links;
}

}  // namespace

bool BuildChain(const ScheduleRequest& r, RankSchedule* out, std::string* error) {
  switch (r.collective) {
    case Collective::kBroadcast:
      return BuildRootedBroadcast(r, ChainLinks(r.nranks, r.rank, r.root), out, error);
    case Collective::kReduce:
      return BuildRootedReduce(r, ChainLinks(r.nranks, r.rank, r.root), out, error);
    default: break;
  }
  if (error) *error = std::string("algorithm chain does not support ") + CollectiveName(r.collective);
  return false;
}

}  // namespace braid::coll::internal
