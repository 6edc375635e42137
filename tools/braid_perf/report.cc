#include "report.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "collective.h"

namespace braid::perf {
namespace {

// Column widths (characters), as nccl-tests lays them out; the type column is wider for
// names like "float8e4m3".
constexpr int kSizeWidth = 12, kCountWidth = 12, kTypeWidth = 10, kOpWidth = 6, kRootWidth = 6;
constexpr int kTimeWidth = 7, kBwWidth = 6, kWrongWidth = 6;
constexpr int kVariantWidth = 2 + kTimeWidth + 2 + kBwWidth + 2 + kBwWidth + 2 + kWrongWidth;

std::string Prefix(const std::string& size, const std::string& count, const std::string& type,
                   const std::string& op, const std::string& root) {
  return fmt::format("{:>{}}  {:>{}}  {:>{}}  {:>{}}  {:>{}}", size, kSizeWidth, count, kCountWidth,
                     type, kTypeWidth, op, kOpWidth, root, kRootWidth);
}

std::string VariantColumns(const std::string& time, const std::string& algbw,
                           const std::string& busbw, const std::string& wrong) {
  return fmt::format("  {:>{}}  {:>{}}  {:>{}}  {:>{}}", time, kTimeWidth, algbw, kBwWidth, busbw,
                     kBwWidth, wrong, kWrongWidth);
}

// Fewer decimals as times grow so the column keeps its width (us).
std::string FormatTime(double us) {
  if (us >= 10000.0) return fmt::format("{:.0f}", us);
  if (us >= 100.0) return fmt::format("{:.1f}", us);
  return fmt::format("{:.2f}", us);
}

std::string FormatVariant(const Measurement& m) {
  if (!m.valid) return VariantColumns("N/A", "N/A", "N/A", "N/A");
  return VariantColumns(FormatTime(m.time_us), fmt::format("{:.2f}", m.algbw),
                        fmt::format("{:.2f}", m.busbw), m.wrong < 0 ? "N/A" : std::to_string(m.wrong));
}

// A header line of the table: '#' replaces the first (always blank) character.
std::string CommentLine(std::string line) {
  if (!line.empty()) line[0] = '#';
  line.erase(line.find_last_not_of(' ') + 1);
  return line;
}

nlohmann::ordered_json MeasurementToJson(const Measurement& m) {
  if (!m.valid) return nullptr;
  nlohmann::ordered_json j = {{"time_us", m.time_us}, {"algbw", m.algbw}, {"busbw", m.busbw}};
  j["wrong"] = m.wrong < 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(m.wrong);
  return j;
}

const char* OpColumn(const Options& o) {
  return IsReduction(o.collective) ? RedOpName(o.op.kind) : "none";
}

int RootColumn(const Options& o) { return HasRoot(o.collective) ? o.root : -1; }

}  // namespace

void PrintHeader(std::FILE* out, const Options& o, const RunInfo& info) {
  std::string text = CommentedContext(info.context, fmt::format("braid-perf {}", CollectiveName(o.collective)));
  text += fmt::format("# algo      : {}\n", info.algo);
  // Only what the collective uses: an op for reductions, a root for rooted collectives.
  text += IsReduction(o.collective)
              ? fmt::format("# type/op   : {} / {}", DataTypeName(o.type), RedOpName(o.op.kind))
              : fmt::format("# type      : {}", DataTypeName(o.type));
  if (HasRoot(o.collective)) text += fmt::format("   root: {}", o.root);
  text += "\n";
  const std::vector<size_t> sizes = SizeSequence(o.min_bytes, o.max_bytes, o.factor);
  const std::string first =
      o.warmup > 0 ? fmt::format(" (the first size's first variant at least {}, or iters if fewer)", kFirstSizeWarmup)
                   : std::string();
  text += fmt::format("# sizes     : {} .. {} B, factor {}; warmup iters {}{}, iters {}, check {}\n",
                      o.min_bytes, sizes.back(), o.factor, o.warmup, first, o.iters, o.check ? 1 : 0);
  // Sizes are rounded down to whole elements per rank, as nccl-tests do; say so when that leaves
  // a size with nothing to move, since its row's 0 also enters the average bus bandwidth.
  const size_t empty = size_t(std::count_if(sizes.begin(), sizes.end(), [&](size_t bytes) {
    return ShapeFor(o.collective, bytes, DataTypeSize(o.type), info.context.nranks).count == 0;
  }));
  if (empty > 0) {
    // Sizes that round down to the same call run once (bench.cc): one row for all the empty ones.
    text += fmt::format("# note      : {} of the {} sizes hold less than one {} element per rank and run empty "
                        "(rounded down to whole elements, as nccl-tests do){}\n",
                        empty, sizes.size(), DataTypeName(o.type), empty > 1 ? ", as one row of 0 elements" : "");
  }
  text += "#\n";
  const std::string blank_prefix = Prefix("", "", "", "", "");
  text += CommentLine(fmt::format("{}{:^{}}{:^{}}", blank_prefix, "out-of-place", kVariantWidth, "in-place",
                                  kVariantWidth)) + "\n";
  text += CommentLine(Prefix("size", "count", "type", "redop", "root") +
                      VariantColumns("time", "algbw", "busbw", "#wrong") +
                      VariantColumns("time", "algbw", "busbw", "#wrong")) + "\n";
  text += CommentLine(Prefix("(B)", "(elements)", "", "", "") + VariantColumns("(us)", "(GB/s)", "(GB/s)", "") +
                      VariantColumns("(us)", "(GB/s)", "(GB/s)", "")) + "\n";
  std::fputs(text.c_str(), out);
  std::fflush(out);
}

void PrintRow(std::FILE* out, const Options& o, const Row& row) {
  std::string line = Prefix(std::to_string(row.bytes), std::to_string(row.count), DataTypeName(o.type),
                            OpColumn(o), std::to_string(RootColumn(o)));
  line += FormatVariant(row.out_of_place) + FormatVariant(row.in_place) + "\n";
  std::fputs(line.c_str(), out);
  std::fflush(out);  // rows appear as they are measured, even through mpiexec's pipes
}

void PrintFooter(std::FILE* out, const Options& o, const Results& results) {
  // nccl-tests print "0 OK" without a check too; a count of nothing is not a pass.
  std::string text = !o.check ? std::string("# Out of bounds values : not checked (-c 0)\n")
                              : fmt::format("# Out of bounds values : {} {}\n", results.wrong_total,
                                            results.wrong_total == 0 ? "OK" : "FAILED");
  text += fmt::format("# Avg bus bandwidth    : {:g}\n#\n", results.avg_busbw);
  std::fputs(text.c_str(), out);
  std::fflush(out);
}

nlohmann::ordered_json ResultsToJson(const Options& o, const RunInfo& info, const Results& results) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const Row& row : results.rows) {
    rows.push_back({{"size", row.bytes},
                    {"count", row.count},
                    {"oop", MeasurementToJson(row.out_of_place)},
                    {"ip", MeasurementToJson(row.in_place)}});
  }
  return {{"collective", CollectiveName(o.collective)},
          {"backend", BackendName(o.backend)},
          {"backend_description", info.context.backend},
          {"nranks", info.context.nranks},
          {"type", DataTypeName(o.type)},
          {"op", IsReduction(o.collective) ? RedOpName(o.op.kind) : "none"},
          {"root", RootColumn(o)},
          {"algo", info.algo},
          {"host", info.context.host},
          {"iters", o.iters},
          {"warmup", o.warmup},
          {"check", o.check},
          {"rows", rows},
          {"avg_busbw", results.avg_busbw},
          {"wrong_total", o.check ? nlohmann::ordered_json(results.wrong_total) : nlohmann::ordered_json(nullptr)},
          {"context", ContextToJson(info.context)}};
}

