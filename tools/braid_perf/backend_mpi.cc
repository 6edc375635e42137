// MPI backend: the same measurements with the MPI library's collectives, in-place variants
// with MPI_IN_PLACE (MPI_Sendrecv_replace for sendrecv).
#include <mpi.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>
#include <string_view>

#include "backend.h"

namespace braid::perf {
namespace {

// MPI datatype for reductions; MPI_DATATYPE_NULL where MPI has no equivalent (fp16, bf16, fp8).
MPI_Datatype ReductionType(DataType type) {
  switch (type) {
    case DataType::kInt8: return MPI_INT8_T;
    case DataType::kUint8: return MPI_UINT8_T;
    case DataType::kInt32: return MPI_INT32_T;
    case DataType::kUint32: return MPI_UINT32_T;
    case DataType::kInt64: return MPI_INT64_T;
    case DataType::kUint64: return MPI_UINT64_T;
    case DataType::kFloat32: return MPI_FLOAT;
    case DataType::kFloat64: return MPI_DOUBLE;
    default: return MPI_DATATYPE_NULL;
  }
}

// Data movement only needs the element size, so types MPI lacks travel as same-size integers.
MPI_Datatype CopyType(DataType type) {
  MPI_Datatype t = ReductionType(type);
  if (t != MPI_DATATYPE_NULL) return t;
  return DataTypeSize(type) == 2 ? MPI_UINT16_T : MPI_UINT8_T;
}

MPI_Op ToMpiOp(RedOpKind kind) {
  switch (kind) {
    case RedOpKind::kSum: return MPI_SUM;
    case RedOpKind::kProd: return MPI_PROD;
    case RedOpKind::kMax: return MPI_MAX;
    case RedOpKind::kMin: return MPI_MIN;
    default: return MPI_OP_NULL;  // avg, premulsum
  }
}

}  // namespace

namespace {

// The line of `text` from `begin` (lines end at \n or \r), whitespace runs collapsed to one space.
std::string CollapsedLine(std::string_view text, size_t begin) {
  std::string line;
  for (size_t i = begin; i < text.size() && text[i] != '\n' && text[i] != '\r'; ++i) {
    const bool space = std::isspace(static_cast<unsigned char>(text[i]));
    if (!space) line += text[i];
    else if (!line.empty() && line.back() != ' ') line += ' ';
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

}  // namespace

std::string MpiLibraryVersion() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(text, &len);
  const std::string_view all(text, size_t(std::max(len, 0)));
  std::string version = CollapsedLine(all, 0);
  // MPICH names its device (the transport underneath: ch4:ucx, ch4:ofi, ch3:nemesis) on a later
  // line; it decides what an MPI baseline measures, so it goes beside the version.
  constexpr std::string_view kDevice = "MPICH Device:";
  if (const size_t at = all.find(kDevice); at != std::string_view::npos)
    version += ", device " + CollapsedLine(all, at + kDevice.size());
  return version;
}

namespace {

class MpiBackend final : public Backend {
 public:
  explicit MpiBackend(const Options& options) : version_(MpiLibraryVersion()) {
    // A private communicator with errors returned, so failures are reported like braid's.
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    // MPICH 4.0's shared-memory reduce crashes (SIGSEGV) for MPI_IN_PLACE at a root other than
    // 0 from 4 KiB up; that variant is reported as N/A rather than taking the job down.
    skip_in_place_reduce_ = options.root != 0 && version_.rfind("MPICH Version: 4.0", 0) == 0;
  }
  ~MpiBackend() override { MPI_Comm_free(&comm_); }

  std::string Describe() const override {
    std::string text = "mpi (" + version_ + ")";
    if (skip_in_place_reduce_) text += ", in-place reduce with root != 0 skipped (MPICH 4.0 crashes)";
    return text;
  }

  std::string PeerTransports() const override { return "chosen inside the MPI library"; }

  bool SupportsInPlace(Collective c) const override {
    return !(c == Collective::kReduce && skip_in_place_reduce_);
  }

  size_t InPlaceOutputOffset(Collective, int, size_t) const override { return 0; }

