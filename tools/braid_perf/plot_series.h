// `braid-perf plot`, input side: one braid-perf --json result file reduced to the line it draws.
// Both kinds of result are read: collective suites ("collective": "allreduce", rows with
// "oop"/"ip" measurements) and point-to-point suites ("suite": "latency", "bw", "bibw",
// "msgrate", rows with "latency_us" or "bandwidth_MBps"). A point-to-point result timed with
// --versus also holds the second backend's rows ("versus": {"backend", "rows"}): a series of its own.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace braid::perf {

// Which panel a series belongs to, and so its unit.
enum class SeriesKind {
  kBandwidth,  // GB/s (1e9 bytes per second)
  kLatency,    // microseconds
};

// What a collective result contributes; point-to-point suites have one fixed measure each.
enum class CollectiveMetric {
  kBusBw,  // "busbw", GB/s
  kAlgBw,  // "algbw", GB/s
  kTime,   // "time_us", microseconds per call (a latency series)
};

struct PlotPoint {
  double bytes = 0;  // message size, > 0 (a log2 axis cannot show 0)
  double value = 0;  // GB/s or microseconds, by the series' kind
};

struct Series {
  std::string label;  // legend entry: "<backend> <suite or collective> (<n> ranks)"
  std::string name;   // the suite or collective, e.g. "latency", "allreduce"
  bool collective = false;
  SeriesKind kind = SeriesKind::kBandwidth;
  std::string host;                 // context.host or host, "" when the file has neither
  std::string versus_of;            // --versus rows: the label of the file's own series; else 
  std::vector<PlotPoint> points;    // in file order
  std::vector<std::string> notes;   // rows left out and why, for a warning
};

// A problem with an input file or the command line; the message names the file. Exit code 2.
class PlotInputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads and checks one braid-perf --json file: its backend's series, then the --versus backend's
// when the file has one. Throws PlotInputError naming `path` and the problem.
std::vector<Series> LoadSeries(const std::string& path, CollectiveMetric metric);

// "busbw", "algbw", "time": the --y spellings.
const char* CollectiveMetricName(CollectiveMetric metric);

}  // namespace braid::perf
