// The context block of every braid-perf run: what was measured where, with which libraries, so
// that a result file can be compared with another one months later. Printed as '#' lines above
// the table and carried by the JSON ("context") and CSV ('#' lines) outputs.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace braid::perf {

struct RankContext {
  int rank = 0;
  std::string host;
  int pid = 0;
  std::string transports;  // what the layer under test selected for this rank's peers
  std::string device;      // --memory cuda: the GPU this rank's buffers are on; else ""
  std::string versus_transports;  // --versus: what that layer selected for this rank's peers
};

struct RunContext {
  std::string braid_version;  // the project version braid-perf was built from
  std::string git_revision;   // "<commit>[-dirty]" or "unknown"
  std::string date;           // UTC, ISO 8601
  std::string command;        // argv, joined
  std::string host;           // rank 0's host name
  std::string cpu;            // /proc/cpuinfo model name of rank 0's host
  int cores = 0;              // online CPUs on rank 0's host
  std::string ucx_version;    // the UCX library loaded (ucp_get_version_string)
  std::string mpi_library;    // MPI_Get_library_version, first line
  std::string backend;        // the layer under test, as it describes itself
  std::string versus;         // the layer timed beside it (--versus), likewise; "" = none
  std::string memory = "host";  // where the message buffers are: host or cuda (--memory)
  int nranks = 1;
  std::vector<RankContext> ranks;  // filled on rank 0 only
};

// Collective over MPI_COMM_WORLD: every rank's string, on rank 0 (empty elsewhere).
std::vector<std::string> GatherStrings(const std::string& mine);

// Now, UTC, ISO 8601 ("2026-11-23T08:02:47Z"): the date of every output braid-perf writes.
std::string UtcTimestamp();

// Collective over MPI_COMM_WORLD; every rank passes its own backend's description and
// transports, the GPU its buffers are on ("" = host memory, on every rank), and with --versus
// the transports the other layer selected ("" = none).
RunContext GatherContext(const std::string& command, const std::string& backend,
                         const std::string& my_transports, const std::string& my_device = "",
                         const std::string& my_versus_transports = "");

// "key : value" lines (no '#'), one per field and one per rank.
std::vector<std::string> ContextLines(const RunContext& context);
nlohmann::ordered_json ContextToJson(const RunContext& context);

}  // namespace braid::perf
