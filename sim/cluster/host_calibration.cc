// The "calibration" block of a cluster file, as `braid-perf calibrate` writes it:
//
//   "calibration": {
//     "tool": "...", "date": "...", "host": "...", "command": "...",   (optional, provenance)
//     "runtime": "host",                  (required; the only runtime calibrated so far)
//     "ranks_per_node": 2,                (optional; must equal node.gpus when both are given)
//     "reduce_GBps": 9.5, "copy_GBps": 6.1,
//     "call_overhead_us": 0.2,            (optional, default 0)
//     "reduce_step_us": 0.05,             (optional, default 0)
//     "memory": [{"bytes": 65536, "reduce_GBps": 14, "copy_GBps": 20}, ...],  (optional)
//     "intra_node": "shm", "inter_node": "tcp",   (inter_node optional)
//     "links": {"shm": {"alpha_us": 0.9, "GBps": 4.4, "bidir_GBps": 2.6,
//                       "small": {"max_bytes": 8192, "alpha_us": 0.45, "GBps": 1.9},
//                       "exchange_us": [[8, 0.2], [16, 0.2], ..., [1048576, 120]],
//                       "streaming_GBps": [[1048576, 10.6], ..., [268435456, 5.0]],
//                       "fit_max_relative_error": 0.1}, ...},   (all but the first three optional)
//     "measured": {...}                   (raw points: not read)
//   }
#include "sim/cluster/host_calibration.h"

#include <fmt/format.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "sim/cluster/cluster_internal.h"
#include "sim/common/input_error.h"
#include "sim/common/json_fields.h"

