#include "runtime/executor.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "braid/kernels/reduce.h"
#include "core/log.h"
#include "runtime/peer_name.h"
#include "runtime/progress.h"

namespace braid::runtime {
namespace {

using coll::BufferId;
using coll::Op;
using coll::OpType;
using transport::Request;

// How far past the first unissued op the executor looks for ready ops. Large enough to keep
// several slices of several steps in flight; small enough that a scan stays cheap.
constexpr size_t kIssueWindow = 64;

enum : uint8_t { kUnissued = 0, kInFlight = 1, kComplete = 2 };

struct Resolved {
  const std::byte* input;
  std::byte* output;
  std::byte* scratch;
  size_t elem_size;

  std::byte* Address(const coll::Region& r) const {
    switch (r.buffer) {
      case BufferId::kInput: return const_cast<std::byte*>(input) + r.offset * elem_size;
      case BufferId::kOutput: return output + r.offset * elem_size;
      case BufferId::kScratch: return scratch + r.offset * elem_size;
    }
    return nullptr;
  }
};

std::string DescribeOp(const Op& op, const ExecutionContext& ctx, size_t elem_size) {
  const char* kind = op.type == OpType::kSend ? "send to" : "receive from";
  size_t count = op.type == OpType::kSend ? op.src.count
                 : op.type == OpType::kRecv ? op.dst.count : op.tmp.count;
  return fmt::format("in {} #{}: waiting to {} {} ({} bytes, tag {})", ctx.what, ctx.seq, kind,
                     PeerName(op.peer, *ctx.world_ranks), count * elem_size, op.tag);
}

}  // namespace

void Executor::EnsureCapacity(size_t ops, int nranks) {
  requests_.Reserve(ops);
  state_.assign(ops, kUnissued);
  in_flight_.Reset(nranks);
}

void Executor::CancelPending(transport::Transport* net, uint32_t comm_id) {
  in_flight_.ForEach([&](uint32_t i) { net->CancelAfterFailure(&requests_[i], comm_id); });
  in_flight_.Clear();
}

Status Executor::Run(const coll::RankSchedule& schedule, const ExecutionBuffers& buffers,
                     const ExecutionContext& ctx) {
  const std::vector<Op>& ops = schedule.ops;
  const size_t n = ops.size();
  if (n == 0) return Status::Ok();
  EnsureCapacity(n, ctx.nranks);
  const size_t elem_size = DataTypeSize(ctx.type);
  const Resolved mem{static_cast<const std::byte*>(buffers.input),
                     static_cast<std::byte*>(buffers.output),
                     static_cast<std::byte*>(buffers.scratch), elem_size};
  transport::Transport* net = ctx.transport;
  const uint32_t me = uint32_t(net->rank());
  ProgressWaiter waiter(net, ctx.aborted, ctx.timeout_s, ctx.notices);

  size_t first_unissued = 0;
  size_t completed = 0;
  bool health_passed = false;  // the last idle pass was the waiter's health pass
  Status failure;

  auto deps_done = [&](const Op& op) {
    for (int d = 0; d < op.num_deps; ++d)
      if (state_[op.deps[d]] != kComplete) return false;
    return true;
  };
  auto finish_local = [&](size_t i) {
    state_[i] = kComplete;
    ++completed;
  };

  // Issues op i; local ops complete immediately. Returns non-OK if posting failed.
  auto issue = [&](size_t i) -> Status {
    const Op& op = ops[i];
    switch (op.type) {
      case OpType::kSend: {
        int peer = (*ctx.world_ranks)[op.peer];
        uint64_t tag = transport::MakeTag(ctx.comm_id, me, ctx.seq, false, op.tag);
        Request* req = &requests_[i];
        req->state.store(Request::State::kIdle, std::memory_order_relaxed);
        in_flight_.Add(uint32_t(i), op.peer, InFlight::Kind::kSend);  // before posting: it may throw
        if (Status s = net->PostSend(peer, tag, mem.Address(op.src), op.src.count * elem_size,
                                     transport::MemoryType::kHost, req);
            !s.ok()) {
          in_flight_.RemoveLast(op.peer, InFlight::Kind::kSend);
          return s;
        }
        state_[i] = kInFlight;
        return Status::Ok();
      }
      case OpType::kRecv:
      case OpType::kRecvReduce: {
        int peer = (*ctx.world_ranks)[op.peer];
        uint64_t tag = transport::MakeTag(ctx.comm_id, uint32_t(peer), ctx.seq, false, op.tag);
        const coll::Region& landing = op.type == OpType::kRecv ? op.dst : op.tmp;
        Request* req = &requests_[i];
        req->state.store(Request::State::kIdle, std::memory_order_relaxed);
        const InFlight::Kind kind = op.type == OpType::kRecv ? InFlight::Kind::kRecv : InFlight::Kind::kRecvReduce;
        in_flight_.Add(uint32_t(i), op.peer, kind);
        if (Status s = net->PostRecv(peer, tag, mem.Address(landing), landing.count * elem_size,
                                     transport::MemoryType::kHost, req);
            !s.ok()) {
          in_flight_.RemoveLast(op.peer, kind);
          return s;
        }
        state_[i] = kInFlight;
        return Status::Ok();
      }
      case OpType::kCopy: {
        std::byte* dst = mem.Address(op.dst);
        const std::byte* src = mem.Address(op.src);
        if (dst != src && op.dst.count) std::memcpy(dst, src, op.dst.count * elem_size);
        finish_local(i);
        return Status::Ok();
      }
      case OpType::kReduce: {
        kernels::ReduceHost(mem.Address(op.dst), mem.Address(op.src), mem.Address(op.tmp),
                            op.dst.count, ctx.type, ctx.op);
        finish_local(i);
        return Status::Ok();
      }
      case OpType::kFinalize: {
        if (ctx.op == RedOpKind::kAvg && op.dst.count) {
          std::byte* dst = mem.Address(op.dst);
          kernels::DivideHost(dst, dst, op.dst.count, ctx.type, uint64_t(ctx.nranks));
        }
        finish_local(i);
        return Status::Ok();
      }
    }
    return Status::Internal("unknown schedule op type");
  };

  // Completes op i whose transport request finished successfully.
  auto complete = [&](size_t i) {
    const Op& op = ops[i];
    if (op.type == OpType::kRecvReduce) {
      void* local = mem.Address(op.src);
      void* received = mem.Address(op.tmp);
      kernels::ReduceHost(mem.Address(op.dst), op.received_first ? received : local,
                          op.received_first ? local : received, op.dst.count, ctx.type, ctx.op);
    }
    state_[i] = kComplete;
    ++completed;
  };

  while (completed < n) {
    bool progressed = false;
    // Issue phase: every ready op in the window.
    while (first_unissued < n && state_[first_unissued] != kUnissued) ++first_unissued;
    size_t window_end = std::min(n, first_unissued + kIssueWindow);
    for (size_t i = first_unissued; i < window_end; ++i) {
      if (state_[i] != kUnissued || !deps_done(ops[i])) continue;
      failure = issue(i);
      if (!failure.ok()) break;
      progressed = true;
    }
    if (!failure.ok()) break;

    // Poll phase.
    if (net->Progress()) progressed = true;
    if (ctx.side.poll) {
      failure = ctx.side.poll(ctx.side.arg, &progressed);
      if (!failure.ok()) break;
    }
    uint32_t failed = 0;
    const bool transport_progressed = progressed;  // posting or the progress call moved something
    if (!in_flight_.Poll(
            [&](uint32_t i) {
              switch (requests_[i].state.load(std::memory_order_acquire)) {
                case Request::State::kDone:
                  complete(i);
                  progressed = true;
                  return InFlight::Test::kDone;
                case Request::State::kFailed: return InFlight::Test::kFailed;
                default: return InFlight::Test::kRunning;
              }
            },
            transport_progressed, health_passed, &failed)) {
      failure = requests_[failed].error;
      break;
    }

    health_passed = false;

    // The peers still owed a message, for the health pass.
    auto list_peers = [&](std::vector<int>* peers) {
      in_flight_.ForEach([&](uint32_t i) { peers->push_back((*ctx.world_ranks)[ops[i].peer]); });
      health_passed = true;
    };
    if (progressed) {
      waiter.Reset();
      // A long run of progress still watches for Abort and for dead peers.
      failure = waiter.Busy(list_peers);
      if (failure.ok()) continue;
    } else {
      // Nothing moved: wait politely, watching the health of every peer still owed a message.
      // The pass after a health pass tests every transfer in flight (InFlight tests the front of
      // each peer's queue on most passes).
      failure = waiter.Idle(list_peers);
    }
    if (!failure.ok()) {
      // Name the first request (in schedule order) that waited on the failed peer, else the first.
      const Op *oldest = nullptr, *on_failed = nullptr;
      in_flight_.ForEach([&](uint32_t i) {
        const Op* op = &ops[i];
        if (!oldest || op < oldest) oldest = op;
        if ((*ctx.world_ranks)[op->peer] == waiter.failed_peer() && (!on_failed || op < on_failed)) on_failed = op;
      });
      const Op* waited = on_failed ? on_failed : oldest;
      failure = failure.WithContext(waited ? DescribeOp(*waited, ctx, elem_size)
                                           : fmt::format("in {} #{}", ctx.what, ctx.seq));
      break;
    }
  }

  if (!failure.ok()) {
    // Nothing may touch the caller's buffers after we return.
    CancelPending(net, ctx.comm_id);
    return failure;
  }
  return Status::Ok();
}

}  // namespace braid::runtime
