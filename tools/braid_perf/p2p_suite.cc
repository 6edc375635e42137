#include "p2p_suite.h"

#include <algorithm>

#include <fmt/format.h>

namespace braid::perf {

const char* P2pSuiteName(P2pSuite suite) {
  switch (suite) {
    case P2pSuite::kLatency: return "latency";
    case P2pSuite::kBw: return "bw";
    case P2pSuite::kBibw: return "bibw";
    case P2pSuite::kMsgRate: return "msgrate";
  }
  return "?";
}

std::optional<P2pSuite> ParseP2pSuite(std::string_view name) {
  for (P2pSuite s : {P2pSuite::kLatency, P2pSuite::kBw, P2pSuite::kBibw, P2pSuite::kMsgRate})
    if (name == P2pSuiteName(s)) return s;
  return std::nullopt;
}

std::string P2pSuiteNameList() { return "latency, bw, bibw, msgrate"; }

std::string P2pRankCountError(P2pSuite suite, int nranks) {
  if (suite == P2pSuite::kMsgRate) {
    if (nranks >= 2 && nranks % 2 == 0) return "";
    return fmt::format("suite msgrate needs an even number of ranks (sender-receiver pairs), this "
                       "job has {} (launch with mpiexec -n 2, 4, ...)", nranks);
  }
  if (nranks == 2) return "";
  return fmt::format("suite {} needs exactly 2 ranks, this job has {} (launch with mpiexec -n 2)",
                     P2pSuiteName(suite), nranks);
}

int P2pDefaultIterations(P2pSuite suite) { return suite == P2pSuite::kLatency ? 1000 : 100; }

}  // namespace braid::perf

namespace braid::perf {

int P2pWindow(P2pSuite suite, int window, size_t bytes) {
  if (suite == P2pSuite::kLatency) return 1;
  const size_t fits = std::max<size_t>(1, kMaxWindowBytes / std::max<size_t>(bytes, 1));
  return int(std::min<size_t>(size_t(window), fits));
}

}  // namespace braid::perf
