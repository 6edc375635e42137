#include "sim/cluster/cluster.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "braid/topology.h"
#include "core/input_file.h"
#include "sim/cluster/cluster_internal.h"
#include "sim/common/input_error.h"
#include "sim/common/json_fields.h"

namespace braid::sim {

namespace {

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The node's fabric from what hwloc saw of NVLink (its NVML backend's bandwidths), else from the
// GPU's name: SXM parts only come on NVLink boards (HGX: NVSwitch), so the name tells what an
// hwloc without NVML cannot (Debian's has none); a PCIe card is taken to talk over PCIe.
// plan-sim's node is a switch or PCIe: GPUs all on NVSwitches are the switch at their slowest
// GPU's bandwidth; GPUs all linked to each other directly (a bridged pair, a full mesh) are a
// switch at each GPU's summed links, which is what rings over every link reach, though one
// pair's transfer gets only its own links (1/(n-1) of that, n > 2); links between some pairs only
// (bridged pairs of a larger box, a hybrid cube mesh) fit neither and are named in the basis.
void SetIntraNodeFabric(const Topology& topo, double board_nvlink_GBps, ClusterSpec* c) {
  const size_t n = topo.gpus.size();
  double min_switch = std::numeric_limits<double>::infinity(), min_mesh = min_switch;
  size_t on_switch = 0, in_mesh = 0, linked = 0;
  for (const TopoGpu& g : topo.gpus) {
    if (g.nvlink_switch_GBps > 0) ++on_switch, min_switch = std::min(min_switch, g.nvlink_switch_GBps);
    if (n > 1 && size_t(g.nvlink_gpu_peers) == n - 1) ++in_mesh, min_mesh = std::min(min_mesh, g.nvlink_gpu_GBps);
    if (g.nvlink_switch_GBps > 0 || g.nvlink_gpu_peers > 0) ++linked;
  }
  constexpr const char* kSeen = "hwloc's NVLink matrix (NVML)";
  auto nvswitch = [c](double GBps) {
    c->node.fabric = IntraNodeFabric::kNVSwitch;
    c->node.intra_GBps = GBps;
  };
  if (on_switch == n) {
    nvswitch(min_switch);
    c->fabric_basis = fmt::format("{}: every GPU on NVSwitch, the slowest at {:g} GB/s", kSeen, min_switch);
    return;
  }
  if (in_mesh == n && on_switch == 0) {
    nvswitch(min_mesh);
    c->fabric_basis = n == 2 ? fmt::format("{}: an NVLink-bridged pair", kSeen)
                             : fmt::format("{}: a full NVLink mesh of {} GPUs, modelled as a switch at each GPU's {} "
                                           "links summed; one pair's transfer would get {:g} GB/s",
                                           kSeen, n, n - 1, min_mesh / double(n - 1));
    return;
  }
  const std::string partial =
      linked == 0 ? "" : fmt::format("; hwloc shows NVLink on {} of the {} GPUs in a shape plan-sim's node (all on "
                                     "a switch, a pair or a full mesh) cannot hold: not modelled", linked, n);
  if (board_nvlink_GBps > 0) {
    nvswitch(board_nvlink_GBps);
    c->fabric_basis = fmt::format("assumed for the SXM part \"{}\"{}", topo.gpus[0].name,
                                  linked == 0 ? "; hwloc reports no NVLink between GPUs (an hwloc without NVML reports none)"
                                              : partial);
    return;
  }
  // PCIe cards as the pcie-a100 preset has them: x16 Gen4 links, one switch per CPU socket for
  // the GPUs of that socket (hwloc's package of each GPU), sockets joined by the CPU link. A
  // two-socket box was one switch of 8 GPUs, half as fast for an all-to-all (QA, session 56).
  const ClusterSpec preset = [] {
    ClusterSpec p;
    ClusterPreset("pcie-a100", &p);
    return p;
  }();
  c->node.fabric = IntraNodeFabric::kPCIe;
  c->node.intra_GBps = preset.node.intra_GBps;
  c->node.intra_efficiency = preset.node.intra_efficiency;
  c->node.intra_latency_us = preset.node.intra_latency_us;
  c->node.socket_link_GBps = preset.node.socket_link_GBps;
  std::map<int, int> per_package;
  for (const TopoGpu& g : topo.gpus) ++per_package[g.package];
  const int first = per_package.begin()->second;
  const bool even = per_package.count(-1) == 0 &&
                    std::all_of(per_package.begin(), per_package.end(), [first](const auto& p) { return p.second == first; });
  c->node.gpus_per_pcie_switch = even ? first : c->node.gpus;
  const std::string switches = !even                  ? "; one PCIe switch for all GPUs (hwloc shows no even split "
                                                         "of them over CPU packages)"
                               : per_package.size() > 1 ? fmt::format("; a PCIe switch per CPU package, {} GPUs each", first)
                                                        : std::string("; one PCIe switch (one CPU package)");
  c->fabric_basis = fmt::format("assumed for the PCIe card \"{}\"{}{}", topo.gpus[0].name,
                                linked == 0 ? "; hwloc reports no NVLink between GPUs" : partial, switches);
}

}  // namespace

