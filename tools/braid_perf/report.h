// Output of braid-perf: the nccl-tests-shaped table and the JSON document.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench.h"
#include "options.h"

namespace braid::perf {

// Facts about the job shown in the header and the JSON context.
struct RunInfo {
  std::string backend_description;  // Backend::Describe()
  int nranks = 1;
  std::string host;                     // rank 0's host name
  std::vector<std::string> rank_lines;  // "Rank  0 Pid  1234 on host" per rank
  std::string algo;                     // "auto", "ring", ...
};

void PrintHeader(std::FILE* out, const Options& options, const RunInfo& info);
void PrintRow(std::FILE* out, const Options& options, const Row& row);
void PrintFooter(std::FILE* out, const Results& results);

nlohmann::ordered_json ResultsToJson(const Options& options, const RunInfo& info, const Results& results);

}  // namespace braid::perf
