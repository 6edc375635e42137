#include "runtime/call_check.h"

#include <fmt/format.h>

#include <iterator>

namespace braid::runtime {
namespace {

enum Field : size_t { kIndex, kCollective, kSize, kType, kOp, kRoot };

// The collective field of an internal call: past every coll::Collective.
constexpr int64_t kFirstInternal = coll::kNumCollectives;
constexpr const char* kInternalNames[] = {"barrier", "split", "create"};  // by InternalCall

CallFingerprint At(std::span<const int64_t> all, size_t rank) {
  CallFingerprint f;
  for (size_t i = 0; i < CallFingerprint::kFields; ++i) f.fields[i] = all[rank * CallFingerprint::kFields + i];
  return f;
}

}  // namespace

CallFingerprint FingerprintOf(uint64_t index, coll::Collective collective, size_t count, DataType type,
                              RedOpKind op, int root) {
  const bool reduces = coll::IsReduction(collective);
  CallFingerprint f;
  f.fields[kIndex] = int64_t(index);
  f.fields[kCollective] = int64_t(collective);
  f.fields[kSize] = int64_t(reduces ? count : count * DataTypeSize(type));
  f.fields[kType] = reduces ? int64_t(type) : -1;
  f.fields[kOp] = reduces ? int64_t(op) : -1;
  f.fields[kRoot] = coll::IsRooted(collective) ? int64_t(root) : -1;
  return f;
}

const char* InternalCallName(InternalCall call) { return kInternalNames[size_t(call)]; }

CallFingerprint InternalCallFingerprint(uint64_t index, InternalCall call) {
  CallFingerprint f;
  f.fields.fill(-1);
  f.fields[kIndex] = int64_t(index);
  f.fields[kCollective] = kFirstInternal + int64_t(call);
  return f;
}

std::string DescribeCall(const CallFingerprint& call) {
  const auto& f = call.fields;
  if (f[kCollective] >= kFirstInternal && f[kCollective] < kFirstInternal + int64_t(std::size(kInternalNames)))
    return fmt::format("call #{}: {}", f[kIndex], kInternalNames[f[kCollective] - kFirstInternal]);
  const auto collective = coll::Collective(f[kCollective]);
  std::string text = fmt::format("call #{}: {} of ", f[kIndex], coll::CollectiveName(collective));
  if (f[kType] >= 0)
    text += fmt::format("{} x {} ({})", f[kSize], DataTypeName(DataType(f[kType])), RedOpName(RedOpKind(f[kOp])));
  else
    text += fmt::format("{} bytes", f[kSize]);
  if (f[kRoot] >= 0) text += fmt::format(" {} root {}", collective == coll::Collective::kReduce ? "to" : "from", f[kRoot]);
  return text;
}

Status CompareCalls(std::span<const int64_t> all, int rank) {
  const size_t n = all.size() / CallFingerprint::kFields;
  const CallFingerprint mine = At(all, size_t(rank));
  for (size_t r = 0; r < n; ++r) {
    const CallFingerprint theirs = At(all, r);
    if (theirs.fields == mine.fields) continue;
    return Status::InvalidArgument(fmt::format("collective calls differ across ranks (BRAID_CHECK_CALLS): rank {} made {}; rank {} made {}",
                                            rank, DescribeCall(mine), r, DescribeCall(theirs)));
  }
  return Status::Ok();
}

}  // namespace braid::runtime