namespace braid::sim {
namespace {

constexpr double kBytesPerGB = 1e9;
constexpr double kSecondsPerUs = 1e-6;
// Bandwidths up to 1e12 GB/s: a fit whose time does not grow with size (a small-message regime
// of pure latency) comes out of braid-perf calibrate as 1e9 GB/s.
constexpr double kMinGBps = 1e-6, kMaxGBps = 1e12, kMaxUs = 1e7, kMaxBytes = 1e15;

// [[bytes, value], ...], bytes ascending; `value` names the second number in messages.
std::vector<std::pair<double, double>> ReadPairs(const nlohmann::json& array, const std::string& origin,
                                                 const char* value, double min_value, double max_value) {
  std::vector<std::pair<double, double>> points;
  for (size_t i = 0; i < array.size(); ++i) {
    const nlohmann::json& p = array[i];
    const std::string where = fmt::format("{}[{}]", origin, i);
    if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number()) {
      throw InputError(fmt::format("{}: expected [bytes, {}], got {}", where, value, ShownValue(p)));
    }
    const double bytes = p[0].get<double>(), v = p[1].get<double>();
    if (!(bytes >= 1 && bytes <= kMaxBytes) || !(v >= min_value && v <= max_value)) {
      throw InputError(fmt::format("{}: [{}, {}] is out of range (bytes in [1, {:g}], {} in [{:g}, {:g}])",
                                   where, bytes, v, kMaxBytes, value, min_value, max_value));
    }
    if (!points.empty() && bytes <= points.back().first) {
      throw InputError(fmt::format("{}: {} bytes is not above the previous point's {} (points must ascend)",
                                   where, bytes, points.back().first));
    }
    points.emplace_back(bytes, v);
  }
  return points;
}

HostLinkClass ReadLinkClass(const nlohmann::json& value, const std::string& origin) {
  JsonFields f(value, origin);
  // fit_max_relative_error: braid-perf's report on its own fit (diagnostic, not read).
  f.RejectUnknown({"alpha_us", "GBps", "bidir_GBps", "small", "exchange_us", "streaming_GBps",
                   "streaming_reduce_GBps", "fit_max_relative_error"});
  HostLinkClass c;
  c.alpha_us = f.Number("alpha_us", 0, kMaxUs);
  c.GBps = f.Number("GBps", kMinGBps, kMaxGBps);
  c.bidir_GBps = f.Number("bidir_GBps", kMinGBps, kMaxGBps);
  if (f.Has("small")) {
    JsonFields small(f.Object("small"), origin + ".small");
    small.RejectUnknown({"max_bytes", "alpha_us", "GBps"});
    c.small_max_bytes = small.Number("max_bytes", 0, kMaxBytes);
    c.small_alpha_us = small.Number("alpha_us", 0, kMaxUs);
    c.small_GBps = small.Number("GBps", kMinGBps, kMaxGBps);
  }
  if (f.Has("exchange_us")) {
    for (auto [bytes, us] : ReadPairs(f.Array("exchange_us"), origin + ".exchange_us", "microseconds", 0, kMaxUs))
      c.exchange_points.push_back({bytes, us});
  }
  if (f.Has("streaming_GBps")) {
    for (auto [bytes, GBps] : ReadPairs(f.Array("streaming_GBps"), origin + ".streaming_GBps", "GB/s", kMinGBps, kMaxGBps))
      c.streaming_rates.push_back({bytes, GBps});
  }
  if (f.Has("streaming_reduce_GBps")) {
    for (auto [bytes, GBps] :
         ReadPairs(f.Array("streaming_reduce_GBps"), origin + ".streaming_reduce_GBps", "GB/s", kMinGBps, kMaxGBps))
      c.streaming_reduce_rates.push_back({bytes, GBps});
  }
  return c;
}

std::vector<HostMemoryPoint> ReadMemoryPoints(const nlohmann::json& array, const std::string& origin) {
  std::vector<HostMemoryPoint> points;
  for (size_t i = 0; i < array.size(); ++i) {
    const std::string where = fmt::format("{}[{}]", origin, i);
    JsonFields p(array[i], where);
    p.RejectUnknown({"bytes", "reduce_GBps", "copy_GBps"});
    HostMemoryPoint point{p.Number("bytes", 1, kMaxBytes), p.Number("reduce_GBps", kMinGBps, kMaxGBps),
                          p.Number("copy_GBps", kMinGBps, kMaxGBps)};
    if (!points.empty() && point.bytes <= points.back().bytes) {
      throw InputError(fmt::format("{}: field \"bytes\" = {} is not above the previous point's {} "
                                   "(points must ascend)", where, point.bytes, points.back().bytes));
    }
    points.push_back(point);
  }
  return points;
}

// `field` of `points` (ascending .bytes) at `bytes`: linear in log(bytes) between points,
// clamped at the ends.
template <typename PointT>
double InterpolateLog(const std::vector<PointT>& points, double bytes, double PointT::*field) {
  if (bytes <= points.front().bytes) return points.front().*field;
  if (bytes >= points.back().bytes) return points.back().*field;
  size_t i = 1;
  while (points[i].bytes < bytes) ++i;
  const PointT &lo = points[i - 1], &hi = points[i];
  const double t = std::log(bytes / lo.bytes) / std::log(hi.bytes / lo.bytes);
  return lo.*field + t * (hi.*field - lo.*field);
}

std::string ClassNames(const HostCalibration& h) {
  std::string names;
  for (const auto& [name, unused] : h.links) names += (names.empty() ? "" : ", ") + name;
  return names;
}

std::string DescribeClass(const HostLinkClass& c) {
  std::string s = fmt::format("{:.2f} us + bytes / {:.2f} GB/s ({:.2f} GB/s each way when "
                              "bidirectional)", c.alpha_us, c.GBps, c.bidir_GBps);
  if (c.small_max_bytes > 0) {
    s += fmt::format("; up to {:.0f} B: {:.2f} us + bytes / {:.2f} GB/s", c.small_max_bytes,
                     c.small_alpha_us, c.small_GBps);
  }
  if (!c.exchange_points.empty()) {
    s += fmt::format("; fixed costs from exchanges measured at {} sizes, {:.0f} B .. {:.0f} B",
                     c.exchange_points.size(), c.exchange_points.front().bytes, c.exchange_points.back().bytes);
  }
  if (!c.streaming_rates.empty()) {
    s += "; streaming GB/s by working set:";
    for (const HostLinkClass::RatePoint& p : c.streaming_rates) s += fmt::format(" {:.0f} KiB {:.2f};", p.bytes / 1024, p.GBps);
    s.pop_back();
  }
  if (!c.streaming_reduce_rates.empty()) {
    s += "; streaming reduce-scatter GB/s by working set:";
    for (const HostLinkClass::RatePoint& p : c.streaming_reduce_rates)
      s += fmt::format(" {:.0f} KiB {:.2f};", p.bytes / 1024, p.GBps);
    s.pop_back();
  }
  return s;
}

}  // namespace

