// JSON cluster files: {"base": preset?, "nodes": N?, "gpu": preset-or-object, "node": {...},
// "network": {...}, "calibration": {...}?}. Every field but the GPU and node shape is optional and
// defaults to the base preset's (or NodeSpec's) value, so a braid-perf calibration can write only
// what it measured. A "calibration" block (host_calibration.cc) switches the cluster to braid's
// host runtime on CPU ranks.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "sim/cluster/cluster_internal.h"
#include "sim/common/input_error.h"
#include "sim/common/json_fields.h"

namespace braid::sim {
namespace {

constexpr double kMaxGBps = 1e6, kMaxUs = 1e7;

// GpuPreset(name), its error prefixed with where the name was read.
GpuSpec NamedGpu(const std::string& name, const std::string& where) {
  try {
    return GpuPreset(name);
  } catch (const InputError& e) {
    throw InputError(where + ": " + e.what());
  }
}

void ReadGpu(const nlohmann::json& value, const std::string& origin, GpuSpec* gpu, bool have_base) {
  if (value.is_string()) {
    *gpu = NamedGpu(value.get<std::string>(), origin + ": field \"gpu\"");
    return;
  }
  JsonFields f(value, origin + ": gpu");
  f.RejectUnknown({"name", "peak_tflops", "hbm_GBps", "memory_GiB", "sms", "gemm_efficiency",
                   "attention_efficiency", "memory_efficiency", "kernel_overhead_us",
                   "reserved_GiB", "preset", "bf16"});
  if (f.Has("preset")) *gpu = NamedGpu(f.String("preset"), origin + ": field \"gpu.preset\"");
  const bool need = !have_base && !f.Has("preset");  // no defaults to fall back on
  if (f.Has("name")) gpu->name = f.String("name");
  gpu->peak_tflops = need ? f.Number("peak_tflops", 1e-3, 1e6)
                          : f.Number("peak_tflops", 1e-3, 1e6, gpu->peak_tflops);
  gpu->hbm_GBps = need ? f.Number("hbm_GBps", 1e-3, kMaxGBps)
                       : f.Number("hbm_GBps", 1e-3, kMaxGBps, gpu->hbm_GBps);
  gpu->memory_GiB = need ? f.Number("memory_GiB", 1e-3, 1e6)
                         : f.Number("memory_GiB", 1e-3, 1e6, gpu->memory_GiB);
  gpu->sms = f.Int("sms", 1, 100000, gpu->sms > 0 ? gpu->sms : 100);
  gpu->gemm_efficiency = f.Number("gemm_efficiency", 0.01, 1, gpu->gemm_efficiency);
  gpu->attention_efficiency = f.Number("attention_efficiency", 0.01, 1, gpu->attention_efficiency);
  gpu->memory_efficiency = f.Number("memory_efficiency", 0.01, 1, gpu->memory_efficiency);
  gpu->kernel_overhead_us = f.Number("kernel_overhead_us", 0, kMaxUs, gpu->kernel_overhead_us);
  gpu->reserved_GiB = f.Number("reserved_GiB", 0, 1e6, gpu->reserved_GiB);
  gpu->bf16 = f.Bool("bf16", gpu->bf16);
  if (gpu->name.empty()) gpu->name = "custom";
}

void ReadNode(const nlohmann::json& value, const std::string& origin, NodeSpec* node) {
  JsonFields f(value, origin + ": node");
  f.RejectUnknown({"gpus", "fabric", "intra_GBps", "intra_latency_us", "intra_efficiency",
                   "gpus_per_pcie_switch", "socket_link_GBps", "nics", "nic_Gbps",
                   "nic_latency_us", "nic_efficiency"});
  node->gpus = f.Int("gpus", 1, 1024, node->gpus);
  std::string fabric = f.Choice("fabric", {"nvswitch", "pcie"},
                                node->fabric == IntraNodeFabric::kPCIe ? "pcie" : "nvswitch");
  node->fabric = fabric == "pcie" ? IntraNodeFabric::kPCIe : IntraNodeFabric::kNVSwitch;
  node->intra_GBps = f.Number("intra_GBps", 1e-3, kMaxGBps, node->intra_GBps);
  node->intra_latency_us = f.Number("intra_latency_us", 0, kMaxUs, node->intra_latency_us);
  node->intra_efficiency = f.Number("intra_efficiency", 0.01, 1, node->intra_efficiency);
  node->gpus_per_pcie_switch = f.Int("gpus_per_pcie_switch", 1, 1024, node->gpus_per_pcie_switch);
  node->socket_link_GBps = f.Number("socket_link_GBps", 1e-3, kMaxGBps, node->socket_link_GBps);
  node->nics = f.Int("nics", 0, 1024, node->nics);
  node->nic_Gbps = f.Number("nic_Gbps", 1e-3, 1e7, node->nic_Gbps);
  node->nic_latency_us = f.Number("nic_latency_us", 0, kMaxUs, node->nic_latency_us);
  node->nic_efficiency = f.Number("nic_efficiency", 0.01, 1, node->nic_efficiency);
}

void ReadNetwork(const nlohmann::json& value, const std::string& origin, NetworkSpec* net) {
  JsonFields f(value, origin + ": network");
  f.RejectUnknown({"topology", "nodes_per_leaf", "oversubscription", "switch_latency_us"});
  std::string topo = f.Choice("topology", {"fat-tree", "rail"},
                              net->topology == NetworkTopology::kRailOptimized ? "rail" : "fat-tree");
  net->topology = topo == "rail" ? NetworkTopology::kRailOptimized : NetworkTopology::kFatTree;
  net->nodes_per_leaf = f.Int("nodes_per_leaf", 1, 1 << 20, net->nodes_per_leaf);
  net->oversubscription = f.Number("oversubscription", 1, 1000, net->oversubscription);
  net->switch_latency_us = f.Number("switch_latency_us", 0, kMaxUs, net->switch_latency_us);
}

nlohmann::json GpuToJson(const GpuSpec& g) {
  return {{"name", g.name},
          {"peak_tflops", g.peak_tflops},
          {"bf16", g.bf16},
          {"hbm_GBps", g.hbm_GBps},
          {"memory_GiB", g.memory_GiB},
          {"sms", g.sms},
          {"gemm_efficiency", g.gemm_efficiency},
          {"attention_efficiency", g.attention_efficiency},
          {"memory_efficiency", g.memory_efficiency},
          {"kernel_overhead_us", g.kernel_overhead_us},
          {"reserved_GiB", g.reserved_GiB}};
}

nlohmann::json NodeToJson(const NodeSpec& n) {
  return {{"gpus", n.gpus},
          {"fabric", n.fabric == IntraNodeFabric::kPCIe ? "pcie" : "nvswitch"},
          {"intra_GBps", n.intra_GBps},
          {"intra_latency_us", n.intra_latency_us},
          {"intra_efficiency", n.intra_efficiency},
          {"gpus_per_pcie_switch", n.gpus_per_pcie_switch},
          {"socket_link_GBps", n.socket_link_GBps},
          {"nics", n.nics},
          {"nic_Gbps", n.nic_Gbps},
          {"nic_latency_us", n.nic_latency_us},
          {"nic_efficiency", n.nic_efficiency}};
}

nlohmann::json NetworkToJson(const NetworkSpec& n) {
  return {{"topology", n.topology == NetworkTopology::kRailOptimized ? "rail" : "fat-tree"},
          {"nodes_per_leaf", n.nodes_per_leaf},
          {"oversubscription", n.oversubscription},
          {"switch_latency_us", n.switch_latency_us}};
}

}  // namespace

nlohmann::json ClusterToJson(const ClusterSpec& c) {
  // Field names as ClusterFromJson reads them; doubles are written with enough digits to
  // read back the same value.
  nlohmann::json doc = {{"name", c.name}, {"nodes", c.nodes}, {"gpu", GpuToJson(c.gpu)},
                        {"node", NodeToJson(c.node)}, {"network", NetworkToJson(c.network)}};
  if (c.host) doc["calibration"] = HostCalibrationToJson(*c.host);
  return doc;
}

ClusterSpec ClusterFromJson(const nlohmann::json& doc, const std::string& path) {
  JsonFields f(doc, path);
  // braid's topology JSON (braid-topo --format json) has "cores", "pus" and a "gpus" array:
  // say what it is rather than only that "cores" is unknown (QA, session 54).
  if (f.Has("pus") && f.Has("gpus") && doc.at("gpus").is_array()) {
    throw InputError(fmt::format("{}: braid's topology JSON (braid-topo --format json), not a cluster file: give "
                                 "--cluster the hwloc export itself (lstopo --of xml, or braid-topo --xml's input), "
                                 "or a cluster file (plan-sim topo --cluster dgx-h100 --format json is one to edit)",
                                 path));
  }
  f.RejectUnknown({"name", "base", "nodes", "gpu", "node", "network", "calibration"});
  ClusterSpec c;
  const bool have_base = f.Has("base");
  if (have_base) {
    std::string base = f.String("base");
    if (!ClusterPreset(base, &c)) {
      throw InputError(fmt::format("{}: field \"base\" = \"{}\" is not a preset ({})", path, base,
                                   fmt::join(ClusterPresetNames(), ", ")));
    }
  } else if (!f.Has("gpu") || !f.Has("node")) {
    throw InputError(fmt::format("{}: needs \"base\" (a preset: {}) or both \"gpu\" and \"node\"",
                                 path, fmt::join(ClusterPresetNames(), ", ")));
  }
  if (f.Has("gpu")) ReadGpu(doc["gpu"], path, &c.gpu, have_base);
  if (f.Has("node")) ReadNode(f.Object("node"), path, &c.node);
  if (f.Has("network")) ReadNetwork(f.Object("network"), path, &c.network);
  c.nodes = f.Int("nodes", 1, 1 << 20, 1);
  if (f.Has("nodes")) c.file_nodes = c.nodes;
  if (f.Has("calibration")) {
    c.host = ReadHostCalibration(f.Object("calibration"), path);
    // node.gpus and calibration.ranks_per_node are one count: either gives the other (a
    // difference when both are given is reported by ValidateCluster).
    const bool node_gives_gpus = f.Has("node") && doc["node"].contains("gpus");
    if (c.host->ranks_per_node == 0) c.host->ranks_per_node = c.node.gpus;
    else if (!node_gives_gpus) c.node.gpus = c.host->ranks_per_node;
  }
  c.name = f.Has("name") ? f.String("name") : path;
  c.source = path;
  ValidateCluster(c, path);
  return c;
}

}  // namespace braid::sim
