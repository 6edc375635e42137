#include "context.h"

#include <mpi.h>
#include <ucp/api/ucp.h>
#include <unistd.h>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <fstream>

#include "backend.h"
#include "bootstrap/host_identity.h"
#include "braid_revision.h"  // generated at build time (cmake/git_revision.cmake)

namespace braid::perf {
namespace {

std::string CpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    size_t colon = line.find(':');
    if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
  }
  return "unknown";
}

}  // namespace

std::vector<std::string> GatherStrings(const std::string& mine) {
  int rank = 0, nranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  int length = int(mine.size());
  std::vector<int> lengths(static_cast<size_t>(nranks)), offsets(static_cast<size_t>(nranks));
  MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  int total = 0;
  for (int r = 0; r < nranks; ++r) {
    offsets[size_t(r)] = total;
    total += lengths[size_t(r)];
  }
  std::vector<char> all(size_t(rank == 0 ? total : 0) + 1);
  MPI_Gatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, 0,
              MPI_COMM_WORLD);
  std::vector<std::string> out;
  for (int r = 0; rank == 0 && r < nranks; ++r)
    out.emplace_back(&all[size_t(offsets[size_t(r)])], size_t(lengths[size_t(r)]));
  return out;
}

std::string UtcTimestamp() {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
}

RunContext GatherContext(const std::string& command, const std::string& backend,
                         const std::string& my_transports, const std::string& my_device,
                         const std::string& my_versus_transports) {
  RunContext c;
  c.braid_version = BRAID_VERSION;
  c.git_revision = BRAID_GIT_REVISION;
  c.date = UtcTimestamp();
  c.command = command;
  c.host = bootstrap::Hostname();
  c.cpu = CpuModel();
  c.cores = int(sysconf(_SC_NPROCESSORS_ONLN));
  c.ucx_version = ucp_get_version_string();
  c.mpi_library = MpiLibraryVersion();
  c.backend = backend;
  MPI_Comm_size(MPI_COMM_WORLD, &c.nranks);
  std::vector<std::string> hosts = GatherStrings(c.host);
  std::vector<std::string> pids = GatherStrings(std::to_string(getpid()));
  std::vector<std::string> transports = GatherStrings(my_transports);
  std::vector<std::string> devices = GatherStrings(my_device);
  std::vector<std::string> versus_transports = GatherStrings(my_versus_transports);
  if (!my_device.empty()) c.memory = "cuda";
  for (size_t r = 0; r < hosts.size(); ++r)
    c.ranks.push_back({int(r), hosts[r], std::stoi(pids[r]), transports[r], devices[r], versus_transports[r]});
  return c;
}

std::vector<std::string> ContextLines(const RunContext& c) {
  std::vector<std::string> lines = {
      fmt::format("braid     : {} (git {})", c.braid_version, c.git_revision),
      fmt::format("date      : {}", c.date),
      fmt::format("command   : {}", c.command),
      fmt::format("host      : {} ({}, {} cores online)", c.host, c.cpu, c.cores),
      fmt::format("ucx       : {}", c.ucx_version),
      fmt::format("mpi       : {}", c.mpi_library),
      fmt::format("backend   : {}", c.backend),
      fmt::format("memory    : {}", c.memory),
      fmt::format("nranks    : {}", c.nranks),
  };
  if (!c.versus.empty()) lines.insert(lines.end() - 2, fmt::format("versus    : {}", c.versus));
  for (const RankContext& r : c.ranks) {
    lines.push_back(fmt::format("rank {:<4} : pid {} on {}; {}{}{}", r.rank, r.pid, r.host, r.transports,
                                r.versus_transports.empty() ? "" : "; versus: " + r.versus_transports,
                                r.device.empty() ? "" : "; buffers on " + r.device));
  }
  return lines;
}

nlohmann::ordered_json ContextToJson(const RunContext& c) {
  nlohmann::ordered_json ranks = nlohmann::ordered_json::array();
  for (const RankContext& r : c.ranks) {
    ranks.push_back({{"rank", r.rank}, {"host", r.host}, {"pid", r.pid}, {"transports", r.transports}});
    if (!r.versus_transports.empty()) ranks.back()["versus_transports"] = r.versus_transports;
    if (!r.device.empty()) ranks.back()["device"] = r.device;
  }
  nlohmann::ordered_json json = {{"braid_version", c.braid_version}, {"git_revision", c.git_revision}, {"date", c.date},
          {"command", c.command},             {"host", c.host},                 {"cpu", c.cpu},
          {"cores", c.cores},                 {"ucx_version", c.ucx_version},   {"mpi_library", c.mpi_library},
          {"backend", c.backend},             {"memory", c.memory},
          {"nranks", c.nranks},               {"ranks", ranks}};
  if (!c.versus.empty()) json["versus"] = c.versus;
  return json;
}

}  // namespace braid::perf