double HostLinkClass::MessageSeconds(double bytes) const {
  if (bytes <= small_max_bytes) return small_alpha_us * kSecondsPerUs + bytes / (small_GBps * kBytesPerGB);
  return alpha_us * kSecondsPerUs + bytes / (GBps * kBytesPerGB);
}

double HostLinkClass::FixedSeconds(double bytes) const {
  if (exchange_points.empty()) return std::max(0.0, MessageSeconds(bytes) - bytes / (GBps * kBytesPerGB));
  const auto fixed = [this](const Point& p) {
    return std::max(0.0, p.us * kSecondsPerUs - p.bytes / (bidir_GBps * kBytesPerGB));
  };
  if (bytes <= exchange_points.front().bytes) return fixed(exchange_points.front());
  if (bytes >= exchange_points.back().bytes) return fixed(exchange_points.back());
  size_t i = 1;
  while (exchange_points[i].bytes < bytes) ++i;
  const Point &lo = exchange_points[i - 1], &hi = exchange_points[i];
  const double t = (bytes - lo.bytes) / (hi.bytes - lo.bytes);
  return fixed({bytes, lo.us + t * (hi.us - lo.us)});
}

namespace {

// A class's streaming rate at working set `bytes` (> kStreamWorkingSetBytes) from its measured
// points. Below the first point the rate runs log-linearly from bidir_GBps at the reference (what
// the class streams there by definition) to that point, so the slowdown grows with the working
// set instead of stepping to the first point's at the reference plus one byte.
double StreamingGBps(const HostLinkClass& c, double bytes) {
  const HostLinkClass::RatePoint& first = c.streaming_rates.front();
  if (bytes >= first.bytes || first.bytes <= kStreamWorkingSetBytes) {
    return InterpolateLog(c.streaming_rates, bytes, &HostLinkClass::RatePoint::GBps);
  }
  const std::vector<HostLinkClass::RatePoint> from_reference{{kStreamWorkingSetBytes, c.bidir_GBps}, first};
  return InterpolateLog(from_reference, bytes, &HostLinkClass::RatePoint::GBps);
}

// AtWorkingSet's slowdown of every link class of `at` beyond kStreamWorkingSetBytes (its
// reduce_GBps and copy_GBps already at `bytes`).
void SlowStreams(HostCalibration* at, double bytes) {
  // Seconds per GB more than the class's streaming rates at the reference working set: where
  // its own streams were measured at this working set, what they ran slower than bidir_GBps;
  // else half of what memcpy lost beyond the reference (a transfer streams one user buffer at
  // each end, memcpy two). The memcpy estimate is kept only for files without streaming rates:
  // on this machine's 2-rank shared memory it put the streams of a 4 MiB working set at 8.9 GB/s
  // per direction where they ran at 5.2-6.2 (docs/PERFORMANCE.md, session 48).
  const auto rise = [](double rate, double reference) { return std::max(0.0, 1 / rate - 1 / reference); };
  double memcpy_extra_s_per_GB = 0;
  if (!at->memory.empty()) {
    memcpy_extra_s_per_GB =
        rise(at->copy_GBps, InterpolateLog(at->memory, kStreamWorkingSetBytes, &HostMemoryPoint::copy_GBps)) / 2;
  }
  for (auto& [name, c] : at->links) {
    const double extra_s_per_GB =
        c.streaming_rates.empty()
            ? memcpy_extra_s_per_GB
            : rise(StreamingGBps(c, bytes), c.bidir_GBps);
    c.GBps = 1 / (1 / c.GBps + extra_s_per_GB);
    c.bidir_GBps = 1 / (1 / c.bidir_GBps + extra_s_per_GB);
  }
}

// HostCalibration::core_GBps of `at` (already at working set `bytes`), 0 without the rates.
// Bounded by the two rules it refines: at least both directions at bidir_GBps (the exchanges
// alone reach that), at most the memcpy rule (a core whose reduce-scatter runs as fast as its
// reduction alone, or faster, a disturbed measurement, hides every reduction; the formula's
// pole there would otherwise make the core limitless).
double CoreGBps(const HostCalibration& at, double bytes) {
  const HostLinkClass& intra = at.Intra();
  if (intra.streaming_reduce_rates.empty()) return 0;
  const double low = 2 * intra.bidir_GBps, high = std::max(low, 2 * at.copy_GBps);
  const double step_s_per_GB = 1 / InterpolateLog(intra.streaming_reduce_rates, bytes, &HostLinkClass::RatePoint::GBps);
  const double copies_s_per_GB = step_s_per_GB - 1 / at.reduce_GBps;
  if (copies_s_per_GB <= 0) return high;
  return std::clamp(2 / copies_s_per_GB, low, high);
}

}  // namespace

