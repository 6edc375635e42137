// The MPI library's point-to-point calls on a private duplicate of MPI_COMM_WORLD with errors
// returned (not aborted inside MPI), so failures are reported like braid's.
#include <mpi.h>

#include <fmt/format.h>

#include <climits>
#include <vector>

#include "backend.h"
#include "p2p_backend.h"

namespace braid::perf {
namespace {

class MpiP2p final : public P2pBackend {
 public:
  explicit MpiP2p(const Options& options) : version_(MpiLibraryVersion()) {
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    device_ = options.memory == MemoryKind::kCuda && LibraryTakesCudaMemory();
  }
  ~MpiP2p() override { MPI_Comm_free(&comm_); }

  std::string Describe() const override {
    return "mpi (" + version_ + ", MPI_Send/Recv" + (device_ ? ", CUDA-aware: device pointers passed as is)" : ")");
  }
  std::string PeerTransports() const override { return "chosen inside the MPI library"; }
  bool TakesDeviceMemory() const override { return device_; }

  void Send(const void* buf, size_t bytes, int peer) override {
    Check(MPI_Send(buf, Count(bytes), MPI_BYTE, peer, 0, comm_), "MPI_Send");
  }
  void Recv(void* buf, size_t bytes, int peer) override {
    Check(MPI_Recv(buf, Count(bytes), MPI_BYTE, peer, 0, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
  }
  void Begin() override { requests_.clear(); }
  void PostSend(const void* buf, size_t bytes, int peer) override {
    Check(MPI_Isend(buf, Count(bytes), MPI_BYTE, peer, 0, comm_, &requests_.emplace_back()), "MPI_Isend");
  }
  void PostRecv(void* buf, size_t bytes, int peer) override {
    Check(MPI_Irecv(buf, Count(bytes), MPI_BYTE, peer, 0, comm_, &requests_.emplace_back()), "MPI_Irecv");
  }
  void Complete() override {
    Check(MPI_Waitall(int(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
  }

 private:
  static int Count(size_t bytes) {
    if (bytes > size_t(INT_MAX))
      FatalError("mpi backend", fmt::format("{} bytes exceed MPI's int count limit {}", bytes, INT_MAX), 2);
    return int(bytes);
  }
  static void Check(int rc, const char* what) {
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    FatalError(what, std::string(text, size_t(len)), 3);
  }

  // Whether the library says it is CUDA-aware (MPICH 4's query; other libraries are assumed not
  // to be, and get staged).
  static bool LibraryTakesCudaMemory() {
#ifdef MPIX_GPU_SUPPORT_CUDA
    int supported = 0;
    return MPIX_GPU_query_support(MPIX_GPU_SUPPORT_CUDA, &supported) == MPI_SUCCESS && supported;
#else
    return false;
#endif
  }

  std::string version_;
  bool device_ = false;  // --memory cuda, passed to the library as is
  MPI_Comm comm_ = MPI_COMM_NULL;
  std::vector<MPI_Request> requests_;
};

}  // namespace

std::unique_ptr<P2pBackend> MakeMpiP2p(const Options& options) { return std::make_unique<MpiP2p>(options); }

}  // namespace braid::perf
