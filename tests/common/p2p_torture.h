// A randomised torture of point-to-point traffic, with collectives mixed in.
//
// Every rank builds the same plan from a seed: rounds of operations in one global order, each a
// message (source, destination, size; self included) or a collective of all ranks. Each rank then
// runs its own share of a round and decides on its own, from a stream seeded with the seed and its
// rank, how: runs of consecutive operations go into one group (sometimes nested) or are blocking
// calls, and a group adds its operations in a shuffled order that keeps what must stay in order
// (messages to one peer, messages from one peer, the collectives). So a group of sends meets
// blocking receives, a blocking send meets a group's receive, packets meet lone messages, and
// sizes straddle the inline limits, the packet size and UCX's rendezvous threshold.
//
// Why no choice can deadlock: a rank takes its operations in global order and cuts them into
// consecutive runs, so everything in the runs before the one it is in has a smaller index. Take
// the smallest unfinished operation: every rank it involves has finished all of its own smaller
// ones, so each is blocking on it or has posted it in its current group; so it finishes.
//
// Every received byte and every reduced or broadcast element is checked.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "braid/comm.h"
#include "braid/status.h"

namespace braid::testing {

struct TortureOptions {
  int rounds = 20;
  int max_ops_per_round = 24;
  size_t max_message_bytes = 160 * 1024;  // above the shared-memory lane's 128 KiB rendezvous limit
  // A blocking Send to self within the inline limit completes only if the transport delivers it
  // eagerly (UCX does, the loopback test transport does not; p2p_engine.h).
  bool blocking_self = false;
  bool collectives = true;
  bool trace = false;  // print each rank's calls to stderr (to read a failing seed)
};

struct TortureOp {
  enum class Kind { kMessage, kAllReduce, kBroadcast, kReduce, kAllGather, kReduceScatter, kAllToAll };
  static constexpr int kKinds = 7;
  Kind kind = Kind::kMessage;
  int src = 0, dst = 0;  // a message
  size_t size = 0;       // a message: bytes; a collective: float32 elements per rank (its count)
  int root = 0;          // a broadcast or reduce
  bool in_place = false; // a collective: input and output share the buffer where the API allows
};

inline const char* TortureKindName(TortureOp::Kind kind) {
  static const char* const kNames[TortureOp::kKinds] = {"message",    "all-reduce",     "broadcast", "reduce",
                                                        "all-gather", "reduce-scatter", "all-to-all"};
  return kNames[int(kind)];
}

// Message sizes: empty, small, around the inline limits tested (1024, 4096, the default 8192),
// past them, up to the rendezvous range, and now and then a few MiB.
inline size_t TortureMessageSize(std::mt19937_64& rng, size_t max_bytes) {
  auto in = [&](size_t lo, size_t hi) { return std::min(max_bytes, lo + rng() % (hi - lo + 1)); };
  if (rng() % 64 == 0) return in(1 << 20, 3 << 20);
  switch (rng() % 8) {
    case 0: return rng() % 4 == 0 ? 0 : in(1, 8);
    case 1: return in(9, 200);
    case 2: return in(201, 1019);
    case 3: return in(1020, 1030);
    case 4: return rng() % 2 ? in(4090, 4100) : in(8186, 8198);
    case 5: return in(4101, 9000);
    case 6: return in(9001, 65536);
    default: return in(65537, max_bytes);
  }
}

inline std::vector<TortureOp> PlanTortureRound(std::mt19937_64& shared, int nranks, const TortureOptions& o) {
  std::vector<TortureOp> ops(1 + shared() % uint64_t(o.max_ops_per_round));
  for (TortureOp& op : ops) {
    if (o.collectives && shared() % 10 == 0) {
      op.kind = TortureOp::Kind(1 + shared() % (TortureOp::kKinds - 1));
      op.size = shared() % 16 == 0 ? 0 : 1 + shared() % 3000;
      op.root = int(shared() % uint64_t(nranks));
      op.in_place = shared() % 2 == 0;
      continue;
    }
    op.src = int(shared() % uint64_t(nranks));
    op.dst = int(shared() % uint64_t(nranks));
    op.size = TortureMessageSize(shared, o.max_message_bytes);
  }
  return ops;
}

// Byte k of message `index` of round `round`.
inline uint8_t TortureByte(int round, size_t index, size_t k) {
  return uint8_t(round * 131 + index * 31 + k * 7 + (k >> 8));
}
// Element i of rank r's input to a reduction: small integers, so every float32 sum is exact.
inline float TortureAddend(int round, int rank, size_t i) { return float((rank + 1) * int((i + size_t(round)) % 13)); }
// Element k of what rank `from` gives rank `to` in an all-gather or all-to-all (exact in float32).
inline float TortureBlock(int from, int to, size_t k) { return float(from * 1000 + to * 10 + int(k % 7)); }

// One rank's run of the plan. Returns "" or what went wrong, naming the seed, round and operation.
class TortureRank {
 public:
  TortureRank(Comm& comm, uint64_t seed, const TortureOptions& options)
      : comm_(comm), seed_(seed), o_(options), shared_(seed), local_(seed * 1000003 + uint64_t(comm.rank())) {}

