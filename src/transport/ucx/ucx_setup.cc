// UcxTransport setup and teardown: the two lanes (UCP contexts + workers), endpoints, and the
// destructor's bounded flush/close. The data path is in ucx_transport.cc.
#include "transport/ucx/ucx_transport.h"
#include "transport/ucx/endpoint_info.h"
#include "transport/ucx/ucx_internal.h"

#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>

#include "core/env.h"
#include "core/log.h"

namespace braid::transport {

using namespace ucx_internal;

namespace {

// File descriptors UCX's initialisation needs free (its async thread's epoll and event fds, the
// shared-memory lane's, a worker's wakeup fd, sockets): with too few, UCX 1.13 fails an assertion
// inside ucp_init (thread.c) and aborts the process instead of returning an error.
constexpr long kUcxDescriptorsNeeded = 16;

Status CheckDescriptorHeadroom() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return Status::Ok();
  long open_fds = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (const dirent* entry = readdir(dir)) open_fds += entry->d_name[0] != '.';
    closedir(dir);
    --open_fds;  // the directory's own
  } else if (errno == EMFILE || errno == ENFILE) {
    open_fds = long(limit.rlim_cur);
  } else {
    return Status::Ok();  // no /proc: let UCX try
  }
  const long free_fds = long(limit.rlim_cur) - open_fds;
  if (free_fds >= kUcxDescriptorsNeeded) return Status::Ok();
  return Status::SystemError(fmt::format(
      "RLIMIT_NOFILE: {} file descriptors allowed and {} open; UCX needs about {} free to start (raise ulimit -n)",
      limit.rlim_cur, open_fds, kUcxDescriptorsNeeded));
}

}  // namespace

Status UcxTransport::Create(std::unique_ptr<UcxTransport>* out) {
  RouteUcxWarningsToBraidLog();  // before UCX's first words (a lane it cannot make)
  BRAID_RETURN_IF_ERROR(CheckDescriptorHeadroom());
  std::unique_ptr<UcxTransport> t(new UcxTransport());
  BRAID_RETURN_IF_ERROR(t->Init());
  *out = std::move(t);
  return Status::Ok();
}

Status UcxTransport::InitLane(Lane* lane, const std::vector<LaneSetting>& settings) {
  ucp_config_t* config = nullptr;
  ucs_status_t st = ucp_config_read(nullptr, nullptr, &config);
  if (st != UCS_OK) return UcxError("ucp_config_read", st);
  // Only our own context's configuration changes, never the environment.
  for (const LaneSetting& s : settings) {
    if ((st = ucp_config_modify(config, s.key, s.value.c_str())) != UCS_OK) {
      ucp_config_release(config);
      return UcxError(fmt::format("ucp_config_modify({}={}, from {})", s.key, s.value, s.source).c_str(), st);
    }
  }
  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_REQUEST_SIZE |
                      UCP_PARAM_FIELD_REQUEST_INIT | UCP_PARAM_FIELD_MT_WORKERS_SHARED;
  params.features = UCP_FEATURE_TAG | UCP_FEATURE_WAKEUP;
  params.request_size = sizeof(Op);
  params.request_init = &UcxTransport::InitRequest;
  params.mt_workers_shared = 0;
  st = ucp_init(&params, config, &lane->context);
  if (st != UCS_OK) {
    // Some transport sets cannot sleep on an fd; run without wakeup rather than not at all.
    params.features = UCP_FEATURE_TAG;
    st = ucp_init(&params, config, &lane->context);
  }
  ucp_config_release(config);
  if (st != UCS_OK) {
    lane->context = nullptr;
    return UcxError("ucp_init", st);
  }

  ucp_worker_params_t wparams{};
  wparams.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  wparams.thread_mode = UCS_THREAD_MODE_SERIALIZED;
  st = ucp_worker_create(lane->context, &wparams, &lane->worker);
  if (st != UCS_OK) {
    lane->worker = nullptr;
    return UcxError("ucp_worker_create", st);
  }
  ucp_worker_attr_t attr{};
  attr.field_mask = UCP_WORKER_ATTR_FIELD_THREAD_MODE | UCP_WORKER_ATTR_FIELD_ADDRESS;
  st = ucp_worker_query(lane->worker, &attr);
  if (st != UCS_OK) return UcxError("ucp_worker_query", st);
  lane->address.assign(reinterpret_cast<const char*>(attr.address), attr.address_length);
  ucp_worker_release_address(lane->worker, attr.address);
  thread_mode_ = attr.thread_mode == UCS_THREAD_MODE_SINGLE       ? "single"
                 : attr.thread_mode == UCS_THREAD_MODE_SERIALIZED ? "serialized"
                                                                  : "multi";
  lane->wakeup = params.features & UCP_FEATURE_WAKEUP;
  if (lane->wakeup && ucp_worker_get_efd(lane->worker, &lane->event_fd) != UCS_OK)
    lane->wakeup = false;
  return Status::Ok();
}

