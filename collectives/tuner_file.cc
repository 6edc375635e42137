#include "collectives/tuner_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "collectives/tree_crossings.h"
#include "core/input_file.h"
#include "core/json_text.h"
#include "core/log.h"

namespace braid::coll {
namespace {

// The bounds sim/cluster/host_calibration.cc applies to the same fields (a pure-latency small
// regime is written as 1e9 GB/s, hence the high bandwidth bound).
constexpr double kMaxUs = 1e7, kMinGBps = 1e-6, kMaxGBps = 1e12, kMaxBytes = 1e15;
constexpr input_file::Kind kTunerFile{"a cluster file with a calibration block (or a pipe)", "a tuner file",
                                      size_t{16} << 20};

// A value as a message shows it: numbers and strings as written, cut to 64 characters.
std::string Shown(const nlohmann::json& v) {
  std::string text = v.is_object() ? "an object" : v.is_array() ? "an array" : v.dump();
  if (text.size() > 64) text = text.substr(0, 61) + "...";
  return text;
}

// Required field `key` of `object` (at `where`, e.g. "f.json: calibration.links.shm") as a number
// in [lo, hi] (lo excluded when `lo_open`).
Status ReadNumber(const nlohmann::json& object, const std::string& where, const char* key, double lo, double hi,
                  bool lo_open, double* out) {
  const auto it = object.find(key);
  if (it == object.end()) {
    return Status::InvalidArgument(fmt::format("{}.{} is missing (a number in {}{:g}, {:g}])", where, key,
                                               lo_open ? "(" : "[", lo, hi));
  }
  const double v = it->is_number() ? it->get<double>() : NAN;
  if (!(lo_open ? v > lo : v >= lo) || !(v <= hi)) {  // NaN and non-numbers fail both
    return Status::InvalidArgument(fmt::format("{}.{} = {} is not a number in {}{:g}, {:g}]", where, key,
                                               Shown(*it), lo_open ? "(" : "[", lo, hi));
  }
  *out = v;
  return Status::Ok();
}

Status ReadLink(const nlohmann::json& links, const std::string& where, const std::string& name,
                CalibratedLink* out) {
  const std::string at = fmt::format("{}.links.{}", where, json_text::ShownKey(name));
  const nlohmann::json& link = links.at(name);
  if (!link.is_object()) return Status::InvalidArgument(fmt::format("{} is {}, not an object", at, Shown(link)));
  out->name = name;
  double large_alpha = 0, one_way_GBps = 0;  // the second is checked, as plan-sim does, not used
  BRAID_RETURN_IF_ERROR(ReadNumber(link, at, "alpha_us", 0, kMaxUs, false, &large_alpha));
  BRAID_RETURN_IF_ERROR(ReadNumber(link, at, "GBps", kMinGBps, kMaxGBps, true, &one_way_GBps));
  BRAID_RETURN_IF_ERROR(ReadNumber(link, at, "bidir_GBps", kMinGBps, kMaxGBps, true, &out->GBps));
  out->alpha_us = out->large_alpha_us = large_alpha;
  out->small_max_bytes = std::numeric_limits<double>::infinity();
  if (const auto small = link.find("small"); small != link.end()) {
    if (!small->is_object()) return Status::InvalidArgument(fmt::format("{}.small is {}, not an object", at, Shown(*small)));
    BRAID_RETURN_IF_ERROR(ReadNumber(*small, at + ".small", "max_bytes", 1, kMaxBytes, false, &out->small_max_bytes));
    BRAID_RETURN_IF_ERROR(ReadNumber(*small, at + ".small", "alpha_us", 0, kMaxUs, false, &out->alpha_us));
  }
  return Status::Ok();
}

// Field `key` of `object` as a string, or nullopt when absent and `optional`.
Status ReadString(const nlohmann::json& object, const std::string& where, const char* key, bool optional,
                  std::optional<std::string>* out) {
  const auto it = object.find(key);
  if (it == object.end()) {
    if (optional) return Status::Ok();
    return Status::InvalidArgument(fmt::format("{}.{} is missing (a string)", where, key));
  }
  if (!it->is_string()) return Status::InvalidArgument(fmt::format("{}.{} = {} is not a string", where, key, Shown(*it)));
  *out = it->get<std::string>();
  return Status::Ok();
}

}  // namespace

Status ReadTunerFile(const std::string& path, TunerCalibration* out) {
  std::string text;
  BRAID_RETURN_IF_ERROR(input_file::Read(path, kTunerFile, &text));
  nlohmann::json doc;
  BRAID_RETURN_IF_ERROR(json_text::Parse(text, path, &doc));
  const auto block = doc.is_object() ? doc.find("calibration") : doc.end();
  if (!doc.is_object() || block == doc.end() || !block->is_object()) {
    return Status::InvalidArgument(fmt::format(
        "{}: no \"calibration\" object: the tuner reads the cluster file that braid-perf calibrate --out writes", path));
  }
  const nlohmann::json& c = *block;
  const std::string where = path + ": calibration";
  std::optional<std::string> runtime, intra, inter;
  BRAID_RETURN_IF_ERROR(ReadString(c, where, "runtime", false, &runtime));
  if (*runtime != "host") {
    return Status::InvalidArgument(fmt::format("{}.runtime = \"{}\": only \"host\" (braid's host runtime) is calibrated",
                                               where, json_text::ShownKey(*runtime)));
  }
  TunerCalibration result;
  result.path = path;
  BRAID_RETURN_IF_ERROR(ReadNumber(c, where, "reduce_GBps", kMinGBps, kMaxGBps, true, &result.reduce_GBps));
  BRAID_RETURN_IF_ERROR(ReadString(c, where, "intra_node", false, &intra));
  BRAID_RETURN_IF_ERROR(ReadString(c, where, "inter_node", true, &inter));
  const auto links = c.find("links");
  if (links == c.end() || !links->is_object()) {
    return Status::InvalidArgument(fmt::format("{}.links is {} (an object of link classes)", where,
                                               links == c.end() ? std::string("missing") : Shown(*links)));
  }
  if (!links->contains(*intra)) {
    return Status::InvalidArgument(fmt::format("{}.intra_node = \"{}\" names no class of links", where,
                                               json_text::ShownKey(*intra)));
  }
  BRAID_RETURN_IF_ERROR(ReadLink(*links, where, *intra, &result.intra_node));
  // As plan-sim reads it: an inter-node class that was not measured means one host.
  if (inter && links->contains(*inter)) {
    result.inter_node.emplace();
    BRAID_RETURN_IF_ERROR(ReadLink(*links, where, *inter, &*result.inter_node));
  }
  *out = std::move(result);
  return Status::Ok();
}

std::string DescribeTunerCalibration(const TunerCalibration& c) {
  auto link = [](const CalibratedLink& l) {
    if (std::isinf(l.small_max_bytes)) return fmt::format("{} {:.4g} us, {:.4g} GB/s", l.name, l.alpha_us, l.GBps);
    return fmt::format("{} {:.4g} us to {:.0f} B, {:.4g} us above, {:.4g} GB/s", l.name, l.alpha_us, l.small_max_bytes,
                       l.large_alpha_us, l.GBps);
  };
  return fmt::format("{}{}; reduce {:.4g} GB/s", link(c.intra_node), c.inter_node ? "; " + link(*c.inter_node) : "",
                     c.reduce_GBps);
}

LinkModel CalibratedLinkModel(const TunerCalibration& c, const std::vector<int>& host_of_member) {
  LinkModel link = HostRuntimeLinkModel();
  link.reduce_GBps = c.reduce_GBps;
  const std::set<int> hosts(host_of_member.begin(), host_of_member.end());
  const bool across = hosts.size() > 1 && c.inter_node;
  const CalibratedLink& bottleneck = across ? *c.inter_node : c.intra_node;
  link.alpha_us = bottleneck.alpha_us;
  link.large_message_alpha_us = bottleneck.large_alpha_us;
  link.small_message_max_bytes = bottleneck.small_max_bytes;
  link.bandwidth_GBps = bottleneck.GBps;
  if (!across) return link;
  const size_t n = host_of_member.size();
  for (size_t i = 0; i < n; ++i) {
    const CalibratedLink& hop = host_of_member[i] == host_of_member[(i + 1) % n] ? c.intra_node : bottleneck;
    link.mean_hop_alpha_us += hop.alpha_us / double(n);
    link.mean_hop_large_alpha_us += hop.large_alpha_us / double(n);
    link.mean_hop_us_per_byte += 1e-3 / hop.GBps / double(n);  // 1 GB/s = 1e3 B/us
  }
  link.nodes = int(hosts.size());
  link.all_ranks_sharing = double(n) / double(hosts.size());
  // The trees' edges between hosts: how many pass one host's link per column, and how many lie
  // one after another on a path (the rest are hops on the host, at its own link's cost); and
  // which of recursive doubling's rounds cross.
  const int members = int(n);
  const std::vector<int> one_link(n, 0);
  TreeLinkLoad both_trees, rooted, chain;
  for (int tree = 0; tree < 2; ++tree) {
    both_trees.Add(host_of_member, one_link, DoubleTreeParentOf(members, tree), true);
    link.tree_path_slow_hops =
        std::max<double>(link.tree_path_slow_hops, MostCrossingsOnAPath(host_of_member, DoubleTreeParentOf(members, tree)));
  }
  rooted.Add(host_of_member, one_link, RootedTreeParentOf(members), false);
  chain.Add(host_of_member, one_link, ChainParentOf(), false);
  link.tree_nic_messages = both_trees.Most();
  link.rooted_tree_nic_messages = rooted.Most();
  link.rooted_tree_path_slow_hops = MostCrossingsOnAPath(host_of_member, RootedTreeParentOf(members));
  link.chain_nic_messages = chain.Most();
  link.chain_path_slow_hops = MostCrossingsOnAPath(host_of_member, ChainParentOf());
  link.doubling_crossing_rounds = DoublingCrossingRounds(host_of_member);
  link.fast_hop_alpha_us = c.intra_node.alpha_us;
  link.fast_hop_us_per_byte = 1e-3 / c.intra_node.GBps;
  return link;
}

}  // namespace braid::coll
