// Output of braid-perf: the nccl-tests-shaped table and the JSON document.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench.h"
#include "context.h"
#include "options.h"

namespace braid::perf {

// Facts about the job shown in the header and the JSON context.
struct RunInfo {
  RunContext context;
  std::string algo;  // "auto", "ring", ...
};

void PrintHeader(std::FILE* out, const Options& options, const RunInfo& info);
void PrintRow(std::FILE* out, const Options& options, const Row& row);
void PrintFooter(std::FILE* out, const Options& o, const Results& results);

nlohmann::ordered_json ResultsToJson(const Options& options, const RunInfo& info, const Results& results);
// '#' context lines, a header row and one row per size.
std::string ResultsToCsv(const Options& options, const RunInfo& info, const Results& results);

// The context lines with "# " in front, as every output's header starts.
std::string CommentedContext(const RunContext& context, const std::string& first_line);

}  // namespace braid::perf
