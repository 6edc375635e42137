#include "plot_series.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <optional>

#include "collective.h"
#include "core/input_file.h"
#include "core/json_text.h"

namespace braid::perf {
namespace {

using Json = nlohmann::json;

// The point-to-point suites' row field and how it converts to the series' unit.
struct SuiteField {
  const char* suite;
  const char* field;
  SeriesKind kind;
  double scale;  // field value * scale = GB/s or microseconds
};

// bandwidth_MBps is in MB/s (1e6 B/s): / 1000 gives GB/s.
constexpr SuiteField kSuiteFields[] = {
    {"latency", "latency_us", SeriesKind::kLatency, 1.0},
    {"bw", "bandwidth_MBps", SeriesKind::kBandwidth, 1e-3},
    {"bibw", "bandwidth_MBps", SeriesKind::kBandwidth, 1e-3},
    {"msgrate", "bandwidth_MBps", SeriesKind::kBandwidth, 1e-3},
};

// The range a row's value or size may take (microseconds, GB/s, bytes).
constexpr double kMinPlotValue = 1e-9, kMaxPlotValue = 1e18;

[[noreturn]] void Fail(const std::string& path, const std::string& problem) {
  throw PlotInputError(fmt::format("{}: {}", path, problem));
}

Json ReadJson(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) Fail(path, "no such file");
  // A result file or a pipe, 256 MiB at most (a 1 GiB sweep's JSON is a few hundred KB): a FIFO
  // nobody writes to is an error, not a wait, and /dev/zero is refused, not read until memory
  // runs out (QA, session 54).
  constexpr input_file::Kind kResult{"a braid-perf --json result (or a pipe)", "a result file", size_t{256} << 20};
  std::string text;
  if (Status read = input_file::Read(path, kResult, &text); !read.ok()) throw PlotInputError(read.message());
  // A syntax error, a key given twice (a hand-edited result whose second "size" would win
  // unseen), absurd nesting or a number beyond a double: the message names the file.
  Json document;
  if (Status parsed = json_text::Parse(text, path, &document); !parsed.ok()) throw PlotInputError(parsed.message());
  return document;
}

std::optional<std::string> StringField(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::string HostOf(const Json& doc) {
  auto context = doc.find("context");
  if (context != doc.end() && context->is_object())
    if (auto host = StringField(*context, "host")) return *host;
  return StringField(doc, "host").value_or("");
}

// "<backend> <suite or collective> (<n> ranks)", each part where the file has it.
std::string DefaultLabel(const Json& doc, const std::optional<std::string>& backend, const std::string& name) {
  std::string label = backend ? *backend + " " + name : name;
  auto nranks = doc.find("nranks");
  if (nranks != doc.end() && nranks->is_number_integer() && nranks->get<long long>() >= 1) {
    long long n = nranks->get<long long>();
    label += fmt::format(" ({} rank{})", n, n == 1 ? "" : "s");
  }
  return label;
}

// A row's value: a number; nullopt when the row holds null there (no measurement). Throws when
// the field is absent or not a number.
std::optional<double> RowNumber(const std::string& path, const Json& holder, const char* field,
                                const std::string& where) {
  auto it = holder.is_object() ? holder.find(field) : holder.end();
  if (holder.is_object() && it != holder.end()) {
    if (it->is_null()) return std::nullopt;
    if (it->is_number()) return it->get<double>();
  }
  Fail(path, fmt::format("{} has no numeric \"{}\"", where, field));
}

// Collective rows: {"size", "oop": {"time_us", "algbw", "busbw", ...} | null, "ip": ... | null}.
// The out-of-place measurement, or the in-place one where out-of-place is null.
std::optional<double> CollectiveValue(const std::string& path, const Json& row, CollectiveMetric metric,
                                      const std::string& where) {
  const char* field = metric == CollectiveMetric::kTime ? "time_us" : CollectiveMetricName(metric);
  for (const char* variant : {"oop", "ip"}) {
    auto it = row.find(variant);
    if (it == row.end() || it->is_null()) continue;
    return RowNumber(path, *it, field, fmt::format("{} \"{}\"", where, variant));
  }
  if (!row.contains("oop") && !row.contains("ip"))
    Fail(path, fmt::format("{} has neither \"oop\" nor \"ip\" (a collective result row)", where));
  return std::nullopt;  // both null: neither variant was measured
}

const SuiteField& FindSuite(const std::string& path, const std::string& suite) {
  for (const SuiteField& s : kSuiteFields)
    if (suite == s.suite) return s;
  Fail(path, fmt::format("unknown suite \"{}\" (known: latency, bw, bibw, msgrate)", suite));
}

// The points of one "rows" array (`where` names it in errors); notes say what was left out.
void ReadRows(const std::string& path, const Json& holder, const std::string& where, const SuiteField* p2p,
              CollectiveMetric metric, Series* series) {
  auto rows = holder.find("rows");
  if (rows == holder.end() || !rows->is_array()) Fail(path, fmt::format("no \"{}\" array", where));
  if (rows->empty()) Fail(path, fmt::format("\"{}\" is empty: nothing to plot", where));
  int zero_sizes = 0, unmeasured = 0;
  double last_size = 0;
  for (size_t i = 0; i < rows->size(); ++i) {
    const Json& row = (*rows)[i];
    const std::string at = fmt::format("{}[{}]", where, i);
    if (!row.is_object()) Fail(path, fmt::format("{} is not an object", at));
    std::optional<double> size = RowNumber(path, row, "size", at);
    if (!size || !(*size >= 0 && *size <= kMaxPlotValue)) Fail(path, fmt::format("{} has no valid \"size\"", at));
    // braid-perf writes whole bytes in ascending order; anything else would draw a zigzag.
    if (*size != std::floor(*size)) Fail(path, fmt::format("{} has the size {}, not a whole number of bytes", at, *size));
    if (i > 0 && *size <= last_size)
      Fail(path, fmt::format("{} has the size {} after {}: sizes must ascend", at, *size, last_size));
    last_size = *size;
    std::optional<double> value = p2p ? RowNumber(path, row, p2p->field, at) : CollectiveValue(path, row, metric, at);
    // A time or a bandwidth is positive and within what a log axis and gnuplot can print: a
    // negative, huge or vanishing value is a damaged file, not a point to draw.
    if (value && !(*value >= 0 && *value <= kMaxPlotValue && (*value == 0 || *value >= kMinPlotValue))) {
      Fail(path, fmt::format("{} has the value {}, outside [{}, {}] (or 0)", at, *value, kMinPlotValue, kMaxPlotValue));
    }
    if (*size == 0) {
      ++zero_sizes;
    } else if (!value) {
      ++unmeasured;
    } else {
      series->points.push_back({*size, *value * (p2p ? p2p->scale : 1.0)});
    }
  }
  const std::string whose = series->label;
  if (zero_sizes > 0)
    series->notes.push_back(fmt::format("{}: left out {} row(s) of size 0 (a log2 size axis cannot show them)", whose, zero_sizes));
  if (unmeasured > 0)
    series->notes.push_back(fmt::format("{}: left out {} row(s) without a measurement (null)", whose, unmeasured));
  if (series->points.empty()) Fail(path, fmt::format("no row of \"{}\" has a plottable value", where));
}

}  // namespace

const char* CollectiveMetricName(CollectiveMetric metric) {
  constexpr const char* kNames[] = {"busbw", "algbw", "time"};  // in CollectiveMetric's order
  return kNames[static_cast<int>(metric)];
}

std::vector<Series> LoadSeries(const std::string& path, CollectiveMetric metric) {
  const Json doc = ReadJson(path);
  if (!doc.is_object()) Fail(path, fmt::format("top level is a JSON {}, not a braid-perf result object", doc.type_name()));
  Series series;
  for (const char* key : {"suite", "collective"}) {
    auto it = doc.find(key);
    if (it != doc.end() && !it->is_string() && !it->is_null())
      Fail(path, fmt::format("\"{}\" is a JSON {}, not a string", key, it->type_name()));
  }
  std::optional<std::string> suite = StringField(doc, "suite");
  std::optional<std::string> collective = StringField(doc, "collective");
  if (!suite && !collective)
    Fail(path, "neither \"suite\" nor \"collective\" is set (not a braid-perf --json result?)");
  if (suite && collective)
    Fail(path, fmt::format("both \"suite\" (\"{}\") and \"collective\" (\"{}\") are set: a braid-perf result has one",
                           *suite, *collective));
  if (collective && !ParseCollective(*collective))
    Fail(path, fmt::format("unknown collective \"{}\" (known: {})", *collective, CollectiveNameList()));
  series.collective = !suite;
  series.name = suite ? *suite : *collective;
  const SuiteField* p2p = suite ? &FindSuite(path, *suite) : nullptr;
  series.kind = p2p ? p2p->kind : metric == CollectiveMetric::kTime ? SeriesKind::kLatency : SeriesKind::kBandwidth;
  series.label = DefaultLabel(doc, StringField(doc, "backend"), series.name);
  series.host = HostOf(doc);
  ReadRows(path, doc, "rows", p2p, metric, &series);
  std::vector<Series> all{series};

  // --versus: the second backend, timed in the same processes, on the same axes.
  auto versus = doc.find("versus");
  if (versus == doc.end() || versus->is_null()) return all;
  if (!p2p || !versus->is_object()) Fail(path, "\"versus\" is not a point-to-point suite's second backend object");
  Series other = series;
  other.points.clear();
  other.notes.clear();
  std::optional<std::string> backend = StringField(*versus, "backend");
  if (!backend) Fail(path, "\"versus\" has no \"backend\"");
  other.label = DefaultLabel(doc, backend, other.name);
  other.versus_of = series.label;
  ReadRows(path, *versus, "versus.rows", p2p, metric, &other);
  all.push_back(std::move(other));
  return all;
}

}  // namespace braid::perf
