// UCX's tag API used directly: the floor under braid's transport. The context is configured the
// way braid configures its own (src/transport/ucx/ucx_setup.cc), so the two runs differ only by
// braid's layers above UCX: when every rank is on this host, the transports of braid's
// shared-memory lane (BRAID_UCX_LOCAL_TLS, default posix,sysv,self) and no error handling;
// otherwise UCX's defaults with peer error handling. A user's UCX_TLS wins in both cases, as it
// does for braid. Progress is busy polling (the lowest latency UCX offers). Under --memory cuda,
// a UCX built with CUDA support gets the device pointers (and, on one host, its cuda_copy and
// cuda_ipc transports besides braid's); one without is staged like the other layers.
#include <mpi.h>
#include <ucp/api/ucp.h>

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "backend.h"
#include "local_peers.h"
#include "p2p_backend.h"
#include "transport/ucx/endpoint_info.h"

namespace braid::perf {
namespace {

constexpr const char* kBraidLocalTls = "posix,sysv,self";  // braid's default (ucx_internal.h)

constexpr const char* kCudaLocalTls = "cuda_copy,cuda_ipc";  // UCX's transports for device memory

// True when every rank runs on this host (LocalPeers: braid's notion of a host, so both backends
// agree).
bool AllRanksOnThisHost() {
  int nranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  return int(LocalPeers().size()) == nranks - 1;
}

void CheckUcs(ucs_status_t st, const char* what) {
  if (st != UCS_OK) FatalError(what, ucs_status_string(st), 3);
}

class UcxP2p final : public P2pBackend {
 public:
  explicit UcxP2p(const Options& options) : extra_spins_(options.ucx_extra_spins) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks_);
    local_ = AllRanksOnThisHost();
    device_ = options.memory == MemoryKind::kCuda && UcxHasCudaSupport();
    CreateWorker();
    Connect();
  }

  ~UcxP2p() override {
    // Flush what is still buffered, wait until every rank has, then close without waiting for
    // peers (a flushing close needs the peer to progress, and it may be in MPI_Barrier).
    for (ucp_ep_h ep : endpoints_) {
      ucp_request_param_t params{};
      Wait(ucp_ep_flush_nbx(ep, &params), "ucp_ep_flush_nbx");
    }
    MPI_Barrier(MPI_COMM_WORLD);
    for (ucp_ep_h ep : endpoints_) {
      ucp_request_param_t params{};
      params.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
      params.flags = UCP_EP_CLOSE_FLAG_FORCE;
      ucs_status_ptr_t req = ucp_ep_close_nbx(ep, &params);
      if (UCS_PTR_IS_PTR(req)) {
        while (ucp_request_check_status(req) == UCS_INPROGRESS) ucp_worker_progress(worker_);
        ucp_request_free(req);
      }
    }
    ucp_worker_destroy(worker_);
    ucp_cleanup(context_);
  }

  std::string Describe() const override {
    return fmt::format("ucx (tag API, UCX {}, TLS {}, {} error handling, busy polling{}{})",
                       ucp_get_version_string(), tls_, local_ ? "no" : "peer",
                       extra_spins_ ? fmt::format(", {} extra spins per receive", extra_spins_) : "",
                       device_ ? ", device pointers passed as UCS_MEMORY_TYPE_CUDA" : "");
  }

  bool TakesDeviceMemory() const override { return device_; }

  std::string PeerTransports() const override {
    std::map<std::string, std::string> by_transport;
    for (int p = 0; p < nranks_; ++p) {
      std::string& ranks = by_transport[transport::EndpointTransports(endpoints_[size_t(p)])];
      if (!ranks.empty()) ranks += ',';  // (GCC 12 warns, falsely, about "" + std::string here)
      ranks += std::to_string(p);
    }
    std::string text = fmt::format("ucx {}", ucp_get_version_string());
    for (const auto& [tls, ranks] : by_transport) text += fmt::format("; {}: ranks {}", tls, ranks);
    return text;
  }

  void Send(const void* buf, size_t bytes, int peer) override {
    Wait(PostSendRequest(buf, bytes, peer), "ucp_tag_send_nbx");
  }
  void Recv(void* buf, size_t bytes, int peer) override {
    Wait(PostRecvRequest(buf, bytes, peer), "ucp_tag_recv_nbx");
    // --ucx-extra-spins: a fixed extra cost between a message's arrival and the next send.
    for (long i = 0; i < extra_spins_; ++i) asm volatile("" ::: "memory");
  }
  void Begin() override { window_.clear(); }
  void PostSend(const void* buf, size_t bytes, int peer) override {
    Keep(PostSendRequest(buf, bytes, peer), "ucp_tag_send_nbx");
  }
  void PostRecv(void* buf, size_t bytes, int peer) override {
    Keep(PostRecvRequest(buf, bytes, peer), "ucp_tag_recv_nbx");
  }
  void Complete() override {
    for (void* req : window_) Wait(req, "window completion");
    window_.clear();
  }

 private:
  // Whether this UCX can move CUDA memory: a context with UCX's default transports reports it.
  static bool UcxHasCudaSupport() {
    ucp_config_t* config = nullptr;
    CheckUcs(ucp_config_read(nullptr, nullptr, &config), "ucp_config_read");
    ucp_params_t params{};
    params.field_mask = UCP_PARAM_FIELD_FEATURES;
    params.features = UCP_FEATURE_TAG;
    ucp_context_h probe = nullptr;
    ucs_status_t st = ucp_init(&params, config, &probe);
    ucp_config_release(config);
    CheckUcs(st, "ucp_init (probing for CUDA support)");
    ucp_context_attr_t attr{};
    attr.field_mask = UCP_ATTR_FIELD_MEMORY_TYPES;
    st = ucp_context_query(probe, &attr);
    ucp_cleanup(probe);
    CheckUcs(st, "ucp_context_query");
    return (attr.memory_types & UCS_BIT(UCS_MEMORY_TYPE_CUDA)) != 0;
  }

