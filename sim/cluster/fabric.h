// The cluster's links as FlowNetwork links, created on first use, and the path a message takes
// between two GPUs. Links are directional and per port, so max-min sharing reproduces the real
// contention points: a GPU's NVLink/PCIe port, a PCIe switch uplink, the CPU socket link, a NIC,
// a leaf (or rail group) uplink to the spine.
//
// Host runtime (cluster.host set; see host_calibration.h; host_fabric.cc): a "GPU" is a CPU rank
// of braid's host runtime, whose core does all of its data movement: UCX copies a message into
// shared memory on the sender's core and out of it on the receiver's, and the executor reduces
// and copies on the same thread. So each rank has
//   - "cpu": one link of capacity C = max(2 copy_GBps, 2 bidir_GBps of the intra-node class,
//     every class's GBps), crossed by its local work (RunOnCpu) and by its copy of every message
//     it sends or receives: what the core streams of user buffers (a memcpy reads one and writes
//     one); the duplex port below, not the core, holds two opposite streams to
//     bidir_GBps each, and what the core has left runs the reductions beside them;
//   - "rank-tx" / "rank-rx": a port per direction and link class at the larger of the class's
//     GBps and bidir_GBps: a lone message drains at no less than either measured rate;
//   - "rank-duplex": a port per link class crossed by both directions, at the larger of
//     2 bidir_GBps and GBps: two opposite streams get bidir_GBps each (GBps / 2 each when that
//     is more), a lone one its GBps;
//   - between nodes also the node's NIC per direction at the inter-node GBps, shared by the
//     node's ranks.
// A message is two flows: the sender's copy [rank-tx, rank-duplex, cpu (, nic-tx)] and the
// receiver's copy [(nic-rx,) cpu, rank-duplex, rank-rx], which starts once the sender's has;
// it has arrived when both are done. Two flows, not one over both cores, because UCX's
// shared-memory FIFO (512 KiB by default, more than a slice) lets one side copy on while the
// other is busy reducing: one flow would tie every message to the busier core, and in a 2-rank
// ring the reductions would then alternate between the ranks and never overlap the copies
// (+12% at 256 MiB in the replay). Host ports carry no latency: the sender's copy starts after
// the calibrated per-message wait instead. The messages from one rank to another are copied
// one at a time, in the order they were matched, on each side (UCX keeps an endpoint's messages
// in order, and each rank's single executor thread does the copies); sharing the pair's
// bandwidth among all matched messages instead would let, say, a chain broadcast's slices all
// arrive together at the end, which kills its pipelining.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "sim/cluster/cluster.h"
#include "sim/engine/flow_network.h"

namespace braid::sim {

class Fabric {
 public:
  Fabric(const ClusterSpec& cluster, FlowNetwork* network);

  // GPUs are numbered 0 .. total_gpus()-1, node-major (gpu / gpus_per_node = node).
  // The links a message crosses; *own_latency_us (when given) gets the latency of hops that are
  // not links of the flow network (a tier that cannot limit bandwidth), which the path adds.
  std::vector<LinkId> Path(int from_gpu, int to_gpu, double* own_latency_us = nullptr);

  // Sends `bytes` from one GPU (rank) to another; `on_done` runs when the last byte arrived.
  // GPU fabrics: a flow on Path after the path's latency; the messages of one connection (a pair
  // of GPUs in one communicator, `connection`) drain one at a time in the order they were posted
  // (a connection's messages are ordered: UCX endpoints, NCCL's per-peer FIFO of steps), while
  // their latencies overlap. Sharing the pair's bandwidth among all its messages instead delays
  // every slice of a pipeline to the end (a 64 MiB tree all-reduce over 8 nodes replayed 1.6x
  // slower than its port-serialised estimate, and slower still with more slices in flight).
  // Connections of one pair share its links max-min fairly: NCCL's channels are separate
  // connections. (One queue per pair let a channel's backlog hold the others' slices back: a
  // 128 MiB chain broadcast over 16 H100s on 2 nodes, 8 channels, replayed its node-0 hops and
  // its NIC hop one after the other, 715 us, not overlapped, 493 us; session 61.) Host runtime
  // (one schedule per collective, `connection` unused): behind the pair's
  // earlier messages, the message waits its fixed cost (HostLinkClass::FixedSeconds), then its
  // two copies drain. Without exchange points a lone message takes exactly MessageSeconds; with
  // them an exchange (one message each way) takes the measured exchange time.
  void StartMessage(int from_gpu, int to_gpu, double bytes, Simulator::Callback on_done, int connection = 0);

