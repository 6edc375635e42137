// The public braid::Comm methods: argument validation, then Comm::Impl.
#include "braid/comm.h"

#include <new>
#include <stdexcept>

#include "runtime/comm_impl.h"
#include "runtime/validate.h"

namespace braid {

Comm::Comm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Comm::~Comm() = default;

int Comm::rank() const { return impl_->rank(); }
int Comm::size() const { return impl_->size(); }
std::string Comm::transport_name() const { return impl_->transport()->name(); }
std::string Comm::transport_description() const { return impl_->transport()->Describe(); }

namespace {

// Every call that reaches the communicator runs through here. It holds the communicator against
// an Abort() from another thread (Comm::Impl::CallScope). Memory exhaustion inside a call (scratch
// for a huge count, millions of queued messages) must not leave the API as std::bad_alloc and
// abort the caller: the call returns SystemError and the communicator fails with it. No cost on
// the normal path (zero-cost exceptions). Inside a group, an error also fails the group
// (Comm::Impl::NoteGroupError): NCCL's ncclGroupEnd returns it and runs none of the group.
template <typename Call>
Status NoThrow(Comm::Impl* impl, const char* what, const Call& call) {
  Comm::Impl::CallScope scope(*impl);
  Status status;
  try {
    status = call();
  } catch (const std::bad_alloc&) {
    status = impl->FailOutOfMemory(what);
  } catch (const std::length_error&) {  // a container asked for more than it can hold at all
    status = impl->FailOutOfMemory(what);
  }
  if (!status.ok()) [[unlikely]]
    impl->NoteGroupError(status);
  return status;
}

Status RunValidated(Comm::Impl* impl, coll::Collective collective, const void* input,
                    void* output, size_t count, DataType type, RedOp op, int root,
                    std::optional<runtime::InternalCall> inside = std::nullopt) {
  return NoThrow(impl, coll::CollectiveName(collective), [&] {
    runtime::CallArgs args{collective, input, output, count, type, op, root, impl->rank(), impl->size()};
    bool in_place = false;
    if (Status invalid = runtime::ValidateCollective(args, &in_place); !invalid.ok()) return invalid;
    return impl->Collective({collective, input, output, count, type, op, root, in_place, inside});
  });
}

}  // namespace

Status Comm::AllReduce(const void* sendbuf, void* recvbuf, size_t count, DataType type, RedOp op) {
  return RunValidated(impl_.get(), coll::Collective::kAllReduce, sendbuf, recvbuf, count, type, op, 0);
}

Status Comm::ReduceScatter(const void* sendbuf, void* recvbuf, size_t recvcount, DataType type,
                           RedOp op) {
  return RunValidated(impl_.get(), coll::Collective::kReduceScatter, sendbuf, recvbuf, recvcount,
                      type, op, 0);
}

Status Comm::AllGather(const void* sendbuf, void* recvbuf, size_t sendcount, DataType type) {
  return RunValidated(impl_.get(), coll::Collective::kAllGather, sendbuf, recvbuf, sendcount, type,
                      RedOp{}, 0);
}

Status Comm::Broadcast(const void* sendbuf, void* recvbuf, size_t count, DataType type, int root) {
  return RunValidated(impl_.get(), coll::Collective::kBroadcast, sendbuf, recvbuf, count, type,
                      RedOp{}, root);
}

Status Comm::Reduce(const void* sendbuf, void* recvbuf, size_t count, DataType type, RedOp op,
                    int root) {
  return RunValidated(impl_.get(), coll::Collective::kReduce, sendbuf, recvbuf, count, type, op, root);
}

Status Comm::AllToAll(const void* sendbuf, void* recvbuf, size_t count, DataType type) {
  return RunValidated(impl_.get(), coll::Collective::kAllToAll, sendbuf, recvbuf, count, type,
                      RedOp{}, 0);
}

Status Comm::Barrier() {
  // A one-byte max all-reduce: every rank leaves only after every rank entered.
  uint8_t token = 0;
  return RunValidated(impl_.get(), coll::Collective::kAllReduce, &token, &token, 1, DataType::kUint8,
                      RedOp{RedOpKind::kMax}, 0, runtime::InternalCall::kBarrier);
}

Status Comm::Send(const void* buf, size_t count, DataType type, int peer) {
  return NoThrow(impl_.get(), "Send", [&] {
    size_t bytes = 0;
    if (Status invalid = runtime::ValidatePointToPoint("send", buf, count, type, peer, size(), &bytes); !invalid.ok())
      return invalid;
    return impl_->PointToPoint(true, const_cast<void*>(buf), bytes, peer);
  });
}

Status Comm::Recv(void* buf, size_t count, DataType type, int peer) {
  return NoThrow(impl_.get(), "Recv", [&] {
    size_t bytes = 0;
    if (Status invalid = runtime::ValidatePointToPoint("recv", buf, count, type, peer, size(), &bytes); !invalid.ok())
      return invalid;
    return impl_->PointToPoint(false, buf, bytes, peer);
  });
}

Status Comm::ResolveOptions(const CommOptions& options, CommOptions* resolved) {
  if (!resolved) return Status::InvalidArgument("ResolveOptions: resolved is null");
  return Impl::ResolveOptions(options, resolved);
}

Status Comm::GroupStart() { return NoThrow(impl_.get(), "GroupStart", [&] { return impl_->GroupStart(); }); }
Status Comm::GroupEnd() { return NoThrow(impl_.get(), "GroupEnd", [&] { return impl_->GroupEnd(); }); }

Status Comm::Split(int color, int key, std::unique_ptr<Comm>* out) {
  return NoThrow(impl_.get(), "Split", [&] {
    if (!out) return Status::InvalidArgument("Split: out is null");
    return impl_->Split(color, key, out);
  });
}

void Comm::Abort() { impl_->Abort(); }

}  // namespace braid