void UcxTransport::DestroyLane(Lane* lane) {
  if (lane->worker) ucp_worker_destroy(lane->worker);
  if (lane->context) ucp_cleanup(lane->context);
  *lane = Lane{};
}

namespace {
// BRAID_UCX_ERROR_MODE: auto (unset), peer or none.
Status ErrorMode(std::string* mode) {
  std::optional<std::string> value = env::Get("UCX_ERROR_MODE");
  if (!value) return Status::Ok();
  if (*value != "auto" && *value != "peer" && *value != "none") {
    return Status::InvalidArgument(
        fmt::format("{}='{}' unknown; valid: auto, peer, none", env::VariableName("UCX_ERROR_MODE"), *value));
  }
  *mode = *value;
  return Status::Ok();
}

}  // namespace

Status UcxTransport::CheckKnobs() {
  LocalLaneSettings local;
  BRAID_RETURN_IF_ERROR(ResolveLocalLane(&local));
  std::string mode;
  return ErrorMode(&mode);
}

Status UcxTransport::Init() {
  LocalLaneSettings local_lane;
  BRAID_RETURN_IF_ERROR(ResolveLocalLane(&local_lane));
  local_rndv_ = local_lane.rndv;
  local_eager_below_ = local_lane.eager_below;
  local_fifo_ = local_lane.fifo;
  local_segment_ = local_lane.segment;
  Status local = InitLane(&lanes_[kLocalLane], local_lane.settings);
  if (!local.ok()) {
    DestroyLane(&lanes_[kLocalLane]);
    // A lane the user configured is not swapped for another behind their back (a knob that UCX_TLS,
    // UCX_RNDV_THRESH or UCX_*_SEG_SIZE overrode was not applied, and cannot be the cause).
    const std::pair<const char*, bool> applied[] = {{"UCX_LOCAL_TLS", !local_lane.user_tls},
                                                    {"UCX_LOCAL_RNDV_THRESH", !local_lane.user_rndv},
                                                    {"UCX_LOCAL_SEG_SIZE", local_lane.segment_applied}};
    for (const auto& [knob, used] : applied) {
      if (used && env::Get(knob)) {
        return Status::InvalidArgument(fmt::format("{}='{}': UCX could not make the shared-memory lane with it: {}",
                                                   env::VariableName(knob), *env::Get(knob), local.ToString()));
      }
    }
    BRAID_WARN(kNet, "no shared-memory UCX lane ({}); same-host peers will use the network lane",
               local.ToString());
  }
  BRAID_RETURN_IF_ERROR(InitLane(&lanes_[kNetworkLane], {}).WithContext("UCX network lane"));
  interrupt_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (interrupt_fd_ < 0) return Status::SystemError(fmt::format("eventfd: {}", strerror(errno)));
  BRAID_INFO(kNet, "UCX {} workers created ({} thread mode; local lane {}, rendezvous from {}, "
             "FIFO {}, segment {}, wakeup {}; network lane wakeup {}; UCX_TLS {})",
             ucp_get_version_string(), thread_mode_, lanes_[kLocalLane].worker ? local_lane.tls.c_str() : "absent",
             local_rndv_, local_fifo_, local_segment_, lanes_[kLocalLane].wakeup ? "fd" : "polling",
             lanes_[kNetworkLane].wakeup ? "fd" : "polling", local_lane.user_tls ? "from the user" : "unset");
  return Status::Ok();
}

std::string UcxTransport::LocalAddress() const {
  const std::string& local = lanes_[kLocalLane].address;
  uint32_t len = uint32_t(local.size());
  std::string packed(reinterpret_cast<const char*>(&len), sizeof(len));
  return packed + local + lanes_[kNetworkLane].address;
}

UcxTransport::~UcxTransport() {
  if (lanes_[kNetworkLane].worker) {
    // The orderly shutdown allocates (lists, failure messages, log lines). The destructor is
    // noexcept, so out of memory there would end the process in std::terminate; it ends the
    // shutdown instead, and what is left fails without farewells.
    try {
      Shutdown();
    } catch (...) {
      AbandonEverything();
    }
  }
  for (Lane& lane : lanes_) DestroyLane(&lane);
  if (interrupt_fd_ >= 0) close(interrupt_fd_);
}

