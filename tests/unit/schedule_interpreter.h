// Test-only interpreter of collective schedules (collectives/schedule.h): runs every rank's
// schedule in one thread over a simulated rendezvous network, on double-valued data, and checks
// what the runtime's executor relies on:
//   - issue rules: an op is issued only after its deps completed, and only within `window` ops
//     of the rank's first unissued op (window 1 = strict in-order issue, the executor's worst
//     case); which rank moves next and which matched message completes next are random;
//   - rendezvous: a send completes only together with the matching receive (same sender,
//     receiver and tag); sizes must be equal; a tag is used once per (sender, receiver) pair;
//     tags < kMaxTag; no zero-length messages;
//   - deadlock: nothing issuable and nothing in flight that can complete -> error listing the
//     stuck ops;
//   - memory: regions inside their buffers (limits per rank; 0 where the buffer may be null),
//     no read of undefined data, no hazard (a region written while an in-flight op reads or
//     writes it, or read while an in-flight op writes it; in-place aliasing resolved as NCCL);
//   - reductions: receive-reduce combines (sum/prod/max/min; avg sums and kFinalize divides by
//     nranks), never mixing finalized with unfinalized data; every cell counts its finalizes.
// Units: counts/offsets in elements, as in schedule.h.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "collectives/schedule.h"

namespace braid::coll::testing {

enum class ReduceKind { kSum, kProd, kMax, kMin, kAvg };

inline const char* ReduceKindName(ReduceKind k) {
  switch (k) {
    case ReduceKind::kSum: return "sum";
    case ReduceKind::kProd: return "prod";
    case ReduceKind::kMax: return "max";
    case ReduceKind::kMin: return "min";
    case ReduceKind::kAvg: return "avg";
  }
  return "?";
}

struct Cell {
  double value = 0;
  int finalized = 0;  // kFinalize ops applied to this value (through every copy and message)
  bool defined = false;
};

// Elements of the caller's buffers one rank may touch; 0 where NCCL allows a null pointer
// (broadcast input off the root, reduce output off the root).
struct BufferSizes {
  size_t input = 0, output = 0;
};
inline BufferSizes UserBufferSizes(Collective c, int nranks, int rank, int root, size_t count) {
  const size_t all = count * size_t(nranks);
  switch (c) {
    case Collective::kAllReduce: return {count, count};
    case Collective::kReduceScatter: return {all, count};
    case Collective::kAllGather: return {count, all};
    case Collective::kBroadcast: return {rank == root ? count : 0, count};
    case Collective::kReduce: return {count, rank == root ? count : 0};
    case Collective::kAllToAll: return {all, all};
  }
  return {};
}

// One rank's memory. Storage 0 holds the input (and, in place, the shared user buffer),
// storage 1 the output, storage 2 the scratch; base/limit say where each BufferId lives.
struct RankMemory {
  std::vector<Cell> storage[3];
  int store_of[3] = {0, 1, 2};
  size_t base[3] = {0, 0, 0};
  size_t limit[3] = {0, 0, 0};

