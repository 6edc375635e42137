// `plan-sim collective`: the predicted time of one collective per size on a cluster, as
// nccl-tests / braid-perf print measurements, so that predictions and measurements line up.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace braid::sim {

struct CollectiveOptions {
  std::string cluster, collective = "allreduce", min_bytes = "8", max_bytes = "256M";
  std::string type = "float", op = "sum", format = "table", out = "-";
  std::string algorithm = "auto";  // or ring, tree, ... (as BRAID_ALGO)
  int ranks = 0;
  const CLI::Option* ranks_flag = nullptr;  // unset: one node's ranks
  int factor = 2;
  bool explain = false;  // the table lists the tuner's estimates under it
  std::string tuner_file;  // --tuner-file
};

CLI::App* AddCollectiveCommand(CLI::App* app, CollectiveOptions* options);
// Returns the exit status; bad input throws InputError.
int RunCollectiveCommand(const CollectiveOptions& options);

}  // namespace braid::sim