void UcxTransport::Shutdown() {
  // Whatever the caller left in flight fails: receives are cancelled here (an unmatched one ends
  // at once, a matched one when its data is in), sends end below.
  DrainCompleted();
  std::vector<Op*> recvs;  // collected first: a cancelled receive unlinks itself
  for (Op* op = pending_; op; op = op->next) {
    op->cancelled = true;
    if (!op->is_send) recvs.push_back(op);
  }
  for (Op* op : recvs) ucp_request_cancel(WorkerOf(op->peer), op);
  // Let UCX finish what it still holds before the worker goes, or it warns of each request left
  // ("not returned to mpool") and each message nobody received ("was not matched"). Over the
  // shared-memory lane a cancelled rendezvous send ends only when its peer answers it: the peer
  // does so as it is destroyed too (DrainUnexpected, here on both sides), or by matching it. Not
  // waited for: dead, departed and stalled peers, and those with error handling (below).
  Clock::time_point deadline = Clock::now() + kTeardownSettleBound;
  for (;;) {
    DrainUnexpected();
    Drive();
    ReapPolled();
    ReapDrains(/*all=*/false);
    if (!AwaitingPeers() || Clock::now() >= deadline) break;
  }
  // Peers whose data could still follow a farewell: a send of a caller's, or a lingering one. An
  // orphan (Abandon) is not waited for by anyone; its peer gets its farewell as before.
  std::vector<bool> sending(peers_.size(), false);
  for (Op* op = pending_; op; op = op->next)
    if (op->is_send && (op->user || op->lingering)) sending[size_t(op->peer)] = true;
  // Tell the shared-memory peers this rank leaves, so that its exit is not taken for a death
  // that blocked their queues (HostPeersHealth); the flush below lets the farewells out.
  SayFarewells(sending);
  // Let data of completed sends still queued in UCX leave first (a send "completes" once
  // buffered). A flushing ucp_ep_close waits for the peer to acknowledge, which hangs on dead
  // or busy peers, so flush the endpoints (bounded) and then close them forcibly.
  std::vector<void*> flushes;
  for (size_t p = 0; p < peers_.size(); ++p) {
    if (!peers_[p]->ep || !peers_[p]->sent || peers_[p]->failed || sending[p]) continue;
    ucp_request_param_t params{};
    ucs_status_ptr_t req = ucp_ep_flush_nbx(peers_[p]->ep, &params);
    if (UCS_PTR_IS_PTR(req)) flushes.push_back(req);
  }
  deadline = Clock::now() + kFlushBound;
  auto flushing = [&] {
    for (void* req : flushes)
      if (ucp_request_check_status(req) == UCS_INPROGRESS) return true;
    return false;
  };
  while (flushing() && Clock::now() < deadline) {
    Drive();
    DrainUnexpected();
  }
  for (void* req : flushes) ucp_request_free(req);
  // Endpoints with error handling are force-closed: UCX completes what is queued on them
  // (UCS_ERR_CANCELED). The others UCX cannot force-close (CloseEndpoint lets them go), and a
  // flushing close gains nothing: an endpoint the peer connected to stays until the worker goes
  // anyway, and a closed one no longer answers the peer's rendezvous requests (DrainUnexpected).
  // ucp_worker_destroy releases them.
  for (size_t p = 0; p < peers_.size(); ++p) CloseEndpoint(int(p), /*force=*/true);
  // The forced closes complete their endpoints' requests; what the shared-memory peers still owe
  // was waited for above.
  auto closing = [&] {
    if (!closing_.empty()) return true;
    for (Op* op = pending_; op; op = op->next)
      if (peers_[size_t(op->peer)]->error_handling) return true;
    return false;
  };
  deadline = Clock::now() + kCompletionBound;
  for (;;) {
    DrainUnexpected();
    Drive();
    ReapDrains(/*all=*/false);
    if (!closing() || Clock::now() >= deadline) break;
  }
  if (closing()) {
    BRAID_WARN(kNet, "UCX shutdown: gave up waiting for {} endpoint close(s){}", closing_.size(),
               pending_ ? " and in-flight operations" : "");
  }
  // What is left belongs to peers that died or stalled (or did not answer in time): UCX may still
  // warn of those requests as the worker goes.
  DrainCompleted();  // nothing freed below may still wait in the done queue
  while (pending_) {
    Op* op = pending_;
    if (Request* user = op->user) {
      op->user = nullptr;
      user->error = destroyed_;
      user->state.store(Request::State::kFailed, std::memory_order_release);
    }
    Release(op);
  }
  for (void* req : closing_) ucp_request_free(req);
  closing_.clear();
  DrainUnexpected();  // the last messages that arrived (a farewell, a late notice)
  ReapDrains(/*all=*/true);
}