  void CreateWorker() {
    ucp_config_t* config = nullptr;
    CheckUcs(ucp_config_read(nullptr, nullptr, &config), "ucp_config_read");
    const char* user_tls = std::getenv("UCX_TLS");
    const char* local_tls = std::getenv("BRAID_UCX_LOCAL_TLS");
    if (user_tls) {
      tls_ = std::string(user_tls) + " (UCX_TLS)";
    } else if (local_) {
      std::string tls = local_tls ? local_tls : kBraidLocalTls;
      if (device_) tls = tls + "," + kCudaLocalTls;
      CheckUcs(ucp_config_modify(config, "TLS", tls.c_str()), "ucp_config_modify(TLS)");
      tls_ = local_tls ? tls + " (BRAID_UCX_LOCAL_TLS)" : tls;
    } else {
      tls_ = "UCX default";
    }
    ucp_params_t params{};
    params.field_mask = UCP_PARAM_FIELD_FEATURES;
    params.features = UCP_FEATURE_TAG;
    ucs_status_t st = ucp_init(&params, config, &context_);
    ucp_config_release(config);
    CheckUcs(st, ("ucp_init with transports " + tls_).c_str());
    ucp_worker_params_t wparams{};
    wparams.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    wparams.thread_mode = UCS_THREAD_MODE_SINGLE;
    CheckUcs(ucp_worker_create(context_, &wparams, &worker_), "ucp_worker_create");
  }

  // All-gathers the worker addresses and creates an endpoint to every rank (self included).
  void Connect() {
    ucp_address_t* address = nullptr;
    size_t length = 0;
    CheckUcs(ucp_worker_get_address(worker_, &address, &length), "ucp_worker_get_address");
    int my_length = int(length);
    std::vector<int> lengths(static_cast<size_t>(nranks_)), offsets(static_cast<size_t>(nranks_));
    MPI_Allgather(&my_length, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD);
    int total = 0;
    for (int r = 0; r < nranks_; ++r) {
      offsets[size_t(r)] = total;
      total += lengths[size_t(r)];
    }
    std::vector<char> all(static_cast<size_t>(total));
    MPI_Allgatherv(address, my_length, MPI_BYTE, all.data(), lengths.data(), offsets.data(), MPI_BYTE,
                   MPI_COMM_WORLD);
    ucp_worker_release_address(worker_, address);
    for (int r = 0; r < nranks_; ++r) {
      ucp_ep_params_t params{};
      params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
      params.address = reinterpret_cast<const ucp_address_t*>(&all[size_t(offsets[size_t(r)])]);
      params.err_mode = local_ ? UCP_ERR_HANDLING_MODE_NONE : UCP_ERR_HANDLING_MODE_PEER;
      ucp_ep_h ep = nullptr;
      CheckUcs(ucp_ep_create(worker_, &params, &ep), "ucp_ep_create");
      endpoints_.push_back(ep);
    }
  }

  // Device pointers are declared, so UCX need not look up their memory type per message.
  ucp_request_param_t MemoryParams() const {
    ucp_request_param_t params{};
    if (device_) {
      params.op_attr_mask = UCP_OP_ATTR_FIELD_MEMORY_TYPE;
      params.memory_type = UCS_MEMORY_TYPE_CUDA;
    }
    return params;
  }

  // Tags carry the sender's rank; receives match it exactly, and UCX keeps per-sender order.
  ucs_status_ptr_t PostSendRequest(const void* buf, size_t bytes, int peer) {
    ucp_request_param_t params = MemoryParams();
    return ucp_tag_send_nbx(endpoints_[size_t(peer)], buf, bytes, ucp_tag_t(rank_), &params);
  }
  ucs_status_ptr_t PostRecvRequest(void* buf, size_t bytes, int peer) {
    ucp_request_param_t params = MemoryParams();
    return ucp_tag_recv_nbx(worker_, buf, bytes, ucp_tag_t(peer), ~ucp_tag_t(0), &params);
  }

  void Keep(ucs_status_ptr_t req, const char* what) {
    if (UCS_PTR_IS_ERR(req)) FatalError(what, ucs_status_string(UCS_PTR_STATUS(req)), 3);
    if (req != nullptr) window_.push_back(req);
  }

  // Progresses until `req` (null = completed at once) is done, then frees it.
  void Wait(ucs_status_ptr_t req, const char* what) {
    if (req == nullptr) return;
    if (UCS_PTR_IS_ERR(req)) FatalError(what, ucs_status_string(UCS_PTR_STATUS(req)), 3);
    // A dead or stalled peer leaves this loop polling: the watchdog (watchdog.h) ends the rank.
    ucs_status_t st;
    while ((st = ucp_request_check_status(req)) == UCS_INPROGRESS) ucp_worker_progress(worker_);
    ucp_request_free(req);
    if (st != UCS_OK) FatalError(what, ucs_status_string(st), 3);
  }

  const long extra_spins_;  // --ucx-extra-spins
  int rank_ = 0, nranks_ = 1;
  bool local_ = true;
  bool device_ = false;  // --memory cuda on a UCX with CUDA support: device pointers as they are
  std::string tls_;
  ucp_context_h context_ = nullptr;
  ucp_worker_h worker_ = nullptr;
  std::vector<ucp_ep_h> endpoints_;
  std::vector<void*> window_;
};

}  // namespace

std::unique_ptr<P2pBackend> MakeUcxP2p(const Options& options) {
  return std::make_unique<UcxP2p>(options);
}

}  // namespace braid::perf