  Cell* At(BufferId id, size_t offset) {
    return &storage[store_of[int(id)]][base[int(id)] + offset];
  }
  std::vector<Cell> Output() const {
    const std::vector<Cell>& s = storage[store_of[int(BufferId::kOutput)]];
    size_t b = base[int(BufferId::kOutput)];
    return std::vector<Cell>(s.begin() + long(b), s.begin() + long(b + limit[int(BufferId::kOutput)]));
  }
};

// `in_place` aliases as NCCL defines: allreduce/broadcast/reduce input == output, reducescatter
// output == input + rank*count, allgather input == output + rank*count.
inline RankMemory MakeRankMemory(Collective c, int nranks, int rank, int root, size_t count,
                                 bool in_place, const std::vector<double>& input,
                                 size_t scratch_count) {
  BufferSizes sz = UserBufferSizes(c, nranks, rank, root, count);
  RankMemory m;
  m.limit[0] = sz.input;
  m.limit[1] = sz.output;
  m.limit[2] = scratch_count;
  m.storage[2].resize(scratch_count);
  auto fill = [&](std::vector<Cell>& s, size_t at) {
    for (size_t i = 0; i < input.size(); ++i) s[at + i] = {input[i], 0, true};
  };
  if (!in_place || c == Collective::kAllToAll) {
    m.storage[0].resize(sz.input);
    m.storage[1].resize(sz.output);
    fill(m.storage[0], 0);
  } else if (c == Collective::kAllGather) {
    m.storage[1].resize(sz.output);
    m.store_of[0] = 1;
    m.base[0] = size_t(rank) * count;
    fill(m.storage[1], m.base[0]);
  } else {  // one shared buffer holding the input; the output is all of it or block `rank`
    m.storage[0].resize(sz.input);
    fill(m.storage[0], 0);
    m.store_of[1] = 0;
    if (c == Collective::kReduceScatter) m.base[1] = size_t(rank) * count;
  }
  return m;
}

struct InterpretOptions {
  size_t window = 1;  // ops past the first unissued one that may be issued (1 = in order)
  uint64_t seed = 1;
  ReduceKind op = ReduceKind::kSum;
};

struct InterpretResult {
  bool ok = true;
  std::string error;
  size_t ops = 0;
  size_t messages = 0;
};

namespace detail {

inline std::string Describe(const Op& op, size_t index) {
  static const char* kNames[] = {"send", "recv", "recvreduce", "copy", "finalize", "reduce"};
  std::ostringstream s;
  s << "#" << index << " " << kNames[int(op.type)];
  if (op.type == OpType::kSend || op.type == OpType::kRecv || op.type == OpType::kRecvReduce)
    s << " peer " << op.peer << " tag " << op.tag;
  auto region = [&](const char* name, const Region& r) {
    static const char* kBuf[] = {"in", "out", "scratch"};
    s << " " << name << "=" << kBuf[int(r.buffer)] << "[" << r.offset << "+" << r.count << "]";
  };
  const bool reduces = op.type == OpType::kRecvReduce || op.type == OpType::kReduce;
  if (op.type == OpType::kSend || reduces || op.type == OpType::kCopy) region("src", op.src);
  if (op.type != OpType::kSend) region("dst", op.dst);
  if (reduces) region("tmp", op.tmp);
  return s.str();
}

class Interpreter {
 public:
  Interpreter(const std::vector<RankSchedule>& schedules, std::vector<RankMemory>* memory,
              const InterpretOptions& options)
      : sched_(schedules), mem_(*memory), opt_(options), n_(int(schedules.size())),
        rng_(options.seed) {}

  InterpretResult Run() {
    if (opt_.window == 0) opt_.window = 1;
    ranks_.resize(size_t(n_));
    size_t total = 0;
    for (int r = 0; r < n_ && ok(); ++r) total += Setup(r);
    result_.ops = total;
    messages_.reserve(total / 2 + 1);
    size_t completed_target = total;
    while (ok() && completed_ < completed_target) {
      size_t choices = eligible_.size() + matched_.size();
      if (choices == 0) {
        Deadlock();
        break;
      }
      size_t pick = std::uniform_int_distribution<size_t>(0, choices - 1)(rng_);
      if (pick < eligible_.size()) {
        auto [r, i] = eligible_[pick];
        eligible_[pick] = eligible_.back();
        eligible_.pop_back();
        Issue(r, i);
      } else {
        pick -= eligible_.size();
        uint64_t key = matched_[pick];
        matched_[pick] = matched_.back();
        matched_.pop_back();
        CompleteMessage(key);
      }
    }
    return result_;
  }