void UcxTransport::AbandonEverything() noexcept {
  // Receives are cancelled first, so UCX gets their requests back (an unfinished one would stay
  // out of its pool); their callbacks only queue them (Defer). A finished operation on that queue
  // is also on pending_: it is failed with the rest.
  for (Op* op = pending_; op; op = op->next)
    if (!op->is_send && !op->completed) ucp_request_cancel(WorkerOf(op->peer), op);
  done_head_ = done_tail_ = nullptr;
  while (pending_) {
    Op* op = pending_;
    Unlink(op);
    Request* user = op->user;
    op->user = nullptr;
    op->magic = 0;
    ucp_request_free(op);  // an unfinished one goes back to UCX when the worker is destroyed
    if (user) {
      user->error = destroyed_;  // a shared, ready-made status: no allocation
      user->state.store(Request::State::kFailed, std::memory_order_release);
    }
  }
  for (void* req : closing_) ucp_request_free(req);
  closing_.clear();
  for (const Drain& d : drains_) ucp_request_free(d.request);
  drains_.clear();
}

Status UcxTransport::Connect(int rank, const std::vector<std::string>& addresses,
                             const std::vector<PeerProcess>& peers) {
  if (!peers_.empty()) return Status::InvalidUsage("UcxTransport::Connect called twice");
  int n = int(addresses.size());
  if (n <= 0 || n > kMaxWorldRanks || rank < 0 || rank >= n) {
    return Status::InvalidArgument(
        fmt::format("UCX connect: rank {} of {} addresses (need 0 <= rank < size <= {})", rank, n,
                    kMaxWorldRanks));
  }
  if (!peers.empty() && int(peers.size()) != n) {
    return Status::InvalidArgument(
        fmt::format("UCX connect: {} peer identities for {} addresses", peers.size(), n));
  }
  BRAID_RETURN_IF_ERROR(ErrorMode(&error_mode_));
  processes_ = peers;
  probe_limiter_.Resize(n);
  newly_failed_.reserve(size_t(n));  // each peer fails once: EndpointError never allocates here
  const std::string my_host = peers.empty() ? std::string() : peers[size_t(rank)].Locality();
  int same_host = 0;
  addresses_.assign(size_t(n), std::string());  // kept: an endpoint reset by Cancel() reconnects
  // Built aside and kept only whole: the destructor walks size_ peers, so a malformed address
  // (a corrupt or hostile rank) must leave none, not some (a SIGSEGV on every rank, QA).
  std::vector<std::unique_ptr<Peer>> built;
  built.reserve(size_t(n));
  for (int p = 0; p < n; ++p) {
    auto peer = std::make_unique<Peer>();
    peer->owner = this;
    peer->rank = p;
    // Each address is [u32 local length][local lane address][network lane address].
    const std::string& packed = addresses[size_t(p)];
    uint32_t local_len = 0;
    if (packed.size() < sizeof(local_len))
      return Status::InvalidArgument(fmt::format("UCX connect: rank {} sent a malformed address", p));
    std::memcpy(&local_len, packed.data(), sizeof(local_len));
    if (packed.size() < sizeof(local_len) + local_len)
      return Status::InvalidArgument(fmt::format("UCX connect: rank {} sent a malformed address", p));
    std::string local_addr = packed.substr(sizeof(local_len), local_len);
    std::string network_addr = packed.substr(sizeof(local_len) + local_len);
    bool local = !peers.empty() && peers[size_t(p)].Locality() == my_host && peers[size_t(p)].pid > 0;
    bool use_local_lane = local && error_mode_ != "peer" && lanes_[kLocalLane].worker &&
                          !local_addr.empty();
    same_host += use_local_lane;
    peer->lane = use_local_lane ? kLocalLane : kNetworkLane;
    lanes_[peer->lane].in_use = true;
    peer->error_handling = error_mode_ == "peer" || (error_mode_ == "auto" && !use_local_lane);
    addresses_[size_t(p)] = use_local_lane ? local_addr : network_addr;
    built.push_back(std::move(peer));
  }
  peers_ = std::move(built);
  rank_ = rank;
  size_ = n;
  BRAID_INFO(kNet, "UCX error mode {}: {} peers on the shared-memory lane (pid probes), {} on the "
             "network lane", error_mode_, same_host, n - same_host);
  std::map<std::string, std::vector<int>> by_transport;
  for (int p = 0; p < n; ++p) {
    if (addresses_[size_t(p)].empty())
      return Status::InvalidArgument(fmt::format("UCX connect: rank {} sent an empty address", p));
    Status st = CreateEndpoint(p);
    if (!st.ok()) return st.WithContext(fmt::format("connecting to rank {}", p));
    if (p < kMaxDescribedPeers) by_transport[EndpointTransports(peers_[size_t(p)]->ep)].push_back(p);
  }
  for (const auto& [tls, ranks] : by_transport) {
    if (!transports_.empty()) transports_.append("; ");
    transports_.append(tls).append(": ranks ");
    for (size_t i = 0; i < ranks.size(); ++i) {
      if (i) transports_.push_back(',');
      transports_.append(std::to_string(ranks[i]));
    }
  }
  if (n > kMaxDescribedPeers)
    transports_ += fmt::format("; ranks >= {} not queried", kMaxDescribedPeers);
  BRAID_INFO(kNet, "UCX rank {} of {} connected (error mode {}): {}", rank, n, error_mode_,
             transports_);
  return Status::Ok();
}

