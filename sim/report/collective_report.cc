#include "sim/report/collective_report.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <nlohmann/json.hpp>

#include "sim/common/json_fields.h"

namespace braid::sim {
namespace {

constexpr double kUsPerSecond = 1e6;

const char* RuntimeName(const ClusterSpec& cluster) { return cluster.host ? "host" : "gpu"; }

void WriteTable(std::ostream& out, const CollectiveReportContext& c,
                const std::vector<CollectiveSweepRow>& rows) {
  const ClusterSpec& cluster = *c.cluster;
  fmt::print(out, "# plan-sim collective: {}{} of {} over {} ranks ({} node(s) x {}) on {} ({})\n",
             coll::CollectiveName(c.spec.collective), c.op.empty() ? "" : " (" + c.op + ")", c.type,
             c.spec.ranks, cluster.nodes, std::min(c.spec.ranks, cluster.node.gpus), cluster.name,
             cluster.host ? "braid's host runtime on CPU ranks, calibrated" : "GPUs");
  fmt::print(out, "# predicted time of one out-of-place call; busbw as nccl-tests; algorithm {}\n",
             c.spec.algorithm ? fmt::format("forced to {} (--algorithm)", coll::AlgorithmName(*c.spec.algorithm))
                              : std::string("the tuner's choice per size"));
  fmt::print(out, "#{:>12} {:>12} {:>10} {:>12} {:>13} {:>13} {:>12} {:>10}\n", "size (B)", "count",
             "type", "time (us)", "algbw (GB/s)", "busbw (GB/s)", "algorithm", "slice (B)");
  for (const CollectiveSweepRow& r : rows) {
    fmt::print(out, " {:>12} {:>12} {:>10} {:>12.2f} {:>13.3f} {:>13.3f} {:>12} {:>10}\n", r.bytes,
               r.count, c.type, r.seconds * kUsPerSecond, r.algbw_GBps, r.busbw_GBps,
               coll::AlgorithmName(r.algorithm), r.slice_bytes);
  }
  if (!c.explain) return;
  fmt::print(out, "# the tuner's estimates per size (each algorithm at its best slice; best first):\n");
  for (const CollectiveSweepRow& r : rows) fmt::print(out, "# {:>12}: {}\n", r.bytes, r.tuner);
}

void WriteCsv(std::ostream& out, const CollectiveReportContext& c,
              const std::vector<CollectiveSweepRow>& rows) {
  out << "size,count,type,time_us,algbw,busbw,algorithm,slice_bytes,tuner\n";
  for (const CollectiveSweepRow& r : rows) {
    // The tuner's text has no quotes or newlines, but commas ("allowed ring,tree"): quoted.
    fmt::print(out, "{},{},{},{},{},{},{},{},\"{}\"\n", r.bytes, r.count, c.type, r.seconds * kUsPerSecond,
               r.algbw_GBps, r.busbw_GBps, coll::AlgorithmName(r.algorithm), r.slice_bytes, r.tuner);
  }
}

nlohmann::json Json(const CollectiveReportContext& c, const std::vector<CollectiveSweepRow>& rows) {
  nlohmann::json json_rows = nlohmann::json::array();
  for (const CollectiveSweepRow& r : rows) {
    json_rows.push_back({{"size", r.bytes}, {"count", r.count}, {"time_us", r.seconds * kUsPerSecond},
                         {"algbw", r.algbw_GBps}, {"busbw", r.busbw_GBps},
                         {"algorithm", coll::AlgorithmName(r.algorithm)},
                         {"slice_bytes", r.slice_bytes}, {"tuner", r.tuner}});
  }
  return {{"cluster", c.cluster->name},
          {"runtime", RuntimeName(*c.cluster)},
          {"collective", coll::CollectiveName(c.spec.collective)},
          {"op", c.op},
          {"ranks", c.spec.ranks},
          {"nodes", c.cluster->nodes},
          {"type", c.type},
          {"algorithm", c.spec.algorithm ? coll::AlgorithmName(*c.spec.algorithm) : "auto"},
          {"rows", std::move(json_rows)}};
}

}  // namespace

void WriteCollectiveSweep(std::ostream& out, Format format, const CollectiveReportContext& context,
                          const std::vector<CollectiveSweepRow>& rows) {
  switch (format) {
    case Format::kTable: return WriteTable(out, context, rows);
    case Format::kCsv: return WriteCsv(out, context, rows);
    case Format::kJson: out << DumpJson(Json(context, rows), 2) << "\n"; return;
  }
}

}  // namespace braid::sim