 private:
  struct Access {
    int store;
    size_t begin, end;
    bool write;
  };
  struct Accesses {  // at most three per op (receive-reduce: tmp, src, dst)
    Access a[3];
    int n = 0;
    const Access* begin() const { return a; }
    const Access* end() const { return a + n; }
  };
  struct RankState {
    std::vector<uint8_t> state;  // 0 unissued, 1 in flight, 2 complete
    std::vector<int> remaining;  // deps not yet complete
    std::vector<uint32_t> dep_start, dependents;  // CSR of reverse deps
    size_t first = 0, window_end = 0;
    std::vector<uint16_t> readers[3], writers[3];  // in-flight accesses per cell
    std::vector<uint32_t> in_flight;      // ops in flight, any order
    std::vector<uint32_t> in_flight_pos;  // op -> index in in_flight
  };
  struct Message {
    int sender = -1, receiver = -1;
    long send_op = -1, recv_op = -1;
    bool done = false;
  };

  bool ok() const { return result_.ok; }
  void Fail(int rank, std::string what) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.error = "rank " + std::to_string(rank) + ": " + what;
  }
  const Op& op(int r, size_t i) const { return sched_[size_t(r)].ops[i]; }

  bool CheckRegion(int r, size_t i, const char* name, const Region& reg) {
    size_t limit = mem_[size_t(r)].limit[int(reg.buffer)];
    if (reg.count > limit || reg.offset > limit - reg.count) {
      Fail(r, Describe(op(r, i), i) + ": " + name + " out of bounds (buffer has " +
                  std::to_string(limit) + " elements)");
      return false;
    }
    return true;
  }

  // Static checks of one op; returns false (after Fail) if malformed.
  bool CheckOp(int r, size_t i) {
    const Op& o = op(r, i);
    auto bad = [&](const char* why) {
      Fail(r, Describe(o, i) + ": " + why);
      return false;
    };
    if (o.num_deps > kMaxDeps) return bad("too many deps");
    for (int k = 0; k < o.num_deps; ++k)
      if (o.deps[k] >= i) return bad("dep on a later op");
    bool message = o.type == OpType::kSend || o.type == OpType::kRecv || o.type == OpType::kRecvReduce;
    if (message) {
      if (o.peer < 0 || o.peer >= n_ || o.peer == r) return bad("bad peer");
      if (o.tag >= kMaxTag) return bad("tag >= kMaxTag");
    }
    switch (o.type) {
      case OpType::kSend:
        if (o.src.count == 0) return bad("zero-length message");
        return CheckRegion(r, i, "src", o.src);
      case OpType::kRecv:
        if (o.dst.count == 0) return bad("zero-length message");
        return CheckRegion(r, i, "dst", o.dst);
      case OpType::kRecvReduce:
      case OpType::kReduce:
        if (o.tmp.count == 0) return bad(o.type == OpType::kReduce ? "empty reduce" : "zero-length message");
        if (o.tmp.buffer != BufferId::kScratch) return bad("tmp not in scratch");
        if (o.src.count != o.tmp.count || o.dst.count != o.tmp.count)
          return bad("src/dst/tmp counts differ");
        return CheckRegion(r, i, "src", o.src) && CheckRegion(r, i, "dst", o.dst) &&
               CheckRegion(r, i, "tmp", o.tmp);
      case OpType::kCopy:
        if (o.src.count != o.dst.count || o.dst.count == 0)
          return bad("copy counts differ or are zero");
        return CheckRegion(r, i, "src", o.src) && CheckRegion(r, i, "dst", o.dst);
      case OpType::kFinalize:
        if (o.dst.count == 0) return bad("empty finalize");
        return CheckRegion(r, i, "dst", o.dst);
    }
    return bad("unknown op type");
  }