std::string CommentedContext(const RunContext& context, const std::string& first_line) {
  std::string text = "# " + first_line + "\n";
  for (const std::string& line : ContextLines(context)) text += "# " + line + "\n";
  return text;
}

std::string ResultsToCsv(const Options& o, const RunInfo& info, const Results& results) {
  std::string text = CommentedContext(info.context, fmt::format("braid-perf {}", CollectiveName(o.collective)));
  // The run's identity on every row, so results of several runs can be concatenated and compared.
  text += "collective,backend,nranks,algo,size,count,type,redop,root,oop_time_us,oop_algbw,oop_busbw,oop_wrong,"
          "ip_time_us,ip_algbw,ip_busbw,ip_wrong\n";
  // The algo field may hold a comma (NCCL_ALGO=tree,ring): quoted, with quotes doubled (RFC 4180).
  std::string algo = info.algo;
  if (algo.find_first_of(",\"") != std::string::npos) {
    for (size_t at = algo.find('"'); at != std::string::npos; at = algo.find('"', at + 2)) algo.insert(at, 1, '"');
    algo = '"' + algo + '"';
  }
  const std::string run = fmt::format("{},{},{},{}", CollectiveName(o.collective), BackendName(o.backend),
                                      info.context.nranks, algo);
  auto variant = [](const Measurement& m) {
    if (!m.valid) return std::string(",,,");
    return fmt::format("{},{},{},{}", m.time_us, m.algbw, m.busbw, m.wrong < 0 ? "" : std::to_string(m.wrong));
  };
  for (const Row& row : results.rows) {
    text += fmt::format("{},{},{},{},{},{},{},{}\n", run, row.bytes, row.count, DataTypeName(o.type), OpColumn(o),
                        RootColumn(o), variant(row.out_of_place), variant(row.in_place));
  }
  return text;
}

}  // namespace braid::perf
