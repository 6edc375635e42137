#include "p2p_report.h"

#include <fmt/format.h>

#include "report.h"

namespace braid::perf {
namespace {

// OSU's layout: the size left-aligned in 10 columns, each value right-aligned in 18 (2 decimals).
constexpr int kSizeWidth = 10, kValueWidth = 18;

// The value column(s) of one backend: OSU's titles, or the backend's name with --versus.
std::string ValueTitles(P2pSuite suite, const char* name) {
  const std::string prefix = name ? fmt::format("{} ", name) : "";
  switch (suite) {
    case P2pSuite::kLatency: return fmt::format("{:>{}}", prefix + (name ? "(us)" : "Latency (us)"), kValueWidth);
    case P2pSuite::kBw:
    case P2pSuite::kBibw: return fmt::format("{:>{}}", prefix + (name ? "(MB/s)" : "Bandwidth (MB/s)"), kValueWidth);
    case P2pSuite::kMsgRate:
      return fmt::format("{:>{}}{:>{}}", prefix + "MB/s", kValueWidth, prefix + "Messages/s", kValueWidth);
  }
  return "";
}

std::string ColumnTitles(const Options& o) {
  std::string titles = fmt::format("{:<{}}", "# Size", kSizeWidth);
  if (!o.versus) return titles + ValueTitles(*o.suite, nullptr);
  const char* mine = BackendName(o.backend);
  const char* theirs = BackendName(*o.versus);
  return titles + ValueTitles(*o.suite, mine) + ValueTitles(*o.suite, theirs) +
         fmt::format("{:>{}}", fmt::format("{}/{}", mine, theirs), kValueWidth);
}

std::string RowValues(const Options& o, const P2pRow& row) {
  if (o.suite == P2pSuite::kLatency) return fmt::format("{:>{}.2f}", row.latency_us, kValueWidth);
  std::string values = fmt::format("{:>{}.2f}", row.bandwidth_MBps, kValueWidth);
  if (o.suite == P2pSuite::kMsgRate) values += fmt::format("{:>{}.2f}", row.messages_per_s, kValueWidth);
  return values;
}

nlohmann::ordered_json RowToJson(const Options& o, const P2pRow& row) {
  nlohmann::ordered_json j = {{"size", row.bytes}};
  if (o.suite == P2pSuite::kLatency) {
    j["latency_us"] = row.latency_us;
  } else {
    j["bandwidth_MBps"] = row.bandwidth_MBps;
    j["messages_per_s"] = row.messages_per_s;
  }
  j["iterations"] = row.iterations;
  j["warmup"] = row.warmup;
  if (o.suite != P2pSuite::kLatency) j["window"] = row.window;
  j["seconds"] = row.seconds;
  j["wrong"] = row.wrong < 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(row.wrong);
  return j;
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
  // Ping-pong has one message in flight, so a window is only shown for the bandwidth suites;
  // sizes whose window would hold more than kMaxWindowBytes run fewer messages in flight (each
  // row's window and iterations are in the JSON and CSV).
  const size_t largest = SizeSequence(o.min_bytes, o.max_bytes, o.factor).back();
  std::string window;
  if (o.suite != P2pSuite::kLatency) {
    window = fmt::format(", window {}", o.window);
    if (o.window > 1 && size_t(o.window) * largest > kMaxWindowBytes)
      window += fmt::format(" (fewer from {} B: at most {} MiB in flight)", kMaxWindowBytes / size_t(o.window) + 1,
                            kMaxWindowBytes >> 20);
  }
  const std::string warmup =
      o.warmup > 0 ? fmt::format("{} warm-up, a backend's first size at least {} or its iteration count", o.warmup,
                                 kFirstSizeWarmup)
                   : std::string("no warm-up");
  text += fmt::format("# sizes     : {} .. {} B, factor {}; at most {} iterations ({}){}, check {}\n",
                      o.min_bytes, largest, o.factor, o.iters, warmup, window, o.check ? 1 : 0);
  if (o.rounds > 1 || o.versus) {
    text += fmt::format("# rounds    : {} per size{}; {}\n", o.rounds,
                        o.versus ? ", the backends taking turns to go first" : "",
                        o.versus ? "a row is the round of the median ratio, both values from it"
                                 : "a row is the median round");
  }
  text += "#\n" + ColumnTitles(o) + "\n";
  std::fputs(text.c_str(), out);
  std::fflush(out);
}

void PrintP2pRow(std::FILE* out, const Options& o, const P2pResults& results) {
  const size_t k = results.rows.size() - 1;
  const P2pRow& row = results.rows[k];
  std::string line = fmt::format("{:<{}}", row.bytes, kSizeWidth) + RowValues(o, row);
  int64_t wrong = std::max<int64_t>(row.wrong, 0);
  if (o.versus) {
    const double ratio = results.ratios[k];
    line += RowValues(o, results.versus_rows[k]) +
            (ratio == kNoRatio ? fmt::format("{:>{}}", "n/a", kValueWidth) : fmt::format("{:>{}.3f}", ratio, kValueWidth));
    wrong += std::max<int64_t>(results.versus_rows[k].wrong, 0);
  }
  if (wrong > 0) line += fmt::format("   {} WRONG BYTES", wrong);
  std::fputs((line + "\n").c_str(), out);
  std::fflush(out);  // rows appear as they are measured, even through mpiexec's pipes
}

void PrintP2pFooter(std::FILE* out, const Options& o, const P2pResults& results) {
  const std::string verdict = !o.check ? std::string("not checked (-c 0)")
                                       : fmt::format("{} {}", results.wrong_total, results.wrong_total == 0 ? "OK" : "FAILED");
  std::fputs(fmt::format("# Wrong bytes: {}\n", verdict).c_str(), out);
  std::fflush(out);
}

nlohmann::ordered_json P2pResultsToJson(const Options& o, const RunContext& context, const P2pResults& results) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (size_t k = 0; k < results.rows.size(); ++k) {
    rows.push_back(RowToJson(o, results.rows[k]));
    if (o.versus) {
      rows.back()["ratio"] = nullptr;
      if (results.ratios[k] != kNoRatio) rows.back()["ratio"] = results.ratios[k];
    }
  }
  nlohmann::ordered_json doc = {{"suite", P2pSuiteName(*o.suite)},
                                {"backend", BackendName(o.backend)},
                                {"backend_description", context.backend},
                                {"nranks", context.nranks},
                                {"max_iterations", o.iters},
                                {"warmup", o.warmup},
                                {"check", o.check},
                                {"rounds", o.rounds},
                                {"rows", rows}};
  if (o.suite != P2pSuite::kLatency) doc["window"] = o.window;
  if (o.versus) {
    nlohmann::ordered_json versus_rows = nlohmann::ordered_json::array();
    for (const P2pRow& row : results.versus_rows) versus_rows.push_back(RowToJson(o, row));
    doc["versus"] = {{"backend", BackendName(*o.versus)},
                     {"backend_description", context.versus},
                     {"rows", versus_rows}};
  }
  doc["wrong_total"] = nullptr;  // not checked (-c 0): no count to give
  if (o.check) doc["wrong_total"] = results.wrong_total;
  doc["context"] = ContextToJson(context);
  return doc;
}

std::string P2pResultsToCsv(const Options& o, const RunContext& context, const P2pResults& results) {
  std::string text = CommentedContext(context, fmt::format("braid-perf {}", P2pSuiteName(*o.suite)));
  const bool latency = o.suite == P2pSuite::kLatency;
  // The run's identity on every row, so results of several runs can be concatenated and compared.
  text += "suite,backend,versus,nranks,memory,";
  // warmup: the row's own (a backend's first size warms up longer than -w). seconds: the timed
  // iterations' total, as in the JSON.
  text += latency ? "size,latency_us,iterations,seconds,warmup,wrong"
                  : "size,bandwidth_MBps,messages_per_s,iterations,seconds,warmup,window,wrong";
  // The other backend's row has the same value columns and its own counts and wrong bytes.
  if (o.versus) {
    text += latency ? ",versus_latency_us,versus_iterations,versus_seconds,versus_warmup,versus_wrong,ratio"
                    : ",versus_bandwidth_MBps,versus_messages_per_s,versus_iterations,versus_seconds,versus_warmup,"
                      "versus_wrong,ratio";
  }
  text += "\n";
  const std::string run = fmt::format("{},{},{},{},{},", P2pSuiteName(*o.suite), BackendName(o.backend),
                                      o.versus ? BackendName(*o.versus) : "", context.nranks, context.memory);
  const auto wrong_of = [](const P2pRow& row) { return row.wrong < 0 ? std::string() : std::to_string(row.wrong); };
  for (size_t k = 0; k < results.rows.size(); ++k) {
    const P2pRow& row = results.rows[k];
    const std::string wrong = wrong_of(row);
    text += run;
    text += latency ? fmt::format("{},{},{},{},{},{}", row.bytes, row.latency_us, row.iterations, row.seconds,
                                  row.warmup, wrong)
                    : fmt::format("{},{},{},{},{},{},{},{}", row.bytes, row.bandwidth_MBps, row.messages_per_s,
                                  row.iterations, row.seconds, row.warmup, row.window, wrong);
    if (o.versus) {
      const P2pRow& other = results.versus_rows[k];
      text += latency ? fmt::format(",{},{},{},{},{},", other.latency_us, other.iterations, other.seconds,
                                    other.warmup, wrong_of(other))
                      : fmt::format(",{},{},{},{},{},{},", other.bandwidth_MBps, other.messages_per_s,
                                    other.iterations, other.seconds, other.warmup, wrong_of(other));
      if (results.ratios[k] != kNoRatio) text += fmt::format("{}", results.ratios[k]);
    }
    text += "\n";
  }
  return text;
}

}  // namespace braid::perf