  size_t Setup(int r) {
    RankState& s = ranks_[size_t(r)];
    const std::vector<Op>& ops = sched_[size_t(r)].ops;
    RankMemory& m = mem_[size_t(r)];
    if (m.storage[2].size() < sched_[size_t(r)].scratch_count)
      m.storage[2].resize(sched_[size_t(r)].scratch_count);
    m.limit[2] = sched_[size_t(r)].scratch_count;
    for (int k = 0; k < 3; ++k) {
      s.readers[k].assign(m.storage[k].size(), 0);
      s.writers[k].assign(m.storage[k].size(), 0);
    }
    s.state.assign(ops.size(), 0);
    s.in_flight_pos.assign(ops.size(), 0);
    s.remaining.assign(ops.size(), 0);
    s.dep_start.assign(ops.size() + 1, 0);
    for (size_t i = 0; i < ops.size(); ++i) {
      if (!CheckOp(r, i)) return 0;
      s.remaining[i] = ops[i].num_deps;
      for (int k = 0; k < ops[i].num_deps; ++k) ++s.dep_start[ops[i].deps[k] + 1];
    }
    for (size_t i = 0; i < ops.size(); ++i) s.dep_start[i + 1] += s.dep_start[i];
    s.dependents.resize(s.dep_start.back());
    std::vector<uint32_t> fill(s.dep_start.begin(), s.dep_start.end() - 1);
    for (size_t i = 0; i < ops.size(); ++i)
      for (int k = 0; k < ops[i].num_deps; ++k) s.dependents[fill[ops[i].deps[k]]++] = uint32_t(i);
    s.window_end = std::min(ops.size(), opt_.window);
    for (size_t i = 0; i < s.window_end; ++i)
      if (s.remaining[i] == 0) eligible_.push_back({r, i});
    return ops.size();
  }

  // The accesses an in-flight op makes; identical regions merge (write wins); partial overlap
  // between an op's own regions is an error.
  Accesses AsyncAccesses(int r, size_t i) {
    const Op& o = op(r, i);
    Accesses a;
    auto add = [&](const Region& reg, bool write) {
      RankMemory& m = mem_[size_t(r)];
      size_t b = m.base[int(reg.buffer)] + reg.offset;
      Access x{m.store_of[int(reg.buffer)], b, b + reg.count, write};
      for (int k = 0; k < a.n; ++k) {
        Access& y = a.a[k];
        if (y.store != x.store || y.end <= x.begin || x.end <= y.begin) continue;
        if (y.begin == x.begin && y.end == x.end) {
          y.write = y.write || write;
          return;
        }
        Fail(r, Describe(o, i) + ": its regions partially overlap");
      }
      a.a[a.n++] = x;
    };
    if (o.type == OpType::kSend) add(o.src, false);
    if (o.type == OpType::kRecv) add(o.dst, true);
    if (o.type == OpType::kRecvReduce) {
      add(o.tmp, true);
      add(o.src, false);
      add(o.dst, true);
    }
    return a;
  }

  std::string Culprit(int r, const Access& x) {
    for (uint32_t j : ranks_[size_t(r)].in_flight)
      for (const Access& y : AsyncAccesses(r, j))
        if (y.store == x.store && y.begin < x.end && x.begin < y.end && (x.write || y.write))
          return Describe(op(r, j), j);
    return "?";
  }

  // Checks an access against every in-flight op of rank r.
  void CheckAccess(int r, size_t i, const Access& x, const char* when) {
    RankState& s = ranks_[size_t(r)];
    for (size_t c = x.begin; c < x.end; ++c) {
      if (s.writers[x.store][c] || (x.write && s.readers[x.store][c])) {
        Fail(r, std::string("hazard: ") + Describe(op(r, i), i) + " " + when + " " +
                    (x.write ? "writes" : "reads") + " a region in use by in-flight " + Culprit(r, x));
        return;
      }
    }
  }

  void Register(int r, size_t i, int delta) {
    RankState& s = ranks_[size_t(r)];
    for (const Access& x : AsyncAccesses(r, i)) {
      if (delta > 0) CheckAccess(r, i, x, "(posting)");
      for (size_t c = x.begin; c < x.end; ++c)
        (x.write ? s.writers : s.readers)[x.store][c] += uint16_t(delta);
    }
    if (delta > 0) {
      s.in_flight_pos[i] = uint32_t(s.in_flight.size());
      s.in_flight.push_back(uint32_t(i));
    } else {
      uint32_t at = s.in_flight_pos[i];
      s.in_flight[at] = s.in_flight.back();
      s.in_flight_pos[s.in_flight[at]] = at;
      s.in_flight.pop_back();
    }
  }