  // What Check has verified so far on this rank: messages received and their bytes.
  size_t messages_checked() const { return messages_checked_; }
  size_t bytes_checked() const { return bytes_checked_; }

  std::string Run() {
    for (round_ = 0; round_ < o_.rounds; ++round_) {
      ops_ = PlanTortureRound(shared_, comm_.size(), o_);
      Prepare();
      if (std::string e = Execute(); !e.empty()) return e;
      if (std::string e = Check(); !e.empty()) return e;
    }
    return "";
  }

 private:
  // One call of a group or a blocking run: a message's send or receive half, or a collective.
  struct Call {
    size_t op;
    bool send;  // a message's send half (else its receive half)
  };

  bool Involved(const TortureOp& op) const {
    const int me = comm_.rank();
    return op.kind != TortureOp::Kind::kMessage || op.src == me || op.dst == me;
  }

  void Prepare() {
    const int me = comm_.rank();
    out_.assign(ops_.size(), {});
    in_.assign(ops_.size(), {});
    floats_in_.assign(ops_.size(), {});
    floats_out_.assign(ops_.size(), {});
    for (size_t i = 0; i < ops_.size(); ++i) {
      const TortureOp& op = ops_[i];
      if (op.kind == TortureOp::Kind::kMessage) {
        if (op.src == me) {
          out_[i].resize(op.size);
          for (size_t k = 0; k < op.size; ++k) out_[i][k] = TortureByte(round_, i, k);
        }
        if (op.dst == me) in_[i].assign(op.size, 0xee);
      } else {
        PrepareCollective(i);
      }
    }
  }

  // A collective's input (element count per rank x ranks for reduce-scatter and all-to-all) and
  // its output, poisoned; in place, the input is the output buffer (at this rank's block for an
  // all-gather), as the API defines it.
  void PrepareCollective(size_t i) {
    const TortureOp& op = ops_[i];
    const int me = comm_.rank(), n = comm_.size();
    const size_t count = op.size, all = count * size_t(n);
    std::vector<float>& in = floats_in_[i];
    std::vector<float>& out = floats_out_[i];
    switch (op.kind) {
      case TortureOp::Kind::kAllReduce:
      case TortureOp::Kind::kReduce:
        in.resize(count);
        for (size_t k = 0; k < count; ++k) in[k] = TortureAddend(round_, me, k);
        out.assign(count, -1.0f);
        break;
      case TortureOp::Kind::kBroadcast:
        in.resize(count);
        for (size_t k = 0; k < count; ++k) in[k] = float(TortureByte(round_, i, k));
        out.assign(count, -1.0f);
        break;
      case TortureOp::Kind::kAllGather:
        in.resize(count);
        for (size_t k = 0; k < count; ++k) in[k] = TortureBlock(me, 0, k);
        out.assign(all, -1.0f);
        break;
      case TortureOp::Kind::kReduceScatter:
        in.resize(all);
        for (size_t k = 0; k < all; ++k) in[k] = TortureAddend(round_, me, k);
        out.assign(count, -1.0f);
        break;
      case TortureOp::Kind::kAllToAll:
        in.resize(all);
        for (int to = 0; to < n; ++to)
          for (size_t k = 0; k < count; ++k) in[size_t(to) * count + k] = TortureBlock(me, to, k);
        out.assign(all, -1.0f);
        break;
      case TortureOp::Kind::kMessage: break;
    }
    if (!op.in_place) return;
    // In place: the output buffer holds the input (all-gather: at this rank's block).
    if (op.kind == TortureOp::Kind::kAllGather) {
      std::copy(in.begin(), in.end(), out.begin() + std::ptrdiff_t(size_t(me) * count));
    } else if (op.kind != TortureOp::Kind::kReduceScatter && op.kind != TortureOp::Kind::kAllToAll) {
      out = in;
    }
  }

