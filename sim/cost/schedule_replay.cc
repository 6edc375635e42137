#include "sim/cost/schedule_replay.h"

#include <fmt/format.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <tuple>

#include "sim/cluster/fabric.h"
#include "sim/engine/flow_network.h"
#include "sim/engine/serial_resource.h"
#include "sim/engine/simulator.h"

namespace braid::sim {
namespace {

using coll::OpType;

class Replay {
 public:
  Replay(const ClusterSpec& cluster, const std::vector<ReplayRank>& ranks)
      : ranks_(ranks),
        host_(cluster.host ? &*cluster.host : nullptr),
        network_(&sim_),
        fabric_(cluster, &network_) {
    // Local work runs at streaming memory bandwidth: a reduce reads two operands and writes one.
    mem_Bps_ = cluster.gpu.hbm_GBps * 1e9 * cluster.gpu.memory_efficiency;
    states_.resize(ranks.size());
    for (size_t i = 0; i < ranks.size(); ++i) {
      const ReplayRank& r = ranks[i];
      RankState& s = states_[i];
      const auto& ops = r.schedule.ops;
      s.waiting.resize(ops.size());
      s.dependents.resize(ops.size());
      for (size_t k = 0; k < ops.size(); ++k) {
        s.waiting[k] = ops[k].num_deps;
        for (int d = 0; d < ops[k].num_deps; ++d) s.dependents[ops[k].deps[d]].push_back(uint32_t(k));
      }
      if (!engines_.count(r.gpu)) engines_[r.gpu] = std::make_unique<SerialResource>(&sim_);
    }
  }

  ReplayResult Run() {
    // Host runtime: each rank's call costs its fixed overhead before the first op is posted.
    const double overhead_s = host_ ? host_->call_overhead_us * 1e-6 : 0;
    for (size_t i = 0; i < ranks_.size(); ++i) {
      if (overhead_s > 0) {
        sim_.After(overhead_s, [this, i] { IssueReady(i); });
      } else {
        IssueReady(i);
      }
    }
    ReplayResult result;
    result.seconds = sim_.Run();
    result.flows = flows_;
    if (!pending_.empty()) {
      throw std::logic_error(fmt::format("schedule replay: {} unmatched send/receive(s)", pending_.size()));
    }
    return result;
  }

 private:
  struct RankState {
    std::vector<uint16_t> waiting;                 // unfinished dependencies per op
    std::vector<std::vector<uint32_t>> dependents;  // ops waiting on each op
  };
  // (communicator, sender rank, receiver rank, tag) -> the op issued first (sender or receiver).
  using MatchKey = std::tuple<int, int, int, uint32_t>;
  struct Posted {
    int rank_index;
    uint32_t op;
  };

  // Issues every op of rank i that waits on nothing.
  void IssueReady(size_t i) {
    const auto& ops = ranks_[i].schedule.ops;
    for (size_t k = 0; k < ops.size(); ++k) {
      if (states_[i].waiting[k] == 0) Issue(int(i), uint32_t(k));
    }
  }

  double Bytes(int i, const coll::Region& r) const { return double(r.count) * ranks_[i].elem_size; }

  void Issue(int i, uint32_t k) {
    const ReplayRank& r = ranks_[i];
    const coll::Op& op = r.schedule.ops[k];
    switch (op.type) {
      case OpType::kSend:
      case OpType::kRecv:
      case OpType::kRecvReduce: {
        const bool send = op.type == OpType::kSend;
        MatchKey key{r.communicator, send ? r.rank : op.peer, send ? op.peer : r.rank, op.tag};
        auto it = pending_.find(key);
        if (it == pending_.end()) {
          pending_.emplace(key, Posted{i, k});
          return;
        }
        Posted other = it->second;
        pending_.erase(it);
        if (send) StartTransfer(i, k, other.rank_index, other.op);
        else StartTransfer(other.rank_index, other.op, i, k);
        return;
      }
      case OpType::kCopy: {
        const bool same = op.src.buffer == op.dst.buffer && op.src.offset == op.dst.offset;
        if (same) return Complete(i, k);
        return RunLocal(i, k, LocalWork::kCopy, Bytes(i, op.dst));
      }
      case OpType::kReduce: return RunLocal(i, k, LocalWork::kReduce, Bytes(i, op.dst));
      case OpType::kFinalize:
        // The host executor divides only for avg; a GPU replay charges it regardless.
        if (host_ && !r.finalize_divides) return Complete(i, k);
        return RunLocal(i, k, LocalWork::kCopy, Bytes(i, op.dst));
    }
  }

  enum class LocalWork { kReduce, kCopy };

  // Local work producing `bytes` of output. GPU: streaming memory traffic on the GPU's serial
  // engine (a reduce reads two operands and writes one: 3x; a copy or divide reads one and
  // writes one: 2x). Host runtime: the rank's CPU at the calibrated reduce / copy throughput,
  // a reduction also paying its calibrated fixed cost.
  void RunLocal(int i, uint32_t k, LocalWork work, double bytes) {
    auto done = [this, i, k] { Complete(i, k); };
    if (host_) {
      const bool reduce = work == LocalWork::kReduce;
      const double seconds = bytes / ((reduce ? host_->reduce_GBps : host_->copy_GBps) * 1e9) +
                             (reduce ? host_->reduce_step_us * 1e-6 : 0);
      fabric_.RunOnCpu(ranks_[i].gpu, seconds, done);
      return;
    }
    const double traffic = work == LocalWork::kReduce ? 3 : 2;
    engines_[ranks_[i].gpu]->Submit(traffic * bytes / mem_Bps_, done);
  }

  void StartTransfer(int si, uint32_t sk, int ri, uint32_t rk) {
    const double bytes = Bytes(si, ranks_[si].schedule.ops[sk].src);
    ++flows_;
    auto done = [this, si, sk, ri, rk] {
      Complete(si, sk);
      const coll::Op& recv = ranks_[ri].schedule.ops[rk];
      if (recv.type == OpType::kRecvReduce) {
        RunLocal(ri, rk, LocalWork::kReduce, Bytes(ri, recv.dst));
      } else {
        Complete(ri, rk);
      }
    };
    const int from = ranks_[si].gpu, to = ranks_[ri].gpu;
    if (from == to) {
      // Two ranks on one GPU: the transfer is a device-local copy.
      engines_[from]->Submit(2 * bytes / mem_Bps_, done);
      return;
    }
    fabric_.StartMessage(from, to, bytes, done, ranks_[si].communicator);
  }

  void Complete(int i, uint32_t k) {
    RankState& s = states_[i];
    for (uint32_t d : s.dependents[k]) {
      if (--s.waiting[d] == 0) Issue(i, d);
    }
  }

  const std::vector<ReplayRank>& ranks_;
  const HostCalibration* host_;  // null: GPU fabric
  Simulator sim_;
  FlowNetwork network_;
  Fabric fabric_;
  double mem_Bps_ = 1;
  std::vector<RankState> states_;
  std::map<int, std::unique_ptr<SerialResource>> engines_;  // per GPU reduction engine
  std::map<MatchKey, Posted> pending_;
  uint64_t flows_ = 0;
};

}  // namespace

ReplayResult ReplaySchedules(const ClusterSpec& cluster, const std::vector<ReplayRank>& ranks) {
  Replay replay(cluster, ranks);
  return replay.Run();
}

}  // namespace braid::sim