namespace {

// The hwloc topology of an export's text (read from a pipe) or file.
Topology HwlocExport(const std::string& path, const std::string* text) {
  Topology topo;
  const Status s = text != nullptr ? LoadTopologyXmlText(*text, path, &topo) : LoadTopologyXml(path, &topo);
  if (!s.ok()) throw InputError("--cluster: " + s.message());
  return topo;
}

// A path whose name says nothing of what it holds: a file descriptor's, a pipe (--cluster <(...)
// is /dev/fd/63) or a redirected file (--cluster /dev/stdin < node.xml); or a device, which the
// reader then refuses by what it is (/dev/zero), as --model's does.
bool NamesNoKind(const std::string& path) {
  if (path.rfind("/dev/stdin", 0) == 0 || path.rfind("/dev/fd/", 0) == 0 || path.rfind("/proc/self/fd/", 0) == 0)
    return true;
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  return std::filesystem::exists(status) && !std::filesystem::is_regular_file(status) &&
         !std::filesystem::is_directory(status);
}

// The whole text of a descriptor's file: an hwloc XML export or a JSON cluster file, told apart
// by its first character ('<' or not, after white space and a UTF-8 byte-order mark).
constexpr input_file::Kind kEither{"an hwloc XML export or a JSON cluster file (or a pipe)", "an hwloc XML export",
                                   size_t{64} << 20};

void ReadUnnamed(const std::string& path, ClusterSource* source) {
  std::string text;
  if (Status read = input_file::Read(path, kEither, &text); !read.ok()) throw InputError("--cluster: " + read.message());
  size_t first = text.rfind("\xef\xbb\xbf", 0) == 0 ? 3 : 0;
  first = text.find_first_not_of(" \t\r\n", first);
  if (first != std::string::npos && text[first] == '<') {
    source->topology = HwlocExport(path, &text);
    return;
  }
  // The same bound as a cluster file by name (a pipe allowed 64 MiB of JSON; QA, session 54).
  if (text.size() > kJsonFile.max_bytes) throw InputError("--cluster: " + input_file::TooLarge(path, kJsonFile).message());
  source->document = std::make_shared<const nlohmann::json>(ParseJsonText(text, path));
}

}  // namespace

ClusterSource ReadClusterSource(const std::string& name_or_path) {
  ClusterSource source;
  source.name = name_or_path;
  ClusterSpec preset;
  if (ClusterPreset(name_or_path, &preset)) return source;
  if (name_or_path == "this") {
    Topology topo;
    Status s = DiscoverTopology(&topo);
    if (!s.ok()) throw InputError("--cluster this: hwloc discovery failed: " + s.ToString());
    source.topology = std::move(topo);
    return source;
  }
  if (NamesNoKind(name_or_path)) {
    ReadUnnamed(name_or_path, &source);
    return source;
  }
  if (EndsWith(name_or_path, ".xml")) {
    source.topology = HwlocExport(name_or_path, nullptr);
    return source;
  }
  if (EndsWith(name_or_path, ".json")) {
    source.document = std::make_shared<const nlohmann::json>(ReadJsonFile(name_or_path));
    return source;
  }
  // Say what the path is, so a misnamed file is not taken for a misspelt preset.
  std::error_code error;
  const auto status = std::filesystem::status(name_or_path, error);
  std::string what = "is not";
  if (std::filesystem::is_directory(status)) what = "is a directory, not";
  else if (std::filesystem::exists(status)) what = "has neither a .json (cluster file) nor an .xml (hwloc export) extension; give";
  throw InputError(fmt::format("--cluster: \"{}\" {} a preset ({}), \"this\", an hwloc .xml file, a .json cluster file "
                               "or a pipe",
                               name_or_path, what, fmt::join(ClusterPresetNames(), ", ")));
}

ClusterSpec ClusterFromSource(const ClusterSource& source) {
  if (source.topology) return ClusterFromTopology(*source.topology, source.name == "this" ? "hwloc" : source.name);
  if (source.document) return ClusterFromJson(*source.document, source.name);
  ClusterSpec preset;
  ClusterPreset(source.name, &preset);
  return preset;
}

ClusterSpec LoadCluster(const std::string& name_or_path) { return ClusterFromSource(ReadClusterSource(name_or_path)); }

