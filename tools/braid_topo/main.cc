// braid-topo: prints the topology braid sees — this machine through hwloc, or another machine
// from its hwloc XML export (`lstopo host.xml` there) — as a short text summary or as braid's
// topology JSON (TopologyToJson; TopologyFromJson reads it back). plan-sim takes the XML itself
// (`--cluster host.xml`), or a cluster file of its own (see `plan-sim topo --help`).
//
// Exit status: 0 success, 1 discovery failed on this machine, 2 bad input (flags, XML, output file).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <CLI/CLI.hpp>

#include "lib/cli_parse.h"
#include "lib/version_flag.h"
#include "lib/replace_file.h"
#include "braid/topology.h"

namespace {

constexpr int kExitDiscoveryFailed = 1;
constexpr int kExitBadInput = 2;

struct Options {
  std::string xml_path;  // empty: discover this machine
  std::string format = "text";
  std::string out_path = "-";
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"braid-topo: print the machine topology braid sees (hwloc), as text or JSON", "braid-topo"};
  Options options;
  braid::tools::AddVersionFlag(app, "braid-topo");
  app.add_option("--xml", options.xml_path, "Read an hwloc XML export (lstopo FILE.xml, or a pipe: <(ssh node lstopo --of xml -)) instead of this machine")
      ->check(CLI::ExistingFile);
  app.add_option("--format", options.format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--out", options.out_path, "Write here instead of stdout ('-')")->capture_default_str();
  if (std::optional<int> exit_code = braid::tools::ParseCommandLine(app, argc, argv, "braid-topo", kExitBadInput))
    return *exit_code;

  // Before discovery, as every tool checks its outputs first: a read-only file stays refused.
  if (options.out_path != "-") {
    if (options.out_path.empty()) {
      std::fprintf(stderr, "braid-topo: --out: an empty path names no file\n");
      return kExitBadInput;
    }
    if (std::string error = braid::tools::WritableError(options.out_path); !error.empty()) {
      std::fprintf(stderr, "braid-topo: --out: %s\n", error.c_str());
      return kExitBadInput;
    }
    // Writing the result over the export it was read from would lose the export (QA, session 53).
    if (!options.xml_path.empty() && braid::tools::SameFile(options.out_path, options.xml_path)) {
      std::fprintf(stderr, "braid-topo: --out %s is the --xml input %s; write to another file\n",
                   options.out_path.c_str(), options.xml_path.c_str());
      return kExitBadInput;
    }
  }
  braid::Topology topo;
  braid::Status status =
      options.xml_path.empty() ? braid::DiscoverTopology(&topo) : braid::LoadTopologyXml(options.xml_path, &topo);
  if (!status.ok()) {
    // Bad input is named by its message alone; a failed discovery keeps its code (a system error).
    const bool bad_input = status.code() == braid::StatusCode::kInvalidArgument;
    std::fprintf(stderr, "braid-topo: %s\n", bad_input ? status.message().c_str() : status.ToString().c_str());
    return bad_input ? kExitBadInput : kExitDiscoveryFailed;
  }

  std::string text = options.format == "json" ? braid::TopologyToJson(topo) : braid::TopologySummary(topo);
  if (std::string error = braid::tools::WriteOutput(options.out_path, text); !error.empty()) {
    std::fprintf(stderr, "braid-topo: %s\n", error.c_str());
    return kExitBadInput;
  }
  return 0;
}
