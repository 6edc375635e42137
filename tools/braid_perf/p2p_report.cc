#include "p2p_report.h"

#include <fmt/format.h>

#include "report.h"

namespace braid::perf {
namespace {

// OSU's layout: the size left-aligned in 10 columns, each value right-aligned in 18 (2 decimals).
constexpr int kSizeWidth = 10, kValueWidth = 18;

std::string ColumnTitles(P2pSuite suite) {
  switch (suite) {
    case P2pSuite::kLatency: return fmt::format("{:<{}}{:>{}}", "# Size", kSizeWidth, "Latency (us)", kValueWidth);
    case P2pSuite::kBw:
    case P2pSuite::kBibw: return fmt::format("{:<{}}{:>{}}", "# Size", kSizeWidth, "Bandwidth (MB/s)", kValueWidth);
    case P2pSuite::kMsgRate:
      return fmt::format("{:<{}}{:>{}}{:>{}}", "# Size", kSizeWidth, "MB/s", kValueWidth, "Messages/s", kValueWidth);
  }
  return "";
}

const char* SuiteTitle(P2pSuite suite) {
  switch (suite) {
    case P2pSuite::kLatency: return "latency test (ping-pong, half round trip)";
    case P2pSuite::kBw: return "bandwidth test (one direction, windowed)";
    case P2pSuite::kBibw: return "bi-directional bandwidth test (both directions summed)";
    case P2pSuite::kMsgRate: return "multiple bandwidth / message rate test (all pairs summed)";
  }
  return "";
}

}  // namespace

void PrintP2pHeader(std::FILE* out, const Options& o, const RunContext& context) {
  std::string text = CommentedContext(context, fmt::format("braid-perf {}: OSU-style {}", P2pSuiteName(*o.suite),
                                                           SuiteTitle(*o.suite)));
  text += fmt::format("# sizes     : {} .. {} B, factor {}; at most {} iterations ({} warm-up), window {}, check {}\n",
                      o.min_bytes, o.max_bytes, o.factor, o.iters, o.warmup, o.window, o.check ? 1 : 0);
  text += "#\n" + ColumnTitles(*o.suite) + "\n";
  std::fputs(text.c_str(), out);
  std::fflush(out);
}

void PrintP2pRow(std::FILE* out, const Options& o, const P2pRow& row) {
  std::string line = fmt::format("{:<{}}", row.bytes, kSizeWidth);
  if (o.suite == P2pSuite::kLatency) {
    line += fmt::format("{:>{}.2f}", row.latency_us, kValueWidth);
  } else {
    line += fmt::format("{:>{}.2f}", row.bandwidth_MBps, kValueWidth);
    if (o.suite == P2pSuite::kMsgRate) line += fmt::format("{:>{}.2f}", row.messages_per_s, kValueWidth);
  }
  if (row.wrong > 0) line += fmt::format("   {} WRONG BYTES", row.wrong);
  std::fputs((line + "\n").c_str(), out);
  std::fflush(out);  // rows appear as they are measured, even through mpiexec's pipes
}

void PrintP2pFooter(std::FILE* out, const P2pResults& results) {
  std::fputs(fmt::format("# Wrong bytes: {} {}\n", results.wrong_total, results.wrong_total == 0 ? "OK" : "FAILED").c_str(),
             out);
  std::fflush(out);
}

nlohmann::ordered_json P2pResultsToJson(const Options& o, const RunContext& context, const P2pResults& results) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const P2pRow& row : results.rows) {
    nlohmann::ordered_json j = {{"size", row.bytes}};
    if (o.suite == P2pSuite::kLatency) {
      j["latency_us"] = row.latency_us;
    } else {
      j["bandwidth_MBps"] = row.bandwidth_MBps;
      j["messages_per_s"] = row.messages_per_s;
    }
    j["iterations"] = row.iterations;
    j["window"] = row.window;
    j["seconds"] = row.seconds;
    j["wrong"] = row.wrong < 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(row.wrong);
    rows.push_back(std::move(j));
  }
  return {{"suite", P2pSuiteName(*o.suite)},
          {"backend", BackendName(o.backend)},
          {"backend_description", context.backend},
          {"nranks", context.nranks},
          {"max_iterations", o.iters},
          {"warmup", o.warmup},
          {"window", o.window},
          {"check", o.check},
          {"rows", rows},
          {"wrong_total", results.wrong_total},
          {"context", ContextToJson(context)}};
}

std::string P2pResultsToCsv(const Options& o, const RunContext& context, const P2pResults& results) {
  std::string text = CommentedContext(context, fmt::format("braid-perf {}", P2pSuiteName(*o.suite)));
  const bool latency = o.suite == P2pSuite::kLatency;
  text += latency ? "size,latency_us,iterations,wrong\n"
                  : "size,bandwidth_MBps,messages_per_s,iterations,window,wrong\n";
  for (const P2pRow& row : results.rows) {
    std::string wrong = row.wrong < 0 ? "" : std::to_string(row.wrong);
    text += latency ? fmt::format("{},{},{},{}\n", row.bytes, row.latency_us, row.iterations, wrong)
                    : fmt::format("{},{},{},{},{},{}\n", row.bytes, row.bandwidth_MBps, row.messages_per_s,
                                  row.iterations, row.window, wrong);
  }
  return text;
}

}  // namespace braid::perf