HostCalibration HostCalibration::AtWorkingSet(double bytes) const {
  HostCalibration at = *this;
  if (!memory.empty()) {
    at.reduce_GBps = InterpolateLog(memory, bytes, &HostMemoryPoint::reduce_GBps);
    at.copy_GBps = InterpolateLog(memory, bytes, &HostMemoryPoint::copy_GBps);
  }
  // Working sets up to the reference are at least as cached as when the rates were measured.
  if (bytes > kStreamWorkingSetBytes) SlowStreams(&at, bytes);
  at.core_GBps = CoreGBps(at, bytes);
  return at;
}


const HostLinkClass* HostCalibration::Inter() const {
  auto it = links.find(inter_node);
  return inter_node.empty() || it == links.end() ? nullptr : &it->second;
}

HostCalibration ReadHostCalibration(const nlohmann::json& value, const std::string& file) {
  const std::string origin = file + ": calibration";
  JsonFields f(value, origin);
  f.RejectUnknown({"tool", "date", "host", "command", "runtime", "ranks_per_node", "reduce_GBps",
                   "copy_GBps", "call_overhead_us", "reduce_step_us", "memory", "intra_node",
                   "inter_node", "links", "measured"});
  f.Choice("runtime", {"host"});
  HostCalibration h;
  for (auto [field, out] : {std::pair{"tool", &h.tool}, std::pair{"date", &h.date},
                            std::pair{"host", &h.host}, std::pair{"command", &h.command}}) {
    if (f.Has(field)) *out = f.String(field);
  }
  h.ranks_per_node = f.Int("ranks_per_node", 1, 1024, 0);  // 0: take node.gpus
  h.reduce_GBps = f.Number("reduce_GBps", kMinGBps, kMaxGBps);
  h.copy_GBps = f.Number("copy_GBps", kMinGBps, kMaxGBps);
  if (f.Has("call_overhead_us")) h.call_overhead_us = f.Number("call_overhead_us", 0, kMaxUs);
  if (f.Has("reduce_step_us")) h.reduce_step_us = f.Number("reduce_step_us", 0, kMaxUs);
  if (f.Has("memory")) h.memory = ReadMemoryPoints(f.Array("memory"), origin + ".memory");
  const nlohmann::json& links = f.Object("links");
  for (auto it = links.begin(); it != links.end(); ++it) {
    h.links[it.key()] = ReadLinkClass(it.value(), origin + ".links." + it.key());
  }
  h.intra_node = f.String("intra_node");
  if (!h.links.count(h.intra_node)) {
    throw InputError(fmt::format("{}: field \"intra_node\" = \"{}\" names no class of \"links\" "
                                 "(classes: {})", origin, h.intra_node, ClassNames(h)));
  }
  if (f.Has("inter_node")) h.inter_node = f.String("inter_node");
  return h;
}