ClusterSpec ClusterFromTopology(const Topology& topo, const std::string& source) {
  ClusterSpec c;
  c.name = topo.hostname.empty() ? source : topo.hostname;
  c.source = source;
  c.nodes = 1;
  if (topo.gpus.empty()) {
    throw InputError(fmt::format(
        "{}: hwloc found no GPU on {} ({} cores, {} NICs); describe the machine in a JSON cluster "
        "file or use a preset ({})",
        source, c.name, topo.cores, topo.nics.size(), fmt::join(ClusterPresetNames(), ", ")));
  }
  // plan-sim models one kind of GPU per cluster: a node mixing models or memory sizes would be
  // simulated as its first GPU, with memory or speed the others lack.
  std::map<std::string, int> kinds;  // "name, memory" -> GPUs of that kind
  for (const TopoGpu& g : topo.gpus) {
    ++kinds[g.memory_GiB > 0 ? fmt::format("\"{}\" with {:g} GiB", g.name, g.memory_GiB) : fmt::format("\"{}\"", g.name)];
  }
  if (kinds.size() > 1) {
    std::vector<std::string> listed;
    for (const auto& [kind, count] : kinds) listed.push_back(fmt::format("{} x {}", count, kind));
    throw InputError(fmt::format("{}: {} has GPUs of {} kinds ({}); plan-sim simulates one kind per cluster: "
                                 "describe the GPUs to plan for in a JSON cluster file",
                                 source, c.name, kinds.size(), fmt::join(listed, ", ")));
  }
  double board_nvlink_GBps = 0;
  if (!MatchGpuPreset(topo.gpus[0].name, &c.gpu, &board_nvlink_GBps)) {
    throw InputError(fmt::format("{}: GPU \"{}\" has no preset ({}); describe it in a JSON cluster "
                                 "file",
                                 source, topo.gpus[0].name, fmt::join(GpuPresetNames(), ", ")));
  }
  if (topo.gpus[0].memory_GiB > 0) c.gpu.memory_GiB = topo.gpus[0].memory_GiB;
  c.node.gpus = static_cast<int>(topo.gpus.size());
  SetIntraNodeFabric(topo, board_nvlink_GBps, &c);
  // An InfiniBand/RoCE port appears twice (RDMA device and IP interface, same PCI address):
  // count distinct PCI functions.
  std::set<std::string> ports;
  double nic_Gbps = 0;
  for (const TopoNic& nic : topo.nics) {
    if (nic.speed_Gbps <= 0) continue;
    ports.insert(nic.pci_bus_id.empty() ? nic.name : nic.pci_bus_id);
    nic_Gbps = std::max(nic_Gbps, nic.speed_Gbps);
  }
  // No NIC with a known speed (an XML export records none): no NICs, so a run on more than one
  // node is refused naming the count, rather than one spread over an invented 10 Gb/s link.
  c.node.nics = int(ports.size());
  c.node.nic_Gbps = nic_Gbps > 0 ? nic_Gbps : 10;  // unused while nics == 0
  if (topo.gpus.size() > 1024) {
    throw InputError(fmt::format("{}: {} GPUs in one node, more than the 1024 a node may have", source,
                                 topo.gpus.size()));
  }
  return c;
}

std::string SizeForGpus(ClusterSpec* c, int gpus, const std::string& option) {
  const char* unit = c->host ? "ranks" : "GPUs";
  if (gpus < 1) throw InputError(fmt::format("{} {} must be at least 1", option, gpus));
  if (gpus > kMaxSimulatedGpus) {
    throw InputError(fmt::format("{} {} {} is more than the {} plan-sim simulates", option, gpus, unit,
                                 kMaxSimulatedGpus));
  }
  if (gpus < c->node.gpus) {
    // Part of one node: no NIC or inter-node calibration is needed, and the node's shape checks
    // (PCIe switches, calibrated ranks per node) hold for the whole node, not the part used.
    c->node.gpus = gpus;
    c->nodes = 1;
    return "";
  }
  if (gpus % c->node.gpus != 0) {
    throw InputError(fmt::format("{} {} is not a multiple of the {} {} per node of {} (nor fewer than one node)",
                                 option, gpus, c->node.gpus, unit, c->name));
  }
  c->nodes = gpus / c->node.gpus;
  // The cluster's file was validated with its own node count; NICs and calibration must also
  // carry this one.
  ValidateCluster(*c, fmt::format("{} {} ({})", option, gpus, c->source));
  if (c->file_nodes == 0 || c->nodes <= c->file_nodes) return "";
  return fmt::format("{} gives \"nodes\": {} ({} {}); {} {} simulates {} nodes of the same kind",
                     c->source, c->file_nodes, c->file_nodes * c->node.gpus, unit, option, gpus, c->nodes);
}

