#include "collective.h"

#include <algorithm>

namespace braid::perf {
namespace {

constexpr const char* kNames[kNumCollectives] = {
    "allreduce", "reducescatter", "allgather", "broadcast", "reduce", "alltoall", "sendrecv",
};

}  // namespace

const char* CollectiveName(Collective c) {
  int i = static_cast<int>(c);
  return (i >= 0 && i < kNumCollectives) ? kNames[i] : "invalid";
}

std::optional<Collective> ParseCollective(std::string_view name) {
  for (int i = 0; i < kNumCollectives; ++i)
    if (name == kNames[i]) return static_cast<Collective>(i);
  return std::nullopt;
}

std::string CollectiveNameList() {
  std::string list;
  for (int i = 0; i < kNumCollectives; ++i) {
    if (i) list += ", ";
    list += kNames[i];
  }
  return list;
}

bool IsReduction(Collective c) {
  return c == Collective::kAllReduce || c == Collective::kReduceScatter || c == Collective::kReduce;
}

bool HasRoot(Collective c) { return c == Collective::kBroadcast || c == Collective::kReduce; }

double BusBwFactor(Collective c, int nranks) {
  const double n = nranks;
  switch (c) {
    case Collective::kAllReduce: return 2.0 * (n - 1) / n;
    case Collective::kReduceScatter:
    case Collective::kAllGather:
    case Collective::kAllToAll: return (n - 1) / n;
    default: return 1.0;
  }
}

Shape ShapeFor(Collective c, size_t requested_bytes, size_t elem_size, int nranks) {
  const size_t n = static_cast<size_t>(std::max(nranks, 1));
  const size_t elems = elem_size ? requested_bytes / elem_size : 0;
  Shape s;
  switch (c) {
    case Collective::kReduceScatter:
      s.count = elems / n;
      s.send_count = s.count * n;
      s.recv_count = s.count;
      break;
    case Collective::kAllGather:
      s.count = elems / n;
      s.send_count = s.count;
      s.recv_count = s.count * n;
      break;
    case Collective::kAllToAll:
      s.count = elems / n;
      s.send_count = s.recv_count = s.count * n;
      break;
    default:
      s.count = s.send_count = s.recv_count = elems;
      break;
  }
  s.bytes = std::max(s.send_count, s.recv_count) * elem_size;
  return s;
}

}  // namespace braid::perf
