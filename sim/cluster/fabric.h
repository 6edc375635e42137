// The cluster's links as FlowNetwork links, created on first use, and the path a message takes
// between two GPUs. Links are directional and per port, so max-min sharing reproduces the real
// contention points: a GPU's NVLink/PCIe port, a PCIe switch uplink, the CPU socket link, a NIC,
// a leaf (or rail group) uplink to the spine.
#pragma once

#include <map>
#include <tuple>
#include <vector>

#include "sim/cluster/cluster.h"
#include "sim/engine/flow_network.h"

namespace braid::sim {

class Fabric {
 public:
  Fabric(const ClusterSpec& cluster, FlowNetwork* network);

  // GPUs are numbered 0 .. total_gpus()-1, node-major (gpu / gpus_per_node = node).
  std::vector<LinkId> Path(int from_gpu, int to_gpu);

  int NodeOf(int gpu) const { return gpu / cluster_.node.gpus; }
  int LocalIndex(int gpu) const { return gpu % cluster_.node.gpus; }
  int NicOf(int gpu) const;  // local NIC index nearest to the GPU

  // The link class a message between the two GPUs crosses, for the tuner's alpha-beta model:
  // effective bandwidth (GB/s) and latency (us) of its bottleneck hop.
  double PathBandwidthGBps(int from_gpu, int to_gpu) const;
  double PathLatencyUs(int from_gpu, int to_gpu) const;

 private:
  enum class Port { kGpuTx, kGpuRx, kSwitchUp, kSwitchDown, kSocketTx, kSocketRx, kNicTx, kNicRx,
                    kTierUp, kTierDown };
  LinkId Link(Port port, int owner, int index, double GBps, double latency_us);

  const ClusterSpec& cluster_;
  FlowNetwork* network_;
  std::map<std::tuple<int, int, int>, LinkId> links_;  // (port, owner, index) -> link
};

}  // namespace braid::sim