void ValidateCluster(const ClusterSpec& c, const std::string& origin) {
  if (c.node.fabric == IntraNodeFabric::kPCIe && c.node.gpus % c.node.gpus_per_pcie_switch != 0) {
    throw InputError(fmt::format("{}: node.gpus ({}) must be a multiple of gpus_per_pcie_switch ({})",
                                 origin, c.node.gpus, c.node.gpus_per_pcie_switch));
  }
  // The cluster's GPUs are limited as --gpus is: a file of 2^20 nodes of 8 loaded, and failed
  // only when a command then used them all (QA, session 56).
  if (double(c.nodes) * c.node.gpus > kMaxSimulatedGpus) {
    throw InputError(fmt::format("{}: nodes x GPUs per node = {} GPUs is more than the {} plan-sim simulates "
                                 "(nodes {}, node.gpus {})", origin, double(c.nodes) * c.node.gpus, kMaxSimulatedGpus,
                                 c.nodes, c.node.gpus));
  }
  if (c.nodes > 1 && c.node.nics < 1) {
    throw InputError(fmt::format("{}: {} nodes but node.nics = 0 (must be in [1, 1024] when there is more "
                                 "than one node; a machine read from hwloc has no NIC of known speed, so describe "
                                 "its network in a JSON cluster file)", origin, c.nodes));
  }
  if (c.host) {
    if (c.host->ranks_per_node != c.node.gpus) {
      throw InputError(fmt::format("{}: calibration.ranks_per_node ({}) differs from node.gpus ({}); "
                                   "they are the same count (ranks per node)",
                                   origin, c.host->ranks_per_node, c.node.gpus));
    }
    CheckHostCalibrationSpan(*c.host, c.nodes, origin);
  }
}

namespace {

// "name (source)", or the name alone when it is the source (a cluster file without a "name").
std::string ClusterTitle(const ClusterSpec& c) {
  return c.name == c.source ? c.name : fmt::format("{} ({})", c.name, c.source);
}

}  // namespace

std::string ClusterSummary(const ClusterSpec& c) {
  if (c.host) {
    std::string s = fmt::format("cluster {}: {} node(s) x {} rank(s) = {} ranks of braid's host "
                                "runtime (CPU), {} NIC(s) per node\n",
                                ClusterTitle(c), c.nodes, c.node.gpus, c.total_gpus(), c.node.nics);
    s += HostCalibrationSummary(*c.host);
    s.pop_back();  // like the GPU summary: no final newline
    return s;
  }
  const bool nvs = c.node.fabric == IntraNodeFabric::kNVSwitch;
  std::string s = fmt::format("cluster {}: {} node(s) x {} GPU(s) = {} GPUs\n", ClusterTitle(c), c.nodes,
                              c.node.gpus, c.total_gpus());
  // 4 significant digits: a calibrated CPU rank's rate is a fraction of a TFLOP/s.
  s += fmt::format("  GPU {}: {:.4g} TFLOP/s {} dense, {:.0f} GB/s HBM, {:.4g} GiB ({:g} reserved), {} SMs; "
                   "efficiencies gemm {:.2f} attention {:.2f} memory {:.2f}\n",
                   c.gpu.name, c.gpu.peak_tflops, c.gpu.bf16 ? "bf16" : "fp16", c.gpu.hbm_GBps, c.gpu.memory_GiB, c.gpu.reserved_GiB, c.gpu.sms,
                   c.gpu.gemm_efficiency, c.gpu.attention_efficiency, c.gpu.memory_efficiency);
  s += fmt::format("  intra-node {}: {:.0f} GB/s per GPU per direction x {:.2f}, {:.1f} us{}{}\n",
                   nvs ? "NVSwitch" : "PCIe", c.node.intra_GBps, c.node.intra_efficiency,
                   c.node.intra_latency_us,
                   nvs ? "" : fmt::format(", {} GPUs per switch, socket link {:.0f} GB/s",
                                          c.node.gpus_per_pcie_switch, c.node.socket_link_GBps),
                   c.fabric_basis.empty() ? "" : " (" + c.fabric_basis + ")");
  if (c.node.nics == 0) {
    s += "  NICs: none (of known speed): one node only\n";
  } else {
    s += fmt::format("  NICs: {} x {:.0f} Gb/s ({:.1f} GB/s) x {:.2f}, {:.1f} us\n", c.node.nics,
                     c.node.nic_Gbps, c.nic_GBps(), c.node.nic_efficiency, c.node.nic_latency_us);
  }
  s += fmt::format("  network: {}, {} nodes per {}, oversubscription {:.1f}:1, {:.1f} us per switch",
                   c.network.topology == NetworkTopology::kFatTree ? "fat tree" : "rail-optimised",
                   c.network.nodes_per_leaf,
                   c.network.topology == NetworkTopology::kFatTree ? "leaf" : "rail group",
                   c.network.oversubscription, c.network.switch_latency_us);
  return s;
}

}  // namespace braid::sim
