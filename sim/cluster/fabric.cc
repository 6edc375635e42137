#include "sim/cluster/fabric.h"

#include <fmt/format.h>

#include <algorithm>

namespace braid::sim {
namespace {

constexpr double kBytesPerGB = 1e9;
constexpr double kSecondsPerUs = 1e-6;

const char* PortName(int port) {
  static const char* const kNames[] = {"gpu-tx", "gpu-rx", "pcie-switch-up", "pcie-switch-down",
                                       "socket-tx", "socket-rx", "nic-tx", "nic-rx", "tier-up",
                                       "tier-down", "cpu", "rank-tx", "rank-rx", "rank-duplex"};
  return kNames[port];
}

}  // namespace

Fabric::Fabric(const ClusterSpec& cluster, FlowNetwork* network)
    : cluster_(cluster), network_(network) {}

int Fabric::NicOf(int gpu) const {
  const NodeSpec& n = cluster_.node;
  return std::min(n.nics - 1, LocalIndex(gpu) * n.nics / n.gpus);
}

LinkId Fabric::Link(Port port, int owner, int index, double GBps, double latency_us) {
  auto key = std::make_tuple(static_cast<int>(port), owner, index);
  auto it = links_.find(key);
  if (it != links_.end()) return it->second;
  LinkId id = network_->AddLink(GBps * kBytesPerGB, latency_us * kSecondsPerUs,
                                fmt::format("{}[{}.{}]", PortName(static_cast<int>(port)), owner, index));
  links_.emplace(key, id);
  return id;
}

void Fabric::StartMessage(int from, int to, double bytes, Simulator::Callback on_done, int connection) {
  if (from == to) return network_->StartFlow({}, bytes, std::move(on_done));  // device-local
  if (cluster_.host) return StartHostMessage(from, to, bytes, std::move(on_done));
  GpuPair& pair = gpu_pairs_[{from, to, connection}];
  if (pair.path.empty()) {
    double own_latency_us = 0;
    pair.path = Path(from, to, &own_latency_us);
    pair.latency_s = own_latency_us * kSecondsPerUs;
    for (LinkId id : pair.path) pair.latency_s += network_->LinkLatency(id);
  }
  auto message = std::make_shared<GpuMessage>();
  message->bytes = bytes;
  message->on_done = std::move(on_done);
  pair.queue.push_back(message);
  network_->simulator()->After(pair.latency_s, [this, p = &pair, message] {
    message->ready = true;
    PumpGpuPair(p);
  });
}

void Fabric::PumpGpuPair(GpuPair* pair) {
  if (pair->draining || pair->queue.empty() || !pair->queue.front()->ready) return;
  pair->draining = true;
  std::shared_ptr<GpuMessage> m = std::move(pair->queue.front());
  pair->queue.pop_front();
  network_->StartFlow(pair->path, m->bytes, [this, pair, m] {
    pair->draining = false;
    PumpGpuPair(pair);
    m->on_done();
  }, /*pay_latency=*/false);
}

std::vector<LinkId> Fabric::Path(int from, int to, double* own_latency_us) {
  if (own_latency_us) *own_latency_us = 0;
  if (cluster_.host && from != to) {
    HostRoute route = HostRouteOf(from, to);
    route.send.insert(route.send.end(), route.receive.begin(), route.receive.end());
    return route.send;
  }
  const NodeSpec& n = cluster_.node;
  const NetworkSpec& net = cluster_.network;
  std::vector<LinkId> path;
  if (from == to) return path;  // several ranks on one GPU: a device-local copy
  const int node_a = NodeOf(from), node_b = NodeOf(to);
  if (node_a == node_b) {
    const double bw = n.intra_GBps * n.intra_efficiency;
    // The latency of a step is charged once, split over the two ports it crosses.
    path.push_back(Link(Port::kGpuTx, node_a, LocalIndex(from), bw, n.intra_latency_us / 2));
    if (n.fabric == IntraNodeFabric::kPCIe) {
      const int sw_a = LocalIndex(from) / n.gpus_per_pcie_switch;
      const int sw_b = LocalIndex(to) / n.gpus_per_pcie_switch;
      if (sw_a != sw_b) {
        path.push_back(Link(Port::kSwitchUp, node_a, sw_a, bw, 0));
        // Switches on different sockets (two switches per box: one per socket) cross the CPU link.
        path.push_back(Link(Port::kSocketTx, node_a, sw_a, n.socket_link_GBps * n.intra_efficiency, 0));
        path.push_back(Link(Port::kSwitchDown, node_a, sw_b, bw, 0));
      }
    }
    path.push_back(Link(Port::kGpuRx, node_b, LocalIndex(to), bw, n.intra_latency_us / 2));
    return path;
  }
  const double nic_bw = cluster_.nic_GBps() * n.nic_efficiency;
  const int nic_a = NicOf(from), nic_b = NicOf(to);
  path.push_back(Link(Port::kNicTx, node_a, nic_a, nic_bw, n.nic_latency_us / 2));
  // Which second-tier uplink (if any) the message crosses.
  bool cross_tier = false;
  int group_a = node_a / net.nodes_per_leaf, group_b = node_b / net.nodes_per_leaf;
  if (net.topology == NetworkTopology::kFatTree) {
    cross_tier = group_a != group_b;
  } else {
    // Rail-optimised: same-rail NICs meet at their rail switch; other rails go via the spine.
    cross_tier = nic_a != nic_b || group_a != group_b;
  }
  // A leaf's uplink carries what the NICs that feed it can send (a leaf's nodes_per_leaf x nics
  // NICs in a fat tree; its nodes_per_leaf NICs of one rail in a rail group), divided by the
  // oversubscription. It is a shared link only where it can limit anything (oversubscription
  // above 1). Otherwise no max-min share can reach its capacity, and leaving it out keeps the
  // flows of different nodes in separate components of the flow network (a 2048-GPU ring
  // all-reduce replay: 4.5 s with it, 0.6 s without); its two switch hops are then this path's
  // own latency, not a link's (the NIC's receive link is shared with paths inside the leaf, and
  // a link has one latency: whichever path made it first used to set it for all, QA session 50).
  if (cross_tier) {
    const double feeding = net.nodes_per_leaf * nic_bw * (net.topology == NetworkTopology::kFatTree ? n.nics : 1);
    const double uplink = feeding / net.oversubscription;
    if (uplink < feeding) {
      const int tier_a = group_a * n.nics + (net.topology == NetworkTopology::kFatTree ? 0 : nic_a);
      const int tier_b = group_b * n.nics + (net.topology == NetworkTopology::kFatTree ? 0 : nic_b);
      path.push_back(Link(Port::kTierUp, 0, tier_a, uplink, net.switch_latency_us));
      path.push_back(Link(Port::kTierDown, 0, tier_b, uplink, net.switch_latency_us));
    } else if (own_latency_us) {
      *own_latency_us += 2 * net.switch_latency_us;
    }
  }
  path.push_back(Link(Port::kNicRx, node_b, nic_b, nic_bw, n.nic_latency_us / 2 + net.switch_latency_us));
  return path;
}

double Fabric::PathBandwidthGBps(int from, int to) const {
  if (cluster_.host && from != to) return HostClass(from, to).GBps;
  const NodeSpec& n = cluster_.node;
  if (from == to) return cluster_.gpu.hbm_GBps * cluster_.gpu.memory_efficiency / 2;
  if (NodeOf(from) != NodeOf(to)) return cluster_.nic_GBps() * n.nic_efficiency;
  double bw = n.intra_GBps * n.intra_efficiency;
  if (n.fabric == IntraNodeFabric::kPCIe &&
      LocalIndex(from) / n.gpus_per_pcie_switch != LocalIndex(to) / n.gpus_per_pcie_switch) {
    bw = std::min(bw, n.socket_link_GBps * n.intra_efficiency);
  }
  return bw;
}

double Fabric::PathLatencyUs(int from, int to) const {
  if (cluster_.host && from != to) return HostClass(from, to).alpha_us;
  const NodeSpec& n = cluster_.node;
  if (from == to) return cluster_.gpu.kernel_overhead_us;
  if (NodeOf(from) == NodeOf(to)) return n.intra_latency_us;
  return n.nic_latency_us + 3 * cluster_.network.switch_latency_us;
}

}  // namespace braid::sim