  Access Instant(int r, const Region& reg, bool write) {
    RankMemory& m = mem_[size_t(r)];
    size_t b = m.base[int(reg.buffer)] + reg.offset;
    return {m.store_of[int(reg.buffer)], b, b + reg.count, write};
  }

  std::vector<Cell> Read(int r, size_t i, const Region& reg) {
    std::vector<Cell> v(reg.count);
    for (size_t k = 0; k < reg.count && ok(); ++k) {
      v[k] = *mem_[size_t(r)].At(reg.buffer, reg.offset + k);
      if (!v[k].defined) Fail(r, Describe(op(r, i), i) + ": reads undefined element " + std::to_string(k));
    }
    return v;
  }
  void Write(int r, const Region& reg, const std::vector<Cell>& v) {
    for (size_t k = 0; k < reg.count; ++k) *mem_[size_t(r)].At(reg.buffer, reg.offset + k) = v[k];
  }

  // Op i of rank r (kRecvReduce / kReduce) writes dst = op(src, received); false on failure.
  bool Fold(int r, size_t i, const std::vector<Cell>& received) {
    const Op& o = op(r, i);
    std::vector<Cell> a = Read(r, i, o.src);
    if (!ok()) return false;
    for (size_t k = 0; k < a.size(); ++k) {
      if (a[k].finalized != received[k].finalized) {
        Fail(r, Describe(o, i) + ": reduces finalized with unfinalized data");
        return false;
      }
      a[k].value = Combine(a[k].value, received[k].value);
    }
    Write(r, o.dst, a);
    return true;
  }

  double Combine(double a, double b) const {
    switch (opt_.op) {
      case ReduceKind::kProd: return a * b;
      case ReduceKind::kMax: return std::max(a, b);
      case ReduceKind::kMin: return std::min(a, b);
      default: return a + b;
    }
  }

  void Issue(int r, size_t i) {
    RankState& s = ranks_[size_t(r)];
    s.state[i] = 1;
    if (i == s.first) {
      while (s.first < s.state.size() && s.state[s.first] != 0) ++s.first;
      size_t end = std::min(s.state.size(), s.first + opt_.window);
      for (size_t j = s.window_end; j < end; ++j)
        if (s.state[j] == 0 && s.remaining[j] == 0) eligible_.push_back({r, j});
      s.window_end = std::max(s.window_end, end);
    }
    const Op& o = op(r, i);
    switch (o.type) {
      case OpType::kCopy: {
        Access src = Instant(r, o.src, false), dst = Instant(r, o.dst, true);
        if (src.store == dst.store && src.begin == dst.begin) {  // executor skips it
          Complete(r, i);
          return;
        }
        if (src.store == dst.store && src.begin < dst.end && dst.begin < src.end)
          return Fail(r, Describe(o, i) + ": copy regions partially overlap");
        CheckAccess(r, i, src, "(copy)");
        CheckAccess(r, i, dst, "(copy)");
        std::vector<Cell> v = Read(r, i, o.src);
        if (!ok()) return;
        Write(r, o.dst, v);
        Complete(r, i);
        return;
      }
      case OpType::kReduce: {
        CheckAccess(r, i, Instant(r, o.src, false), "(reduce)");
        CheckAccess(r, i, Instant(r, o.tmp, false), "(reduce)");
        CheckAccess(r, i, Instant(r, o.dst, true), "(reduce)");
        if (!Fold(r, i, Read(r, i, o.tmp))) return;
        Complete(r, i);
        return;
      }
      case OpType::kFinalize: {
        CheckAccess(r, i, Instant(r, o.dst, true), "(finalize)");
        std::vector<Cell> v = Read(r, i, o.dst);
        if (!ok()) return;
        for (Cell& c : v) {
          if (opt_.op == ReduceKind::kAvg) c.value /= double(n_);
          ++c.finalized;
        }
        Write(r, o.dst, v);
        Complete(r, i);
        return;
      }
      default: break;
    }
    Register(r, i, +1);
    if (!ok()) return;
    const bool send = o.type == OpType::kSend;
    const int sender = send ? r : o.peer, receiver = send ? o.peer : r;
    uint64_t key = ((uint64_t(sender) * uint64_t(n_) + uint64_t(receiver)) << 20) | o.tag;
    Message& msg = messages_[key];
    long& slot = send ? msg.send_op : msg.recv_op;
    if (slot >= 0 || msg.done)
      return Fail(r, Describe(o, i) + ": tag reused on (" + std::to_string(sender) + " -> " +
                         std::to_string(receiver) + ")");
    slot = long(i);
    msg.sender = sender;
    msg.receiver = receiver;
    if (msg.send_op >= 0 && msg.recv_op >= 0) {
      const Op& so = op(sender, size_t(msg.send_op));
      const Op& ro = op(receiver, size_t(msg.recv_op));
      size_t rcount = ro.type == OpType::kRecv ? ro.dst.count : ro.tmp.count;
      if (so.src.count != rcount)
        return Fail(r, "size mismatch: rank " + std::to_string(sender) + " " +
                           Describe(so, size_t(msg.send_op)) + " vs rank " +
                           std::to_string(receiver) + " " + Describe(ro, size_t(msg.recv_op)));
      matched_.push_back(key);
    }
  }

