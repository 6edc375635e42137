// Output of plan-sim: search results and single simulations as a table (fmt), JSON with stable
// field names, or CSV; and Chrome/Perfetto traces of a simulated step.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "sim/search/search.h"

namespace braid::sim {

enum class Format { kTable, kJson, kCsv };
Format ParseFormat(const std::string& text);

// The convention behind tflops_per_gpu / mfu, printed with every result.
extern const char* const kFlopConvention;

struct RunContext {
  std::string command;  // "search" or "simulate"
  const ModelSpec* model = nullptr;
  const ClusterSpec* cluster = nullptr;
  const TrainingSpec* training = nullptr;
};

nlohmann::json ResultJson(const StepResult& r);
void WriteResults(std::ostream& out, Format format, const RunContext& context,
                  const std::vector<StepResult>& results, const SearchResult* search);
// Why layouts were rejected: counts per rule and up to `examples` layouts per rule.
void WriteRejections(std::ostream& out, const SearchResult& search, int examples);

// Chrome trace event format (chrome://tracing, ui.perfetto.dev): one process per stage GPU of the
// representative pipeline with its compute and DP-communication streams, and one process for the
// communication groups (TP group per stage, PP link per stage pair, DP group per stage). The JSON
// text, written event by event (a document tree of a million events took ~4 GB).
std::string StepTrace(const StepResult& result, const ClusterSpec& cluster);

}  // namespace braid::sim
