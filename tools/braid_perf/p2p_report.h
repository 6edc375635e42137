// Output of the point-to-point suites: an OSU-shaped table ("# Size  Latency (us)", ...), and
// JSON / CSV documents carrying the same context block.
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "context.h"
#include "options.h"
#include "p2p_bench.h"

namespace braid::perf {

void PrintP2pHeader(std::FILE* out, const Options& options, const RunContext& context);
// The last row of `results` (with --versus: both backends and their ratio).
void PrintP2pRow(std::FILE* out, const Options& options, const P2pResults& results);
void PrintP2pFooter(std::FILE* out, const Options& options, const P2pResults& results);

// {"suite", "backend", "nranks", ..., "rows": [{"size", "latency_us" | "bandwidth_MBps"
// and "messages_per_s" for the bandwidth suites), "iterations", "window" (not for latency), "wrong"
// (+ "ratio" with --versus)}], "rounds", "window" (not for latency), with --versus "versus": {"backend", "backend_description", "rows": [...]}, and
// "context": {...}}
nlohmann::ordered_json P2pResultsToJson(const Options& options, const RunContext& context,
                                        const P2pResults& results);
std::string P2pResultsToCsv(const Options& options, const RunContext& context, const P2pResults& results);

}  // namespace braid::perf