  void CompleteMessage(uint64_t key) {
    Message& msg = messages_[key];
    const int s = msg.sender, d = msg.receiver;
    const size_t si = size_t(msg.send_op), di = size_t(msg.recv_op);
    const Op& so = op(s, si);
    const Op& ro = op(d, di);
    Register(s, si, -1);
    Register(d, di, -1);
    std::vector<Cell> data = Read(s, si, so.src);
    if (!ok()) return;
    ++result_.messages;
    if (ro.type == OpType::kRecv) {
      Write(d, ro.dst, data);
    } else {
      Write(d, ro.tmp, data);
      // The reduce runs now, at completion: its reads and write must not race in-flight ops.
      CheckAccess(d, di, Instant(d, ro.src, false), "(reducing)");
      CheckAccess(d, di, Instant(d, ro.dst, true), "(reducing)");
      if (!Fold(d, di, data)) return;
    }
    msg.done = true;
    msg.send_op = msg.recv_op = -1;
    Complete(s, si);
    Complete(d, di);
  }

  void Complete(int r, size_t i) {
    RankState& s = ranks_[size_t(r)];
    s.state[i] = 2;
    ++completed_;
    for (uint32_t k = s.dep_start[i]; k < s.dep_start[i + 1]; ++k) {
      uint32_t j = s.dependents[k];
      if (--s.remaining[j] == 0 && s.state[j] == 0 && j < s.window_end) eligible_.push_back({r, j});
    }
  }

  void Deadlock() {
    std::ostringstream out;
    out << "deadlock: no op can be issued or completed; stuck:";
    int lines = 0;
    for (int r = 0; r < n_ && lines < 40; ++r) {
      const RankState& s = ranks_[size_t(r)];
      if (s.first < s.state.size()) {
        out << "\n  rank " << r << " next " << Describe(op(r, s.first), s.first) << " waits on";
        const Op& o = op(r, s.first);
        for (int k = 0; k < o.num_deps; ++k)
          if (s.state[o.deps[k]] != 2) out << " " << Describe(op(r, o.deps[k]), o.deps[k]);
        ++lines;
      }
      for (uint32_t j : s.in_flight) {
        if (lines++ >= 40) break;
        out << "\n  rank " << r << " posted " << Describe(op(r, j), j) << " (unmatched)";
      }
    }
    result_.ok = false;
    result_.error = out.str();
  }