  // Host runtime only: work on `rank`'s CPU that would take `seconds_alone` on an idle core (a
  // reduction, a memcpy); it shares the core max-min fairly with the rank's messages.
  void RunOnCpu(int rank, double seconds_alone, Simulator::Callback on_done);

  int NodeOf(int gpu) const { return gpu / cluster_.node.gpus; }
  int LocalIndex(int gpu) const { return gpu % cluster_.node.gpus; }
  int NicOf(int gpu) const;  // local NIC index nearest to the GPU

  // The link class a message between the two GPUs crosses, for the tuner's alpha-beta model:
  // effective bandwidth (GB/s) and latency (us) of its bottleneck hop.
  double PathBandwidthGBps(int from_gpu, int to_gpu) const;
  double PathLatencyUs(int from_gpu, int to_gpu) const;

 private:
  enum class Port { kGpuTx, kGpuRx, kSwitchUp, kSwitchDown, kSocketTx, kSocketRx, kNicTx, kNicRx,
                    kTierUp, kTierDown, kCpu, kRankTx, kRankRx, kRankDuplex };
  LinkId Link(Port port, int owner, int index, double GBps, double latency_us);

  // ---- host runtime (host_fabric.cc) ----
  // The links of the sender's and of the receiver's copy of a message.
  struct HostRoute {
    std::vector<LinkId> send, receive;
  };
  // The messages from one rank to another. Each waits its fixed latency from when it is posted
  // (the waits of messages in flight overlap); the sender copies them one at a time in order,
  // each once its wait is over; the receiver copies them one at a time in the same order, each
  // once its sender has started it. A message has arrived when both copies are done.
  struct HostMessage {
    double bytes = 0;
    double wait = 0;     // seconds from posting until the sender's copy may start
    bool ready = false;  // that wait is over (waits of messages in flight overlap)
    int copies_left = 2;
    Simulator::Callback on_done;
  };
  struct HostPair {
    HostRoute route;
    std::deque<std::shared_ptr<HostMessage>> to_send, to_receive;
    bool sending = false, receiving = false;  // a copy is under way
  };
  // The class between two ranks (InputError if they are on different nodes and no inter-node
  // class was calibrated).
  const HostLinkClass& HostClass(int from, int to) const;
  LinkId Cpu(int rank);
  HostRoute HostRouteOf(int from, int to);
  void StartHostMessage(int from, int to, double bytes, Simulator::Callback on_done);
  void PumpSends(HostPair* pair);
  void PumpReceives(HostPair* pair);
  void Copied(const std::shared_ptr<HostMessage>& message);

  // ---- GPU fabrics: one pair's messages, drained in order ----
  struct GpuMessage {
    double bytes = 0;
    bool ready = false;  // its latency has passed
    Simulator::Callback on_done;
  };
  struct GpuPair {
    std::vector<LinkId> path;
    double latency_s = 0;
    std::deque<std::shared_ptr<GpuMessage>> queue;  // posted, not yet draining
    bool draining = false;
  };
  void PumpGpuPair(GpuPair* pair);

  const ClusterSpec& cluster_;
  FlowNetwork* network_;
  std::map<std::tuple<int, int, int>, GpuPair> gpu_pairs_;  // (from, to, connection) -> its messages
  std::map<std::tuple<int, int, int>, LinkId> links_;  // (port, owner, index) -> link
  std::map<std::pair<int, int>, HostPair> pairs_;  // host runtime: (from, to) -> its messages
};

}  // namespace braid::sim