  // The input pointer of a collective: the output buffer when in place.
  const float* InputOf(size_t i) const {
    const TortureOp& op = ops_[i];
    if (!op.in_place || op.kind == TortureOp::Kind::kReduceScatter || op.kind == TortureOp::Kind::kAllToAll)
      return floats_in_[i].data();
    if (op.kind == TortureOp::Kind::kAllGather)
      return floats_out_[i].data() + size_t(comm_.rank()) * op.size;
    return floats_out_[i].data();
  }

  // Element k of a collective's output on this rank, as it must be.
  float Expected(size_t i, size_t k) const {
    const TortureOp& op = ops_[i];
    const int me = comm_.rank(), n = comm_.size();
    const float ranks_sum = float(n * (n + 1) / 2);
    switch (op.kind) {
      case TortureOp::Kind::kAllReduce:
      case TortureOp::Kind::kReduce: return ranks_sum * TortureAddend(round_, 0, k);
      case TortureOp::Kind::kBroadcast: return float(TortureByte(round_, i, k));
      case TortureOp::Kind::kAllGather: return TortureBlock(int(k / op.size), 0, k % op.size);
      case TortureOp::Kind::kReduceScatter: return ranks_sum * TortureAddend(round_, 0, size_t(me) * op.size + k);
      case TortureOp::Kind::kAllToAll: return TortureBlock(int(k / op.size), me, k % op.size);
      case TortureOp::Kind::kMessage: break;
    }
    return 0;
  }

  std::string Where(size_t i) const {
    const TortureOp& op = ops_[i];
    std::string what = op.kind == TortureOp::Kind::kMessage
                           ? std::to_string(op.size) + " B from rank " + std::to_string(op.src) + " to rank " +
                                 std::to_string(op.dst)
                           : std::string(TortureKindName(op.kind)) + " of " + std::to_string(op.size) + " floats" +
                                 (op.in_place ? " in place" : "") + ", root " + std::to_string(op.root);
    return "seed " + std::to_string(seed_) + ", round " + std::to_string(round_) + ", op " + std::to_string(i) +
           " (" + what + ") on rank " + std::to_string(comm_.rank());
  }

  Status Issue(const Call& c) {
    const TortureOp& op = ops_[c.op];
    if (op.kind == TortureOp::Kind::kMessage) {
      return c.send ? comm_.Send(out_[c.op].data(), op.size, DataType::kUint8, op.dst)
                    : comm_.Recv(in_[c.op].data(), op.size, DataType::kUint8, op.src);
    }
    const float* in = InputOf(c.op);
    float* out = floats_out_[c.op].data();
    const RedOp sum{RedOpKind::kSum};
    switch (op.kind) {
      case TortureOp::Kind::kAllReduce: return comm_.AllReduce(in, out, op.size, DataType::kFloat32, sum);
      case TortureOp::Kind::kBroadcast: return comm_.Broadcast(in, out, op.size, DataType::kFloat32, op.root);
      case TortureOp::Kind::kReduce: return comm_.Reduce(in, out, op.size, DataType::kFloat32, sum, op.root);
      case TortureOp::Kind::kAllGather: return comm_.AllGather(in, out, op.size, DataType::kFloat32);
      case TortureOp::Kind::kReduceScatter: return comm_.ReduceScatter(in, out, op.size, DataType::kFloat32, sum);
      case TortureOp::Kind::kAllToAll: return comm_.AllToAll(in, out, op.size, DataType::kFloat32);
      case TortureOp::Kind::kMessage: break;
    }
    return Status::Internal("unknown torture op");
  }

  // This rank's calls for operations [first, last), in global order.
  std::vector<Call> CallsOf(size_t first, size_t last) const {
    const int me = comm_.rank();
    std::vector<Call> calls;
    for (size_t i = first; i < last; ++i) {
      const TortureOp& op = ops_[i];
      if (op.kind != TortureOp::Kind::kMessage) {
        calls.push_back({i, false});
        continue;
      }
      if (op.src == me) calls.push_back({i, true});
      if (op.dst == me) calls.push_back({i, false});
    }
    return calls;
  }

