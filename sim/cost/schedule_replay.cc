#include "sim/cost/schedule_replay.h"

#include <fmt/format.h>

#include <algorithm>
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
    engine_of_.resize(ranks.size());
    for (size_t i = 0; i < ranks.size(); ++i) {
      const ReplayRank& r = ranks[i];
      RankState& s = states_[i];
      const auto& ops = r.schedule.ops;
      // Dependents in one array per rank (CSR): first_dependent[k] .. first_dependent[k + 1].
      s.waiting.resize(ops.size());
      s.first_dependent.assign(ops.size() + 1, 0);
      for (size_t k = 0; k < ops.size(); ++k) {
        s.waiting[k] = ops[k].num_deps;
        for (int d = 0; d < ops[k].num_deps; ++d) ++s.first_dependent[ops[k].deps[d] + 1];
      }
      for (size_t k = 0; k < ops.size(); ++k) s.first_dependent[k + 1] += s.first_dependent[k];
      s.dependents.resize(s.first_dependent[ops.size()]);
      std::vector<uint32_t> filled(s.first_dependent.begin(), s.first_dependent.end() - 1);
      for (size_t k = 0; k < ops.size(); ++k) {
        for (int d = 0; d < ops[k].num_deps; ++d) s.dependents[filled[ops[k].deps[d]]++] = uint32_t(k);
      }
      std::unique_ptr<SerialResource>& engine = engines_[r.gpu];
      if (!engine) engine = std::make_unique<SerialResource>(&sim_);
      engine_of_[i] = engine.get();
    }
    PairSendsWithReceives();
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
    if (unmatched_ > 0) {
      throw std::logic_error(fmt::format("schedule replay: {} unmatched send/receive(s)", unmatched_));
    }
    return result;
  }

 private:
  struct RankState {
    std::vector<uint16_t> waiting;          // unfinished dependencies per op
    std::vector<uint32_t> first_dependent;  // op k's dependents: dependents[first[k] .. first[k+1])
    std::vector<uint32_t> dependents;       // ops waiting on each op, op by op
  };
  // A send's or receive's partner op (rank index -1: none).
  struct Partner {
    int rank_index = -1;
    uint32_t op = 0;
  };

  // Pairs each send with its receive once, before the replay (a hash lookup per issued op was a
  // tenth of a 1T search): both sides sorted by (communicator, sender, receiver, tag), which a
  // send and its receive share, and walked together. Ops left without a partner never start and
  // are reported when the replay ends.
  void PairSendsWithReceives() {
    struct End {
      std::tuple<int, int, int, uint32_t> key;
      int rank_index;
      uint32_t op;
      bool operator<(const End& o) const { return std::tie(key, rank_index, op) < std::tie(o.key, o.rank_index, o.op); }
    };
    std::vector<End> sends, receives;
    partner_.resize(ranks_.size());
    posted_.resize(ranks_.size());
    for (size_t i = 0; i < ranks_.size(); ++i) {
      const ReplayRank& r = ranks_[i];
      const auto& ops = r.schedule.ops;
      partner_[i].assign(ops.size(), Partner{});
      posted_[i].assign(ops.size(), 0);
      for (size_t k = 0; k < ops.size(); ++k) {
        const coll::Op& op = ops[k];
        if (op.type == OpType::kSend) {
          sends.push_back({{r.communicator, r.rank, op.peer, op.tag}, int(i), uint32_t(k)});
        } else if (op.type == OpType::kRecv || op.type == OpType::kRecvReduce) {
          receives.push_back({{r.communicator, op.peer, r.rank, op.tag}, int(i), uint32_t(k)});
        }
      }
    }
    std::sort(sends.begin(), sends.end());
    std::sort(receives.begin(), receives.end());
    for (size_t a = 0, b = 0; a < sends.size() && b < receives.size();) {
      if (sends[a].key < receives[b].key) {
        ++a;
      } else if (receives[b].key < sends[a].key) {
        ++b;
      } else {
        partner_[size_t(sends[a].rank_index)][sends[a].op] = {receives[b].rank_index, receives[b].op};
        partner_[size_t(receives[b].rank_index)][receives[b].op] = {sends[a].rank_index, sends[a].op};
        ++a;
        ++b;
      }
    }
  }

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
        // The second of a pair to be issued starts the transfer.
        const Partner other = partner_[size_t(i)][k];
        if (other.rank_index < 0 || !posted_[size_t(other.rank_index)][other.op]) {
          posted_[size_t(i)][k] = 1;
          ++unmatched_;
          return;
        }
        --unmatched_;
        if (op.type == OpType::kSend) StartTransfer(i, k, other.rank_index, other.op);
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
    engine_of_[i]->Submit(traffic * bytes / mem_Bps_, done);
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
      engine_of_[si]->Submit(2 * bytes / mem_Bps_, done);
      return;
    }
    fabric_.StartMessage(from, to, bytes, done, ranks_[si].communicator);
  }

  void Complete(int i, uint32_t k) {
    RankState& s = states_[i];
    for (uint32_t j = s.first_dependent[k]; j < s.first_dependent[k + 1]; ++j) {
      const uint32_t d = s.dependents[j];
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
  std::vector<SerialResource*> engine_of_;                  // per rank: its GPU's engine
  std::vector<std::vector<Partner>> partner_;  // per rank and op: the other end of a send/receive
  std::vector<std::vector<uint8_t>> posted_;   // per rank and op: issued, its partner not yet
  size_t unmatched_ = 0;                       // issued sends/receives whose partner was not
  uint64_t flows_ = 0;
};

}  // namespace

ReplayResult ReplaySchedules(const ClusterSpec& cluster, const std::vector<ReplayRank>& ranks) {
  Replay replay(cluster, ranks);
  return replay.Run();
}

}  // namespace braid::sim
