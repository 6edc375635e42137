#include "runtime/comm_impl.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <utility>

#include <fmt/format.h>

#include "braid/kernels/reduce.h"
#include "core/env.h"
#include "core/log.h"
#include "runtime/call_check.h"
#include "runtime/progress.h"
#include "runtime/tuner_file_cache.h"
#include "runtime/validate.h"
#include "transport/ucx/ucx_transport.h"

namespace braid {
namespace {

// Bounds the plan cache; a workload cycling through more shapes than this rebuilds plans.
constexpr size_t kMaxCachedPlans = 256;
// Point-to-point messages up to this size travel packed (runtime/p2p_packet.h). Since packets
// leave from the callers' buffers and land in them (sessions 64-65), a packed message of 1 KiB
// or more is copied no more often than a tagged one, and packing saves UCX's per-message cost:
// at 8 KiB, bw 0.95 -> 1.01 and bibw 0.87-0.91 -> 0.90-1.00 of raw UCX against a 4 KiB limit;
// 16 KiB messages were already above raw UCX tagged (docs/PERFORMANCE.md, session 65). Before
// that, packing copied each message twice more and 4 KiB was the best limit (session 20).
constexpr size_t kDefaultInlineBytes = 8192;
// Upper bound of BRAID_SLICE_BYTES (1 TiB): larger than any buffer, so every useful value fits.
constexpr long kMaxSliceBytes = 1l << 40;

std::string FormatBytes(size_t bytes) {
  if (bytes >= (1ull << 30) && bytes % (1ull << 30) == 0) return fmt::format("{}GiB", bytes >> 30);
  if (bytes >= (1ull << 20) && bytes % (1ull << 20) == 0) return fmt::format("{}MiB", bytes >> 20);
  if (bytes >= (1ull << 10) && bytes % (1ull << 10) == 0) return fmt::format("{}KiB", bytes >> 10);
  return fmt::format("{}B", bytes);
}

}  // namespace

Comm::Impl::~Impl() {
  // The last communicator on the transport leaves it with it, whose farewell tells the peers.
  if (Usable() && world_.use_count() > 1) notices_.AnnounceLeaving();
}

Comm::Impl::Impl(std::shared_ptr<runtime::World> world, std::vector<int> world_ranks, int rank,
                 uint32_t comm_id, const CommOptions& options)
    : world_(std::move(world)),
      world_ranks_(std::move(world_ranks)),
      rank_(rank),
      comm_id_(comm_id),
      options_(options),
      notices_(world_->transport.get(), &world_ranks_, rank_, comm_id_),
      p2p_(runtime::P2pContext{world_->transport.get(), &world_ranks_, comm_id_, &aborted_, options_.timeout_s,
                               &notices_},
           size_t(options_.p2p_inline_bytes)) {
  // Checked by ResolveOptions (the options reach here resolved): no error is left to report, only
  // what is left to the tuner, said here so that it appears once per communicator.
  std::vector<std::string> left_to_tuner;
  (void)runtime::ParseAlgorithmSetting(options_.algorithm, "CommOptions.algorithm", &allowed_algorithms_,
                                       &left_to_tuner);
  for (const std::string& list : left_to_tuner) {
    BRAID_INFO(kTune, "algorithm setting '{}': braid has none of the algorithms '{}' names; its tuner chooses",
               options_.algorithm, list);
  }
  if (world_->tuner) {
    std::vector<int> hosts;
    if (!world_->host_of_rank.empty()) {
      for (int r : world_ranks_) hosts.push_back(world_->host_of_rank[size_t(r)]);
    }
    link_ = coll::CalibratedLinkModel(*world_->tuner, hosts);
    BRAID_INFO(kTune, "tuner calibrated from {}: {} us, {} GB/s per message, reduce {} GB/s ({})", world_->tuner->path,
               link_.alpha_us, link_.bandwidth_GBps, link_.reduce_GBps, coll::DescribeTunerCalibration(*world_->tuner));
  }
}

std::unique_ptr<Comm> Comm::Impl::MakeComm(std::shared_ptr<runtime::World> world,
                                           std::vector<int> world_ranks, int rank,
                                           uint32_t comm_id, const CommOptions& options) {
  return std::make_unique<Comm>(
      std::make_unique<Impl>(std::move(world), std::move(world_ranks), rank, comm_id, options));
}

Status Comm::Impl::ResolveOptions(const CommOptions& in, CommOptions* out) {
  *out = in;
  if (out->timeout_s < 0) BRAID_RETURN_IF_ERROR(env::TimeoutSeconds(&out->timeout_s));
  if (!(out->timeout_s >= env::kMinTimeoutS && out->timeout_s <= env::kMaxTimeoutS)) {  // NaN too
    return Status::InvalidArgument(fmt::format("CommOptions.timeout_s={} out of range [{}, {}] seconds (or < 0 for "
                                               "BRAID_TIMEOUT)", out->timeout_s, env::kMinTimeoutS, env::kMaxTimeoutS));
  }
  std::string algorithm_source = "CommOptions.algorithm";
  if (out->algorithm.empty()) {
    if (std::optional<std::string> algo = env::Get("ALGO")) {
      out->algorithm = *algo;
      algorithm_source = env::VariableName("ALGO");  // BRAID_ALGO, or NCCL_ALGO when only that is set
    }
  }
  if (out->p2p_inline_bytes < 0) {
    BRAID_RETURN_IF_ERROR(env::GetInt("P2P_INLINE_BYTES", long(kDefaultInlineBytes), 0, long(runtime::kMaxInlineBytes),
                                      &out->p2p_inline_bytes));
  } else if (size_t(out->p2p_inline_bytes) > runtime::kMaxInlineBytes) {
    return Status::InvalidArgument(fmt::format("CommOptions.p2p_inline_bytes={} out of range [0, {}]",
                                               out->p2p_inline_bytes, runtime::kMaxInlineBytes));
  }
  if (out->check_calls < 0) {
    long check = 0;
    BRAID_RETURN_IF_ERROR(env::GetInt("CHECK_CALLS", 0, 0, 1, &check));
    out->check_calls = int(check);
  } else if (out->check_calls > 1) {
    return Status::InvalidArgument(fmt::format("CommOptions.check_calls={} must be 0, 1 or negative (BRAID_CHECK_CALLS)",
                                               out->check_calls));
  }
  if (out->slice_bytes == 0) {
    long slice = 0;  // 0: the tuner chooses
    BRAID_RETURN_IF_ERROR(env::GetInt("SLICE_BYTES", 0, 0, kMaxSliceBytes, &slice));
    out->slice_bytes = size_t(slice);
  } else if (out->slice_bytes > size_t(kMaxSliceBytes)) {  // as for BRAID_SLICE_BYTES
    return Status::InvalidArgument(fmt::format("CommOptions.slice_bytes={} out of range [0, {}]", out->slice_bytes,
                                               kMaxSliceBytes));
  }
  std::string tuner_source = "CommOptions.tuner_file";
  if (out->tuner_file.empty()) {
    out->tuner_file = env::Get("TUNER_FILE").value_or("");
    tuner_source = env::VariableName("TUNER_FILE");
  }
  if (!out->tuner_file.empty()) {  // read (and kept) here, so that a bad file fails before any peer is contacted
    std::shared_ptr<const coll::TunerCalibration> checked;
    BRAID_RETURN_IF_ERROR(runtime::LoadTunerFile(out->tuner_file, tuner_source, &checked));
  }
  BRAID_RETURN_IF_ERROR(runtime::LoadWaitPolicy());
  BRAID_RETURN_IF_ERROR(transport::UcxTransport::CheckKnobs());
  runtime::AllowedAlgorithms allowed;
  return runtime::ParseAlgorithmSetting(out->algorithm, algorithm_source, &allowed);
}

Status Comm::Impl::CheckUsable() const {
  if (aborted_.load(std::memory_order_relaxed))
    return Status::Aborted("communicator was aborted");
  if (!fatal_.ok()) return fatal_.WithContext("communicator failed earlier");
  return Status::Ok();
}

Status Comm::Impl::Fail(Status status) {
  if (!status.ok() && status.code() != StatusCode::kInvalidArgument && fatal_.ok()) {
    fatal_ = status;
    // A group's receives still posted could match a peer's send after our notice told the peer
    // that we stopped (it then lets that send's buffer go).
    if (group_depth_ > 0) p2p_.Cancel();
    notices_.Announce(status);
    SettleCancelledSends();
  }
  return status;
}

Status Comm::Impl::FailOutOfMemory(const char* call) {
  executor_.CancelPending(transport(), comm_id_);
  if (p2p_.open()) p2p_.Cancel();
  Status failure = Status::SystemError(std::string(call) + ": out of memory");
  try {
    return Fail(failure);
  } catch (const std::exception&) {  // memory still short (the notice's text and requests)
    if (fatal_.ok()) fatal_ = failure;
    try {
      SettleCancelledSends();  // allocates only to log a warning
    } catch (const std::exception&) {
    }
    return failure;
  }
}

void Comm::Impl::SettleCancelledSends() {
  // A peer that is waiting in a call sees our notice at its next health check (0.1 s), stops its
  // own requests (a matched receive of ours finishes, at most 2 s) and answers. Bounded by
  // BRAID_TIMEOUT too: who asked for a failure within a second does not wait five here.
  constexpr double kMaxSettleS = 5.0, kMinSettleS = 0.1;
  const auto bound = std::chrono::duration<double>(std::clamp(options_.timeout_s, kMinSettleS, kMaxSettleS));
  const auto deadline = std::chrono::steady_clock::now() + bound;
  transport::Transport* net = transport();
  auto stopped = [](void* self, int world_peer) { return static_cast<Impl*>(self)->notices_.Stopped(world_peer); };
  // Abort() promises a prompt return: it waits only while the sends keep finishing (live peers
  // draining eager sends that UCX would otherwise copy from the caller's buffers after the call
  // returned), not for peers that answer nothing. Peers that are failing too drain in bursts of
  // a queue's length (64) every ~40 ms, with gaps up to 0.17 s, on 2 shared cores (session 52):
  // 1 s without a finished send is a peer that has stopped draining.
  constexpr auto kAbortIdle = std::chrono::seconds(1);
  size_t left = SIZE_MAX;
  auto last_finished = std::chrono::steady_clock::now();
  auto give_up = [&] {
    const auto now = std::chrono::steady_clock::now();
    return now >= deadline || (aborted_.load(std::memory_order_relaxed) && now - last_finished >= kAbortIdle);
  };
  for (;;) {
    const size_t still = net->SettleCancelledSends(comm_id_, stopped, this, give_up());
    if (still == 0) break;
    if (still < left) last_finished = std::chrono::steady_clock::now();
    left = still;
    if (!net->Progress()) net->WaitForActivity(1000);
  }
}

void Comm::Impl::Abort() {
  aborted_.store(true, std::memory_order_relaxed);
  transport()->Interrupt();
  // The other members must hear of it whether or not a call is pending (else those waiting on
  // this rank wait for BRAID_TIMEOUT). A pending call fails with Aborted and tells them; between
  // calls nobody would, so Abort() does, holding the communicator as a call would.
  uint8_t state = call_state_.load(std::memory_order_relaxed);
  for (;;) {
    if (state & kHeld) {
      if (call_state_.compare_exchange_weak(state, state | kAbortSeen, std::memory_order_relaxed)) return;
    } else if (call_state_.compare_exchange_weak(state, kHeld, std::memory_order_acquire, std::memory_order_relaxed)) {
      AnnounceAbort();
      call_state_.store(0, std::memory_order_release);
      return;
    }
  }
}

void Comm::Impl::AnnounceAbort() noexcept {
  try {
    (void)Fail(Status::Aborted("communicator was aborted"));  // no-op once it failed (and told them)
  } catch (const std::exception&) {  // out of memory for the notice: the members time out instead
  }
}

Status Comm::Impl::PlanFor(const coll::ScheduleRequest& request, const CachedPlan** plan) {
  CacheKey key{int(request.collective), request.count, request.root, request.in_place,
               request.elem_size};
  if (auto it = plan_cache_.find(key); it != plan_cache_.end()) {
    *plan = &it->second;
    return Status::Ok();
  }
  if (plan_cache_.size() >= kMaxCachedPlans) plan_cache_.clear();
  CachedPlan fresh;
  fresh.choice = coll::Choose(request, link_, allowed_algorithms_[size_t(request.collective)]);
  if (options_.slice_bytes) fresh.choice.slice_bytes = options_.slice_bytes;
  coll::ScheduleRequest built = request;
  built.algorithm = fresh.choice.algorithm;
  built.slice_bytes = fresh.choice.slice_bytes;
  std::string error;
  if (!coll::BuildSchedule(built, &fresh.schedule, &error))
    return Status::Internal("building the schedule failed: " + error);
  // The builders widen a slice that would need more tags than a collective has: say so.
  size_t largest = 0;
  for (const coll::Op& op : fresh.schedule.ops)
    if (op.type == coll::OpType::kSend) largest = std::max(largest, op.src.count * request.elem_size);
  BRAID_INFO(kTune, "{} {} x{} ranks: {}, slices of {} (largest message {}), {} ops; {}",
             coll::CollectiveName(request.collective), FormatBytes(request.count * request.elem_size),
             request.nranks, coll::AlgorithmName(fresh.choice.algorithm), FormatBytes(fresh.choice.slice_bytes),
             FormatBytes(largest), fresh.schedule.ops.size(), fresh.choice.reason);
  *plan = &plan_cache_.emplace(key, std::move(fresh)).first->second;
  return Status::Ok();
}

Status Comm::Impl::Collective(const CollectiveCall& call) {
  BRAID_RETURN_IF_ERROR(CheckUsable());
  if (group_depth_ > 0) {
    if (group_error_.ok()) group_colls_.push_back(call);  // else GroupEnd discards the group
    return Status::Ok();
  }
  return Fail(RunCollective(call));
}

Status Comm::Impl::CheckSameCall(const CollectiveCall& call) {
  const runtime::CallFingerprint mine =
      call.inside ? runtime::InternalCallFingerprint(calls_checked_++, *call.inside)
                   : runtime::FingerprintOf(calls_checked_++, call.collective, call.count, call.type, call.op.kind,
                                            call.root);
  call_fingerprints_.resize(mine.fields.size() * size_t(size()));
  const CollectiveCall gather{coll::Collective::kAllGather, mine.fields.data(), call_fingerprints_.data(),
                              mine.fields.size(), DataType::kInt64, RedOp{}, 0, false, std::nullopt};
  checking_call_ = true;
  Status gathered = RunCollective(gather);
  checking_call_ = false;
  BRAID_RETURN_IF_ERROR(gathered.WithContext("comparing collective calls (BRAID_CHECK_CALLS)"));
  return runtime::CompareCalls(call_fingerprints_, rank_);
}

Status Comm::Impl::RunCollective(const CollectiveCall& call) {
  if (options_.check_calls == 1 && !checking_call_ && call.inside != runtime::InternalCall::kCreate)
    BRAID_RETURN_IF_ERROR(CheckSameCall(call));
  if (call.count == 0) return Status::Ok();
  const size_t es = DataTypeSize(call.type);
  const int n = size();
  const void* input = call.input;
  bool in_place = call.in_place;
  RedOpKind op = call.op.kind;
  double premul = call.op.scalar;
  if (op == RedOpKind::kAvg && IsFloatingPoint(call.type)) {
    // As NCCL does: a floating-point average scales each input by 1/nranks before the sum, so a
    // sum that would overflow the type (fp16 gradients under loss scaling) still averages to a
    // finite value. Integers sum, then divide (the schedule's finalise step).
    op = RedOpKind::kPreMulSum;
    premul = 1.0 / n;
  }
  if (coll::IsReduction(call.collective) && op == RedOpKind::kPreMulSum) {
    // Scale this rank's contribution once up front; the schedule then sums as usual.
    size_t in_count = call.collective == coll::Collective::kReduceScatter ? call.count * size_t(n) : call.count;
    premul_input_.resize(in_count * es);
    kernels::ScaleHost(premul_input_.data(), call.input, in_count, call.type, premul);
    input = premul_input_.data();
    in_place = false;
  }

  coll::ScheduleRequest request;
  request.collective = call.collective;
  request.nranks = n;
  request.rank = rank_;
  request.root = call.root;
  request.count = call.count;
  request.elem_size = es;
  request.in_place = in_place;
  const CachedPlan* plan = nullptr;
  BRAID_RETURN_IF_ERROR(PlanFor(request, &plan));

  size_t scratch_bytes = plan->schedule.scratch_count * es;
  if (scratch_.size() < scratch_bytes) scratch_.resize(scratch_bytes);

  runtime::ExecutionContext ctx;
  ctx.transport = transport();
  ctx.world_ranks = &world_ranks_;
  ctx.comm_id = comm_id_;
  ctx.seq = seq_++;
  ctx.type = call.type;
  ctx.op = op;
  ctx.nranks = n;
  ctx.aborted = &aborted_;
  ctx.timeout_s = options_.timeout_s;
  ctx.notices = &notices_;
  // A Barrier runs as a 1-byte all-reduce, a Split as an all-gather and an all-reduce; their
  // errors name the call the user made (QA, sessions 54 and 55).
  ctx.what = call.inside ? runtime::InternalCallName(*call.inside) : coll::CollectiveName(call.collective);
  if (serving_group_p2p_) {
    ctx.side.poll = [](void* self, bool* progressed) { return static_cast<Impl*>(self)->p2p_.Service(progressed); };
    ctx.side.arg = this;
  }
  runtime::ExecutionBuffers buffers{input, call.output, scratch_.data()};
  return executor_.Run(plan->schedule, buffers, ctx);
}

Status Comm::Impl::SelfReceivesMatched(uint64_t* sends_to_self) const {
  uint64_t group_sends = 0, receives = 0;
  for (const runtime::P2pOp& op : group_p2p_) {
    if (op.peer != rank_) continue;
    (op.is_send ? group_sends : receives) += 1;
  }
  *sends_to_self = group_sends;
  const uint64_t sends = p2p_.KeptForSelf() + group_sends;
  if (receives <= sends) return Status::Ok();
  return Status::InvalidArgument(fmt::format(
      "GroupEnd: the group receives {} message(s) from self (rank {}) but {} sent to self can match them (kept from "
      "earlier Sends and this group's); only this rank can send to itself, so the rest would wait for ever: nothing "
      "of the group ran", receives, rank_, sends));
}

Status Comm::Impl::ConfirmEveryRankConnected() {
  uint8_t token = 0;
  const CollectiveCall barrier{coll::Collective::kAllReduce, &token, &token, 1, DataType::kUint8,
                               RedOp{RedOpKind::kMax}, 0, true, runtime::InternalCall::kCreate};
  return Fail(RunCollective(barrier));
}

Status Comm::Impl::GroupStart() {
  BRAID_RETURN_IF_ERROR(CheckUsable());
  if (group_depth_++ == 0) p2p_.Begin();
  return Status::Ok();
}

Status Comm::Impl::GroupEnd() {
  if (group_depth_ == 0) {
    // GroupStart on a failed communicator returns the failure and opens no group; the GroupEnd of
    // the usual `GroupStart(); ...; s = GroupEnd();` must return that failure too, not a usage
    // error that hides it.
    BRAID_RETURN_IF_ERROR(CheckUsable());
    return Status::InvalidUsage("GroupEnd without a matching GroupStart");
  }
  if (--group_depth_ > 0) return Status::Ok();
  running_colls_.swap(group_colls_);
  group_colls_.clear();
  const Status group_error = std::exchange(group_error_, Status::Ok());
  if (Status usable = CheckUsable(); !usable.ok()) {
    group_p2p_.clear();
    p2p_.Cancel();  // nothing of the group may touch the caller's buffers afterwards
    return Fail(usable);  // aborted in the group: tells the others and settles; else did so already
  }
  if (!group_error.ok()) {
    // As ncclGroupEnd: a call of the group failed, so none of the group runs. Its collectives
    // never started and its sends and receives were never posted. Nothing failed on the wire:
    // the communicator stays usable.
    group_p2p_.clear();
    p2p_.Cancel(/*after_failure=*/false);  // closes the batch GroupStart opened; it holds nothing
    return group_error.WithContext("GroupEnd: an operation of the group failed");
  }
  uint64_t sends_to_self = 0;
  if (Status self = SelfReceivesMatched(&sends_to_self); !self.ok()) {
    group_p2p_.clear();
    p2p_.Cancel(/*after_failure=*/false);  // nothing was posted
    return self;
  }
  // Sends to self first, kept as copies, so that the group's receives from self find them
  // whatever the call order, and a Recv after the group finds the rest (see KeepForSelf). A group
  // without any (the usual one) takes one pass.
  for (const bool to_self : {true, false}) {
    if (to_self && sends_to_self == 0) continue;
    for (const runtime::P2pOp& op : group_p2p_) {
      if ((op.is_send && op.peer == rank_) != to_self) continue;
      if (Status added = to_self ? p2p_.KeepForSelf(op) : p2p_.Add(op); !added.ok()) {
        group_p2p_.clear();
        p2p_.Cancel();
        return Fail(std::move(added));
      }
    }
  }
  group_p2p_.clear();
  auto run_collectives = [this]() {
    for (const CollectiveCall& call : running_colls_) {
      serving_group_p2p_ = true;
      Status ran = RunCollective(call);
      serving_group_p2p_ = false;
      // A call that BRAID_CHECK_CALLS refused had no effect, but the group's point-to-point
      // traffic, cancelled now, may have reached some ranks and not others: fatal here.
      if (ran.code() == StatusCode::kInvalidArgument) return Status::InvalidUsage(ran.message());
      BRAID_RETURN_IF_ERROR(ran);
    }
    return Status::Ok();
  };
  return Fail(p2p_.Finish(run_collectives));
}

Status Comm::Impl::Split(int color, int key, std::unique_ptr<Comm>* out) {
  out->reset();
  BRAID_RETURN_IF_ERROR(CheckUsable());
  if (group_depth_ > 0) return Status::InvalidUsage("Split inside a GroupStart/GroupEnd group");
  const int n = size();
  runtime::CommIds& ids = world_->comm_ids;
  std::vector<int32_t> all(3 * size_t(n));
  uint32_t child_id = 0;
  // Agree on the child's id (runtime/world.h). One round unless another thread of some member
  // process splits a communicator at the same time and holds the id agreed on.
  for (;;) {
    // Every rank contributes {color, key, proposed communicator id}.
    const uint32_t proposed = ids.Propose();
    std::vector<int32_t> contribution = {int32_t(color < 0 ? -1 : color), int32_t(key), int32_t(proposed)};
    CollectiveCall gather{coll::Collective::kAllGather, contribution.data(), all.data(), 3,
                          DataType::kInt32, RedOp{}, 0, false, runtime::InternalCall::kSplit};
    if (Status s = RunCollective(gather); !s.ok()) {
      ids.Release(proposed);
      return Fail(s).WithContext("Split");
    }
    child_id = 0;
    for (int r = 0; r < n; ++r) {
      // A Split proposes an id in (kWorldId, kLimit], kLimit meaning "none left": anything else
      // came from a rank that called another collective here (a call mismatch, not our bug).
      const int64_t theirs = all[3 * r + 2];
      if (theirs <= int64_t(runtime::CommIds::kWorldId) || theirs > int64_t(runtime::CommIds::kLimit)) {
        ids.Release(proposed);
        return Fail(Status::InvalidUsage(fmt::format(
            "Split: rank {} sent {} where a Split proposes a communicator id: it did not call Split here "
            "(every rank must call the same collectives in the same order)", r, theirs)));
      }
      child_id = std::max(child_id, uint32_t(theirs));
    }
    if (child_id >= runtime::CommIds::kLimit) {
      ids.Release(proposed);
      return Fail(Status::Internal("Split: communicator ids exhausted (65536 per process)"));
    }
    const bool mine = ids.Claim(child_id, proposed);
    int32_t everywhere = mine ? 1 : 0;  // min over the members
    CollectiveCall agree{coll::Collective::kAllReduce, &everywhere, &everywhere, 1, DataType::kInt32,
                         RedOp{RedOpKind::kMin}, 0, true, runtime::InternalCall::kSplit};
    Status agreed = RunCollective(agree);
    // Kept only by a member of the child; a claim that failed here is another Split's id.
    if (mine && (!agreed.ok() || everywhere == 0 || color < 0)) ids.Release(child_id);
    if (!agreed.ok()) return Fail(agreed).WithContext("Split");
    if (everywhere == 1) break;
    BRAID_INFO(kInit, "Split: communicator id {} is taken by another Split in a member process; agreeing again", child_id);
  }
  if (color < 0) return Status::Ok();

  std::vector<std::pair<int32_t, int>> members;  // (key, parent rank)
  for (int r = 0; r < n; ++r)
    if (all[3 * r] == color) members.emplace_back(all[3 * r + 1], r);
  std::sort(members.begin(), members.end());
  std::vector<int> child_world;
  int child_rank = -1;
  for (size_t i = 0; i < members.size(); ++i) {
    if (members[i].second == rank_) child_rank = int(i);
    child_world.push_back(world_ranks_[members[i].second]);
  }
  // The child may be driven by another thread than this communicator (transport.h).
  world_->transport->AllowConcurrentUse();
  *out = MakeComm(world_, std::move(child_world), child_rank, child_id, options_);
  BRAID_INFO(kInit, "Split color {} key {}: rank {} of {} in communicator id {}", color, key,
             child_rank, members.size(), child_id);
  return Status::Ok();
}

}  // namespace braid