  // A random merge of the calls' ordered streams: sends to one peer, receives from one peer, and
  // the collectives each keep their order; everything else is shuffled.
  std::vector<Call> Shuffled(const std::vector<Call>& calls) {
    auto stream_of = [&](const Call& c) {
      const TortureOp& op = ops_[c.op];
      if (op.kind != TortureOp::Kind::kMessage) return 0;
      return c.send ? 1 + op.dst : 1 + comm_.size() + op.src;
    };
    std::vector<std::vector<Call>> streams(size_t(1 + 2 * comm_.size()));
    for (const Call& c : calls) streams[size_t(stream_of(c))].push_back(c);
    std::vector<size_t> next(streams.size(), 0);
    std::vector<Call> order;
    while (order.size() < calls.size()) {
      size_t s = size_t(local_() % streams.size());
      while (next[s] == streams[s].size()) s = (s + 1) % streams.size();
      order.push_back(streams[s][next[s]++]);
    }
    return order;
  }

  std::string Execute() {
    size_t i = 0;
    while (i < ops_.size()) {
      if (!Involved(ops_[i])) {
        ++i;
        continue;
      }
      // A run of 1..8 operations (counting those this rank is not part of) in one group, or one
      // blocking operation. A message to self goes blocking only where the transport allows.
      const TortureOp& op = ops_[i];
      const bool self = op.kind == TortureOp::Kind::kMessage && op.src == op.dst;
      const bool grouped = local_() % 2 == 0 || (self && !o_.blocking_self);
      const size_t last = grouped ? std::min(ops_.size(), i + 1 + size_t(local_() % 8)) : i + 1;
      std::vector<Call> calls = CallsOf(i, last);
      if (grouped) calls = Shuffled(calls);
      const int depth = grouped ? (local_() % 5 == 0 ? 2 : 1) : 0;  // sometimes a nested group
      if (o_.trace) Trace(calls, depth);
      for (int d = 0; d < depth; ++d)
        if (Status s = comm_.GroupStart(); !s.ok()) return Where(i) + ": GroupStart: " + s.ToString();
      for (const Call& c : calls) {
        if (Status s = Issue(c); !s.ok()) return Where(c.op) + (c.send ? ": send: " : ": receive: ") + s.ToString();
      }
      for (int d = 0; d < depth; ++d)
        if (Status s = comm_.GroupEnd(); !s.ok()) return Where(i) + ": GroupEnd: " + s.ToString();
      i = last;
    }
    return "";
  }

  void Trace(const std::vector<Call>& calls, int depth) const {
    std::string line = "rank " + std::to_string(comm_.rank()) + " round " + std::to_string(round_) +
                       (depth ? " group" + std::string(depth > 1 ? " (nested)" : "") + ":" : " blocking:");
    for (const Call& c : calls) {
      const TortureOp& op = ops_[c.op];
      line += " #" + std::to_string(c.op);
      if (op.kind == TortureOp::Kind::kMessage)
        line += (c.send ? " send " + std::to_string(op.size) + "->" + std::to_string(op.dst)
                        : " recv " + std::to_string(op.size) + "<-" + std::to_string(op.src));
      else
        line += std::string(" ") + TortureKindName(op.kind);
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  }

  std::string Check() {
    const int me = comm_.rank();
    for (size_t i = 0; i < ops_.size(); ++i) {
      const TortureOp& op = ops_[i];
      if (op.kind == TortureOp::Kind::kMessage) {
        if (op.dst != me) continue;
        for (size_t k = 0; k < op.size; ++k) {
          if (in_[i][k] == TortureByte(round_, i, k)) continue;
          return Where(i) + ": byte " + std::to_string(k) + " is " + std::to_string(in_[i][k]) + ", expected " +
                 std::to_string(TortureByte(round_, i, k));
        }
        ++messages_checked_;
        bytes_checked_ += op.size;
        continue;
      }
      if (op.kind == TortureOp::Kind::kReduce && op.root != me) continue;  // written on the root only
      const std::vector<float>& out = floats_out_[i];
      for (size_t k = 0; k < out.size(); ++k) {
        const float want = Expected(i, k);
        if (out[k] == want) continue;
        return Where(i) + ": element " + std::to_string(k) + " is " + std::to_string(out[k]) + ", expected " +
               std::to_string(want);
      }
    }
    return "";
  }

  Comm& comm_;
  const uint64_t seed_;
  const TortureOptions o_;
  std::mt19937_64 shared_;  // the plan: the same on every rank
  std::mt19937_64 local_;   // this rank's own choices
  int round_ = 0;
  std::vector<TortureOp> ops_;
  std::vector<std::vector<uint8_t>> out_, in_;
  std::vector<std::vector<float>> floats_in_, floats_out_;  // a collective's input and output
  size_t messages_checked_ = 0, bytes_checked_ = 0;
};

}  // namespace braid::testing