namespace {

nlohmann::json LinkClassToJson(const HostLinkClass& c) {
  nlohmann::json j = {{"alpha_us", c.alpha_us}, {"GBps", c.GBps}, {"bidir_GBps", c.bidir_GBps}};
  // ReadLinkClass leaves the small regime at zero when absent; its GBps is positive when present.
  if (c.small_GBps > 0) {
    j["small"] = {{"max_bytes", c.small_max_bytes}, {"alpha_us", c.small_alpha_us}, {"GBps", c.small_GBps}};
  }
  if (!c.exchange_points.empty()) {
    j["exchange_us"] = nlohmann::json::array();
    for (const HostLinkClass::Point& p : c.exchange_points) j["exchange_us"].push_back({p.bytes, p.us});
  }
  if (!c.streaming_rates.empty()) {
    j["streaming_GBps"] = nlohmann::json::array();
    for (const HostLinkClass::RatePoint& p : c.streaming_rates) j["streaming_GBps"].push_back({p.bytes, p.GBps});
  }
  if (!c.streaming_reduce_rates.empty()) {
    j["streaming_reduce_GBps"] = nlohmann::json::array();
    for (const HostLinkClass::RatePoint& p : c.streaming_reduce_rates)
      j["streaming_reduce_GBps"].push_back({p.bytes, p.GBps});
  }
  return j;
}

}  // namespace

nlohmann::json HostCalibrationToJson(const HostCalibration& h) {
  nlohmann::json j = {{"runtime", "host"},
                      {"ranks_per_node", h.ranks_per_node},
                      {"reduce_GBps", h.reduce_GBps},
                      {"copy_GBps", h.copy_GBps},
                      {"call_overhead_us", h.call_overhead_us},
                      {"reduce_step_us", h.reduce_step_us},
                      {"intra_node", h.intra_node},
                      {"links", nlohmann::json::object()}};
  for (auto [field, value] : {std::pair{"tool", &h.tool}, std::pair{"date", &h.date},
                              std::pair{"host", &h.host}, std::pair{"command", &h.command}}) {
    if (!value->empty()) j[field] = *value;
  }
  if (!h.inter_node.empty()) j["inter_node"] = h.inter_node;
  if (!h.memory.empty()) {
    j["memory"] = nlohmann::json::array();
    for (const HostMemoryPoint& p : h.memory) {
      j["memory"].push_back({{"bytes", p.bytes}, {"reduce_GBps", p.reduce_GBps}, {"copy_GBps", p.copy_GBps}});
    }
  }
  for (const auto& [name, link] : h.links) j["links"][name] = LinkClassToJson(link);
  return j;
}

void CheckHostCalibrationSpan(const HostCalibration& h, int nodes, const std::string& origin) {
  if (nodes <= 1 || h.Inter()) return;
  throw InputError(fmt::format(
      "{}: {} nodes, but calibration.inter_node {} (classes: {}); calibrate between two nodes or "
      "use one node", origin, nodes,
      h.inter_node.empty() ? "is absent" : fmt::format("= \"{}\" names no class of \"links\"", h.inter_node),
      ClassNames(h)));
}

std::string HostCalibrationSummary(const HostCalibration& h) {
  std::string s = fmt::format("  host runtime, calibrated{}{}{}: {} ranks per node, reduce {:.2f} "
                              "GB/s, copy {:.2f} GB/s per rank\n",
                              h.tool.empty() ? "" : " by " + h.tool,
                              h.host.empty() ? "" : " on " + h.host,
                              h.date.empty() ? "" : " (" + h.date + ")", h.ranks_per_node,
                              h.reduce_GBps, h.copy_GBps);
  s += fmt::format("  {:.2f} us per collective call, {:.2f} us per reduction step\n", h.call_overhead_us,
                   h.reduce_step_us);
  if (!h.memory.empty()) {
    s += fmt::format("  reduce / copy GB/s by working set (beyond {} KiB, links without streaming rates slow down "
                     "with copy):",
                     int(kStreamWorkingSetBytes) >> 10);
    for (const HostMemoryPoint& p : h.memory)
      s += fmt::format(" {:.0f} KiB {:.1f}/{:.1f};", p.bytes / 1024, p.reduce_GBps, p.copy_GBps);
    s.back() = '\n';
  }
  s += fmt::format("  intra-node {}: {}\n", h.intra_node, DescribeClass(h.Intra()));
  if (const HostLinkClass* inter = h.Inter()) {
    s += fmt::format("  inter-node {}: {}\n", h.inter_node, DescribeClass(*inter));
  } else {
    s += "  inter-node: not calibrated (one node only)\n";
  }
  return s;
}

}  // namespace braid::sim