  const std::vector<RankSchedule>& sched_;
  std::vector<RankMemory>& mem_;
  InterpretOptions opt_;
  int n_;
  std::mt19937_64 rng_;
  std::vector<RankState> ranks_;
  std::vector<std::pair<int, size_t>> eligible_;
  std::vector<uint64_t> matched_;
  std::unordered_map<uint64_t, Message> messages_;
  size_t completed_ = 0;
  InterpretResult result_;
};

}  // namespace detail

// Runs all ranks' schedules (schedules[r] is rank r's) on `memory` (one per rank, from
// MakeRankMemory; scratch is sized from the schedules).
inline InterpretResult Interpret(const std::vector<RankSchedule>& schedules,
                                 std::vector<RankMemory>* memory, const InterpretOptions& options) {
  return detail::Interpreter(schedules, memory, options).Run();
}

// Static checks without running (for schedules too big to interpret): every op well formed and
// inside the given buffer sizes and its scratch, tags below kMaxTag and unique per (sender,
// receiver), and every send matched by exactly one receive of the same size. Returns "" if ok.
inline std::string CheckStatic(const std::vector<RankSchedule>& schedules,
                               const std::vector<BufferSizes>& sizes) {
  const uint64_t n = schedules.size();
  std::unordered_map<uint64_t, std::pair<long long, long long>> sends;  // key -> (count, count)
  auto in = [](const Region& reg, size_t limit) {
    return reg.count <= limit && reg.offset <= limit - reg.count;
  };
  for (uint64_t r = 0; r < n; ++r) {
    const RankSchedule& s = schedules[r];
    size_t limits[3] = {sizes[r].input, sizes[r].output, s.scratch_count};
    for (size_t i = 0; i < s.ops.size(); ++i) {
      const Op& o = s.ops[i];
      auto where = [&] { return "rank " + std::to_string(r) + " " + detail::Describe(o, i); };
      if (o.num_deps > kMaxDeps) return where() + ": too many deps";
      for (int k = 0; k < o.num_deps; ++k)
        if (o.deps[k] >= i) return where() + ": forward dep";
      const bool reduces = o.type == OpType::kRecvReduce || o.type == OpType::kReduce;
      bool has_src = o.type == OpType::kSend || reduces || o.type == OpType::kCopy;
      bool has_dst = o.type != OpType::kSend;
      if (has_src && !in(o.src, limits[int(o.src.buffer)])) return where() + ": src out of bounds";
      if (has_dst && !in(o.dst, limits[int(o.dst.buffer)])) return where() + ": dst out of bounds";
      if (reduces && (o.tmp.buffer != BufferId::kScratch || !in(o.tmp, limits[2])))
        return where() + ": tmp out of scratch";
      if (o.type == OpType::kCopy || o.type == OpType::kFinalize || o.type == OpType::kReduce) continue;
      if (o.tag >= kMaxTag) return where() + ": tag >= kMaxTag";
      if (o.peer < 0 || uint64_t(o.peer) >= n || uint64_t(o.peer) == r) return where() + ": bad peer";
      bool send = o.type == OpType::kSend;
      uint64_t a = send ? r : uint64_t(o.peer), b = send ? uint64_t(o.peer) : r;
      uint64_t key = ((a * n + b) << 20) | o.tag;
      auto& e = sends.try_emplace(key, -1, -1).first->second;
      long long& mine = send ? e.first : e.second;
      if (mine >= 0) return where() + ": tag reused";
      mine = (long long)(send ? o.src.count : o.type == OpType::kRecv ? o.dst.count : o.tmp.count);
      if (mine == 0) return where() + ": zero-length message";
    }
  }
  for (const auto& [key, e] : sends) {
    if (e.first != e.second)
      return "message " + std::to_string(key >> 20) + "/tag " + std::to_string(key & (kMaxTag - 1)) +
             ": send count " + std::to_string(e.first) + " vs receive count " +
             std::to_string(e.second) + " (-1 = missing)";
  }
  return "";
}

}  // namespace braid::coll::testing