std::string UcxTransport::Describe() const {
  TransportLock::Guard guard(lock_);
  std::string s =
      fmt::format("ucx {}, {} worker, wakeup {}, error mode {}, same-host rendezvous from {}, FIFO {}, segment {}",
                  ucp_get_version_string(), thread_mode_, lanes_[kNetworkLane].wakeup ? "fd" : "polling",
                  error_mode_, local_rndv_, local_fifo_, local_segment_);
  if (!transports_.empty()) s += "; " + transports_;
  return s;
}

Status UcxTransport::CreateEndpoint(int peer) {
  ucp_ep_params_t params{};
  params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
  params.address = reinterpret_cast<const ucp_address_t*>(addresses_[size_t(peer)].data());
  const bool handle_errors = peers_[size_t(peer)]->error_handling;
  params.err_mode = handle_errors ? UCP_ERR_HANDLING_MODE_PEER : UCP_ERR_HANDLING_MODE_NONE;
  if (handle_errors) {
    params.field_mask |= UCP_EP_PARAM_FIELD_ERR_HANDLER;
    params.err_handler.cb = &UcxTransport::EndpointError;
    params.err_handler.arg = peers_[size_t(peer)].get();
  }
  peers_[size_t(peer)]->sent = false;
  ucs_status_t st = ucp_ep_create(WorkerOf(peer), &params, &peers_[size_t(peer)]->ep);
  if (st == UCS_OK) return Status::Ok();
  peers_[size_t(peer)]->ep = nullptr;
  // A peer that exited while we connected (during Create, or before a reconnect) is the
  // peer's failure, not this rank's: RemoteError naming it, as for a death noticed later.
  if (peer != rank_ && SameHost(peer) && LocalProcessExited(processes_[size_t(peer)].pid))
    return Status::RemoteError(fmt::format("{} (ucp_ep_create: {})", ExitedMessage(peer), ucs_status_string(st)));
  if (PeerUnreachable(st)) {
    const PeerProcess* proc = size_t(peer) < processes_.size() ? &processes_[size_t(peer)] : nullptr;
    return Status::RemoteError(fmt::format("ucp_ep_create to rank {}{}: {}", peer,
                                           proc ? fmt::format(" (host {}, pid {})", proc->host, proc->pid) : "",
                                           ucs_status_string(st)));
  }
  return UcxError("ucp_ep_create", st);
}

void UcxTransport::CloseEndpoint(int peer, bool force) {
  ucp_ep_h ep = peers_[size_t(peer)]->ep;
  if (!ep) return;
  peers_[size_t(peer)]->ep = nullptr;  // from now on EndpointError ignores this ep; the next send reconnects
  // UCX refuses to force-close an endpoint without error handling (FORCE needs
  // UCP_ERR_HANDLING_MODE_PEER: ucp_ep_close_nbx returns UCS_ERR_INVALID_PARAM and leaves it
  // open). It is only let go: what it still holds (a rendezvous the peer may yet answer) stays
  // with UCX, and ucp_worker_destroy releases it, completing what is still queued on it.
  if (force && !peers_[size_t(peer)]->error_handling) return;
  ucp_request_param_t params{};
  params.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  params.flags = force ? UCP_EP_CLOSE_FLAG_FORCE : 0;
  ucs_status_ptr_t req = ucp_ep_close_nbx(ep, &params);
  if (UCS_PTR_IS_PTR(req)) closing_.push_back(req);
}

void UcxTransport::ReapClosed() {
  std::erase_if(closing_, [](void* req) {
    if (ucp_request_check_status(req) == UCS_INPROGRESS) return false;
    ucp_request_free(req);
    return true;
  });
}

}  // namespace braid::transport