  void Run(const CallArgs& a) override {
    const int count = static_cast<int>(a.count);  // MpiUnsupportedReason rejected larger counts
    const MPI_Datatype dt = IsReduction(a.collective) ? ReductionType(a.type) : CopyType(a.type);
    const MPI_Op op = ToMpiOp(a.op.kind);
    const void* send = a.in_place ? MPI_IN_PLACE : a.send;
    const int next = (rank_ + 1) % size_, prev = (rank_ - 1 + size_) % size_;
    int rc = MPI_SUCCESS;
    switch (a.collective) {
      case Collective::kAllReduce: rc = MPI_Allreduce(send, a.recv, count, dt, op, comm_); break;
      case Collective::kReduceScatter:
        // MPI's in-place reduce-scatter reads the whole array from recvbuf and leaves this rank's
        // block at its start (hence InPlaceOutputOffset 0); the array starts at NCCL's `send`.
        rc = a.in_place ? MPI_Reduce_scatter_block(MPI_IN_PLACE, const_cast<void*>(a.send), count, dt, op, comm_)
                        : MPI_Reduce_scatter_block(a.send, a.recv, count, dt, op, comm_);
        break;
      case Collective::kAllGather: rc = MPI_Allgather(send, count, dt, a.recv, count, dt, comm_); break;
      case Collective::kBroadcast:
        if (a.in_place) {
          rc = MPI_Bcast(a.recv, count, dt, a.root, comm_);
        } else {
          // Out-of-place: the root sends from sendbuf and, like NCCL, also gets recvbuf filled.
          rc = MPI_Bcast(rank_ == a.root ? const_cast<void*>(a.send) : a.recv, count, dt, a.root, comm_);
          if (rank_ == a.root && count > 0) std::memcpy(a.recv, a.send, a.count * DataTypeSize(a.type));
        }
        break;
      case Collective::kReduce:
        if (a.in_place && rank_ != a.root)  // non-roots have nothing in place: the buffer is input
          rc = MPI_Reduce(a.recv, nullptr, count, dt, op, a.root, comm_);
        else
          rc = MPI_Reduce(send, a.recv, count, dt, op, a.root, comm_);
        break;
      case Collective::kAllToAll: rc = MPI_Alltoall(send, count, dt, a.recv, count, dt, comm_); break;
      case Collective::kSendRecv:
        rc = a.in_place ? MPI_Sendrecv_replace(a.recv, count, dt, next, 0, prev, 0, comm_, MPI_STATUS_IGNORE)
                        : MPI_Sendrecv(a.send, count, dt, next, 0, a.recv, count, dt, prev, 0, comm_,
                                       MPI_STATUS_IGNORE);
        break;
    }
    if (rc != MPI_SUCCESS) {
      char text[MPI_MAX_ERROR_STRING];
      int len = 0;
      MPI_Error_string(rc, text, &len);
      FatalError(fmt::format("MPI {}", CollectiveName(a.collective)), std::string(text, size_t(len)), 3);
    }
  }

 private:
  std::string version_;
  bool skip_in_place_reduce_ = false;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace

std::string MpiUnsupportedReason(const Options& o, int nranks) {
  if (IsReduction(o.collective)) {
    if (ReductionType(o.type) == MPI_DATATYPE_NULL)
      return fmt::format("--backend mpi: MPI has no reduction for type {} (use int8, uint8, int32, "
                         "uint32, int64, uint64, float32 or float64)", DataTypeName(o.type));
    if (ToMpiOp(o.op.kind) == MPI_OP_NULL)
      return fmt::format("--backend mpi: MPI has no reduction op {}{} (use sum, prod, max or min)",
                         RedOpName(o.op.kind), o.op.kind == RedOpKind::kPreMulSum ? " (-o mulsum)" : "");
  }
  Shape largest = ShapeFor(o.collective, o.max_bytes, DataTypeSize(o.type), nranks);
  if (largest.count > size_t(INT_MAX))
    return fmt::format("--backend mpi: count {} at -e {} exceeds MPI's int limit {}", largest.count,
                       o.max_bytes, INT_MAX);
  return "";
}

std::unique_ptr<Backend> MakeMpiBackend(const Options& options) {
  return std::make_unique<MpiBackend>(options);
}

}  // namespace braid::perf
