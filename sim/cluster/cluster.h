// A training cluster: identical nodes of GPUs, their intra-node fabric (NVSwitch or PCIe), NICs
// and the network between nodes (leaf/spine fat tree or rail-optimised). Built from a preset,
// a JSON cluster file, an hwloc XML file or this machine (hwloc discovery).
//
// Units: bandwidths in GB/s (1e9 bytes/s) per direction unless the name says Gbps (1e9 bits/s);
// latencies in microseconds; compute in TFLOP/s (1e12 FLOP/s, dense bf16/fp16).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "braid/topology.h"
#include "sim/cluster/host_calibration.h"

namespace braid::sim {

struct GpuSpec {
  std::string name;
  double peak_tflops = 0;      // dense bf16/fp16 tensor-core peak
  bool bf16 = true;            // bf16 tensor cores (Ampere on); V100 has fp16 only
  double hbm_GBps = 0;         // memory bandwidth (datasheet)
  double memory_GiB = 0;       // usable HBM capacity
  int sms = 0;                 // streaming multiprocessors (wave quantisation of GEMM tiles)
  // Achievable fractions of the datasheet (defaults: our H100 measurements, see docs/PERFORMANCE.md
  // and ../shared/data/h100_baselines.md; overridable per cluster file). Every preset uses them,
  // the A100's too: the one A100 GEMM measurement found (85.9% of peak at the best shape of a
  // search, CUDA 12.1, in the ml-engineering book's table, whose H100 figure matches ours) is of
  // later software than the 2021 runs the A100 preset is checked against (PERFORMANCE.md,
  // session 26).
  double gemm_efficiency = 0.80;       // large GEMM through cuBLAS: H100 779/989 at 8192^3
  double attention_efficiency = 0.55;  // fused attention (cuDNN / FlashAttention) of peak
  double memory_efficiency = 0.85;     // streaming kernels: H100 copy 2894 of 3350 GB/s
  double kernel_overhead_us = 4;       // launch + prologue/tail per kernel
  double reserved_GiB = 3;             // CUDA context, NCCL/braid buffers, allocator slack
};

enum class IntraNodeFabric { kNVSwitch, kPCIe };
enum class NetworkTopology { kFatTree, kRailOptimized };

struct NodeSpec {
  int gpus = 8;
  IntraNodeFabric fabric = IntraNodeFabric::kNVSwitch;
  double intra_GBps = 300;         // per GPU per direction: NVLink to the switch, or PCIe x16
  double intra_latency_us = 4;     // per message step on the intra-node fabric
  double intra_efficiency = 0.77;  // protocol efficiency (NCCL ring on NVSwitch: ~370 of 450)
  int gpus_per_pcie_switch = 4;    // PCIe boxes: GPUs sharing one switch uplink
  double socket_link_GBps = 40;    // PCIe boxes: CPU-to-CPU link crossed between switches
  int nics = 8;
  double nic_Gbps = 200;
  double nic_latency_us = 5;       // per message step through NIC + proxy
  double nic_efficiency = 0.90;
};

struct NetworkSpec {
  NetworkTopology topology = NetworkTopology::kFatTree;
  int nodes_per_leaf = 16;         // fat tree: nodes under one leaf; rail: nodes per rail group
  double oversubscription = 1.0;   // leaf down : up bandwidth ratio (1 = full bisection)
  double switch_latency_us = 1.0;  // per switch hop
};

struct ClusterSpec {
  std::string name;
  std::string source;  // "preset", a file path, or "hwloc"
  std::string fabric_basis;  // for a discovered node: how its intra-node fabric was inferred
  int nodes = 1;
  int file_nodes = 0;  // the "nodes" a cluster file gave (0: none given, or not a file)
  GpuSpec gpu;
  NodeSpec node;
  NetworkSpec network;
  // Set by a cluster file's "calibration" block: the "GPUs" are CPU ranks of braid's host
  // runtime, and collectives are costed with the calibrated CPU and link model instead of the
  // GPU fabric above (only node.gpus, node.nics and nodes still apply).
  std::optional<HostCalibration> host;

  int total_gpus() const { return nodes * node.gpus; }
  double nic_GBps() const { return node.nic_Gbps / 8.0; }
};

std::vector<std::string> ClusterPresetNames();
std::vector<std::string> GpuPresetNames();
GpuSpec GpuPreset(const std::string& name);  // "a100", "h100", ... (InputError if unknown)

// What --cluster names, read once (a pipe can be read only once): a preset name (neither
// member set), "this" (this machine through hwloc), an hwloc XML export (an .xml file, or a pipe
// whose text starts with '<': <(ssh node lstopo --of xml -)) or a JSON cluster file (a .json file
// or any other pipe: <(jq ... base.json)). InputError naming the source when it is none of these
// or cannot be read.
struct ClusterSource {
  std::string name;                        // as given
  std::optional<Topology> topology;        // "this" or an hwloc export
  std::shared_ptr<const nlohmann::json> document;  // a JSON cluster file
};
ClusterSource ReadClusterSource(const std::string& name_or_path);
// The cluster of a source: presets and discovered machines have one node until SizeForGpus() is
// called; JSON files may give "nodes".
ClusterSpec ClusterFromSource(const ClusterSource& source);
// ClusterFromSource(ReadClusterSource(name_or_path)).
ClusterSpec LoadCluster(const std::string& name_or_path);
ClusterSpec ClusterFromTopology(const Topology& topo, const std::string& source);

// Sets the node count for `gpus` GPUs (which must be a positive multiple of GPUs per node, or
// fewer than one node) and validates the resized cluster. Throws InputError naming the
// constraint and `option` (the flag that gave the count). Returns a note for the user when the
// cluster grows past the "nodes" its file gave (simulating more nodes of the same kind is
// allowed, but the file said otherwise), else "".
// The most GPUs (or ranks) one simulation takes: a million, 30x the largest published training job.
inline constexpr int kMaxSimulatedGpus = 1 << 20;

std::string SizeForGpus(ClusterSpec* cluster, int gpus, const std::string& option = "--gpus");

// InputError naming `origin` if the cluster cannot run as described (a node shape its fabric
// cannot hold, several nodes without NICs, a calibration that does not cover the node count).
// Called whenever a cluster is read from a file and whenever its node count changes.
void ValidateCluster(const ClusterSpec& cluster, const std::string& origin);
std::string ClusterSummary(const ClusterSpec& cluster);
// The cluster as a JSON cluster file (cluster_file.cc) with every field written out, no "base":
// LoadCluster on the written file gives the same cluster (but for its source).
nlohmann::json ClusterToJson(const ClusterSpec& cluster);

}  // namespace braid::sim
