// The host-runtime half of Fabric (see fabric.h): CPU ranks whose cores copy every message and
// run every reduction, with calibrated per-class latencies and bandwidths.
#include <algorithm>
#include <memory>

#include "sim/cluster/cluster_internal.h"
#include "sim/cluster/fabric.h"

namespace braid::sim {
namespace {

// Index of a link class in the per-rank port keys.
enum HostClassIndex { kIntraClass = 0, kInterClass = 1 };

// GB/s of every rank's cpu link, in bytes of user buffer its copies and reductions stream: what
// the core streams in a memcpy at the working set (which reads one user buffer and writes
// another: 2 x copy_GBps; a message's copy touches one, its shared-memory side stays in cache),
// and no less than two opposite intra-node streams at bidir_GBps or a lone message of any class
// at its GBps. Those streams are held to bidir_GBps by the rank's duplex port, not by the core:
// with the core at two streams' worth an exchange saturated it and each ring step's reduction
// lengthened the step, where measured a 2-rank all-reduce ran as fast as its exchanges from
// 512 KiB to 32 MiB, the reductions hidden (docs/PERFORMANCE.md, session 48). That held while
// the exchanges waited on UCX's 8 KiB fragments. With 64 KiB ones they keep the core busy at
// 1-8 MiB and each reduction lengthens its step (session 66), which the memcpy rule cannot
// see: where calibrate measured a streaming reduce-scatter, the core streams core_GBps
// (HostCalibration::AtWorkingSet) instead.
double CpuGBps(const HostCalibration& host) {
  double GBps = host.core_GBps > 0 ? host.core_GBps : std::max(2 * host.Intra().bidir_GBps, 2 * host.copy_GBps);
  for (const auto& [name, c] : host.links) GBps = std::max(GBps, c.GBps);
  return GBps;
}

}  // namespace

const HostLinkClass& Fabric::HostClass(int from, int to) const {
  const HostCalibration& host = *cluster_.host;
  if (NodeOf(from) == NodeOf(to)) return host.Intra();
  CheckHostCalibrationSpan(host, cluster_.nodes, cluster_.source);
  return *host.Inter();
}

LinkId Fabric::Cpu(int rank) { return Link(Port::kCpu, rank, 0, CpuGBps(*cluster_.host), 0); }

Fabric::HostRoute Fabric::HostRouteOf(int from, int to) {
  const bool same_node = NodeOf(from) == NodeOf(to);
  const HostLinkClass& c = HostClass(from, to);
  const int index = same_node ? kIntraClass : kInterClass;
  HostRoute route;
  // A direction carries at most the faster of the one-way and the two-way per-direction rates
  // (both measured); the rank's duplex port of the class is what two opposite streams share,
  // and its cpu link what they share with the rank's reductions and copies.
  const double direction_GBps = std::max(c.GBps, c.bidir_GBps);
  const double duplex_GBps = std::max(2 * c.bidir_GBps, c.GBps);
  route.send = {Link(Port::kRankTx, from, index, direction_GBps, 0),
                Link(Port::kRankDuplex, from, index, duplex_GBps, 0), Cpu(from)};
  route.receive = {Cpu(to), Link(Port::kRankDuplex, to, index, duplex_GBps, 0),
                   Link(Port::kRankRx, to, index, direction_GBps, 0)};
  if (!same_node) {
    route.send.push_back(Link(Port::kNicTx, NodeOf(from), NicOf(from), c.GBps, 0));
    route.receive.insert(route.receive.begin(), Link(Port::kNicRx, NodeOf(to), NicOf(to), c.GBps, 0));
  }
  return route;
}

void Fabric::StartHostMessage(int from, int to, double bytes, Simulator::Callback on_done) {
  HostPair& pair = pairs_[{from, to}];
  if (pair.route.send.empty()) pair.route = HostRouteOf(from, to);
  const HostLinkClass& c = HostClass(from, to);
  auto message = std::make_shared<HostMessage>();
  message->bytes = bytes;
  message->wait = c.FixedSeconds(bytes);
  message->on_done = std::move(on_done);
  pair.to_send.push_back(message);
  // The fixed cost runs while earlier messages of the pair still copy (the runtime keeps a
  // window of them in flight); the copies themselves go in order. Measured from exchanges, the
  // smallest exchange's fixed cost (an 8 B message: matching, the call into UCX, the wake-up) is
  // work of the sender's core, which one thread shares with the rank's other messages and
  // reductions; what a larger exchange adds to it (an eager message's fragments through the
  // FIFO, a rendezvous handshake) is a wait that messages in flight overlap. Charged all on the
  // core, four 64 KiB slices in flight cost four isolated exchanges, and a 2-rank 512 KiB ring
  // replayed 1.6x the measured time (docs/PERFORMANCE.md, session 47). The fitted one-message
  // time is half a ping-pong round trip, mostly the receiver waking and the wire: it only waits.
  auto ready = [this, p = &pair, message] {
    message->ready = true;
    PumpSends(p);
  };
  if (c.exchange_points.empty()) {
    network_->simulator()->After(message->wait, ready);
    return;
  }
  const double cpu = std::min(message->wait, c.FixedSeconds(0));
  const double wait = message->wait - cpu;
  auto then_wait = [this, wait, ready] {
    if (wait > 0) network_->simulator()->After(wait, ready);
    else ready();
  };
  if (cpu > 0) RunOnCpu(from, cpu, then_wait);
  else then_wait();
}

void Fabric::PumpSends(HostPair* pair) {
  if (pair->sending || pair->to_send.empty() || !pair->to_send.front()->ready) return;
  pair->sending = true;
  std::shared_ptr<HostMessage> m = std::move(pair->to_send.front());
  pair->to_send.pop_front();
  // The receiver copies out as soon as the first bytes are in shared memory.
  pair->to_receive.push_back(m);
  network_->StartFlow(pair->route.send, m->bytes, [this, pair, m] {
    pair->sending = false;
    PumpSends(pair);
    Copied(m);
  });
  PumpReceives(pair);
}

void Fabric::PumpReceives(HostPair* pair) {
  if (pair->receiving || pair->to_receive.empty()) return;
  pair->receiving = true;
  std::shared_ptr<HostMessage> m = std::move(pair->to_receive.front());
  pair->to_receive.pop_front();
  network_->StartFlow(pair->route.receive, m->bytes, [this, pair, m] {
    pair->receiving = false;
    PumpReceives(pair);
    Copied(m);
  });
}

void Fabric::Copied(const std::shared_ptr<HostMessage>& m) {
  if (--m->copies_left == 0) m->on_done();
}

void Fabric::RunOnCpu(int rank, double seconds_alone, Simulator::Callback on_done) {
  // As many bytes as the cpu link drains in `seconds_alone` at its full capacity.
  const LinkId cpu = Cpu(rank);
  network_->StartFlow({cpu}, seconds_alone * network_->LinkBandwidth(cpu), std::move(on_done));
}

}  // namespace braid::sim
