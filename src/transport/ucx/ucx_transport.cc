#include "transport/ucx/ucx_transport.h"

#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "core/env.h"
#include "core/log.h"

namespace braid::transport {

// Our bookkeeping for one in-flight operation, stored in the space UCX reserves in each of its
// requests (ucp_params_t::request_size), so posting allocates nothing of ours.
struct UcxTransport::Op {
  uint32_t magic;  // kOpLive while we track it; 0 while UCX owns the memory
  UcxTransport* owner;
  Request* user;  // null once abandoned: the callback then only frees the UCX request
  int peer;
  bool is_send;
  bool cancelled;
  bool linked;
  Op* prev;
  Op* next;
};

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kOpLive = 0x4272644f;

// How long Cancel() lets a pending send finish by itself before resetting the endpoint, and how
// long Cancel()/the destructor wait for UCX to complete what they asked for.
// Transports of the shared-memory lane unless BRAID_UCX_LOCAL_TLS or UCX_TLS say otherwise.
constexpr const char* kDefaultLocalTls = "posix,sysv,self";
constexpr auto kSendCancelGrace = std::chrono::milliseconds(1);
constexpr auto kCompletionBound = std::chrono::seconds(2);
// How long the destructor lets buffered outgoing data drain to live peers.
constexpr auto kFlushBound = std::chrono::seconds(1);
// Without a wakeup fd: the longest nap in WaitForActivity (microseconds).
constexpr int kFallbackNapUs = 50;
// At most this many other failed peers are named in a peer's failure message.
constexpr int kMaxNotedFailures = 4;
// Transports of at most this many peers are queried for Describe() (ucp_ep_print_info is slow).
constexpr int kMaxDescribedPeers = 64;

Status UcxError(const char* what, ucs_status_t status) {
  return Status::SystemError(fmt::format("{} failed: {}", what, ucs_status_string(status)));
}

}  // namespace

Status UcxTransport::Create(std::unique_ptr<UcxTransport>* out) {
  std::unique_ptr<UcxTransport> t(new UcxTransport());
  BRAID_RETURN_IF_ERROR(t->Init());
  *out = std::move(t);
  return Status::Ok();
}

Status UcxTransport::InitLane(Lane* lane, const char* tls) {
  ucp_config_t* config = nullptr;
  ucs_status_t st = ucp_config_read(nullptr, nullptr, &config);
  if (st != UCS_OK) return UcxError("ucp_config_read", st);
  // Only our own context's configuration changes, never the environment; a user's explicit
  // UCX_TLS wins (tls is null then).
  if (tls && (st = ucp_config_modify(config, "TLS", tls)) != UCS_OK) {
    ucp_config_release(config);
    return UcxError("ucp_config_modify(TLS)", st);
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

Status UcxTransport::Init() {
  const bool user_tls = std::getenv("UCX_TLS") != nullptr;
  // Local lane: shared memory without cma. In UCX 1.13 a peer that dies during a CMA transfer
  // aborts the process when the endpoint has no error handling (see the header).
  static const std::string local_tls =
      env::Get("UCX_LOCAL_TLS").value_or(std::string(kDefaultLocalTls));
  Status local = InitLane(&lanes_[kLocalLane], user_tls ? nullptr : local_tls.c_str());
  if (!local.ok()) {
    BRAID_WARN(kNet, "no shared-memory UCX lane ({}); same-host peers will use the network lane",
               local.ToString());
    DestroyLane(&lanes_[kLocalLane]);
  }
  BRAID_RETURN_IF_ERROR(InitLane(&lanes_[kNetworkLane], nullptr).WithContext("UCX network lane"));
  interrupt_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (interrupt_fd_ < 0) return Status::SystemError(fmt::format("eventfd: {}", strerror(errno)));
  BRAID_INFO(kNet, "UCX {} workers created ({} thread mode; local lane {}, wakeup {}; network "
             "lane wakeup {}; UCX_TLS {})",
             ucp_get_version_string(), thread_mode_,
             lanes_[kLocalLane].worker ? (user_tls ? "UCX_TLS" : local_tls.c_str()) : "absent",
             lanes_[kLocalLane].wakeup ? "fd" : "polling",
             lanes_[kNetworkLane].wakeup ? "fd" : "polling", user_tls ? "from the user" : "unset");
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
    // Whatever the caller left in flight fails: receives are cancelled here, sends when their
    // endpoints are force-closed below.
    std::vector<bool> sending(peers_.size(), false);
    std::vector<Op*> recvs;  // collected first: a cancelled receive unlinks itself
    for (Op* op = pending_; op; op = op->next) {
      op->cancelled = true;
      if (op->is_send)
        sending[size_t(op->peer)] = true;
      else
        recvs.push_back(op);
    }
    for (Op* op : recvs) ucp_request_cancel(WorkerOf(op->peer), op);
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
    Clock::time_point deadline = Clock::now() + kFlushBound;
    auto flushing = [&] {
      for (void* req : flushes)
        if (ucp_request_check_status(req) == UCS_INPROGRESS) return true;
      return false;
    };
    while (flushing() && Clock::now() < deadline) Drive();
    for (void* req : flushes) ucp_request_free(req);
    for (size_t p = 0; p < peers_.size(); ++p) CloseEndpoint(int(p), /*force=*/true);
    deadline = Clock::now() + kCompletionBound;
    while ((pending_ || !closing_.empty()) && Clock::now() < deadline) Drive();
    if (pending_ || !closing_.empty()) {
      BRAID_WARN(kNet, "UCX shutdown: gave up waiting for {} endpoint close(s){}", closing_.size(),
                 pending_ ? " and in-flight operations" : "");
    }
    while (pending_) Abandon(pending_, Status::Aborted("transport destroyed"));
    for (void* req : closing_) ucp_request_free(req);
    closing_.clear();
  }
  for (Lane& lane : lanes_) DestroyLane(&lane);
  if (interrupt_fd_ >= 0) close(interrupt_fd_);
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
  if (std::optional<std::string> mode = env::Get("UCX_ERROR_MODE")) {
    if (*mode == "auto" || *mode == "peer" || *mode == "none") {
      error_mode_ = *mode;
    } else {
      BRAID_WARN(kNet, "BRAID_UCX_ERROR_MODE='{}' unknown (auto|peer|none); using auto", *mode);
    }
  }
  rank_ = rank;
  size_ = n;
  processes_ = peers;
  probe_limiter_.Resize(n);
  const std::string my_host = peers.empty() ? std::string() : peers[size_t(rank)].host;
  int same_host = 0;
  addresses_.assign(size_t(n), std::string());  // kept: an endpoint reset by Cancel() reconnects
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
    bool local = !peers.empty() && peers[size_t(p)].host == my_host && peers[size_t(p)].pid > 0;
    bool use_local_lane = local && error_mode_ != "peer" && lanes_[kLocalLane].worker &&
                          !local_addr.empty();
    same_host += use_local_lane;
    peer->lane = use_local_lane ? kLocalLane : kNetworkLane;
    peer->error_handling = error_mode_ == "peer" || (error_mode_ == "auto" && !use_local_lane);
    addresses_[size_t(p)] = use_local_lane ? local_addr : network_addr;
    peers_.push_back(std::move(peer));
  }
  BRAID_INFO(kNet, "UCX error mode {}: {} peers on the shared-memory lane (pid probes), {} on the "
             "network lane", error_mode_, same_host, n - same_host);
  std::map<std::string, std::vector<int>> by_transport;
  for (int p = 0; p < n; ++p) {
    if (addresses_[size_t(p)].empty())
      return Status::InvalidArgument(fmt::format("UCX connect: rank {} sent an empty address", p));
    Status st = CreateEndpoint(p);
    if (!st.ok()) return st.WithContext(fmt::format("connecting to rank {}", p));
    if (p < kMaxDescribedPeers) by_transport[TransportsOf(peers_[size_t(p)]->ep)].push_back(p);
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
  std::string s =
      fmt::format("ucx {}, {} worker, wakeup {}, error mode {}", ucp_get_version_string(), thread_mode_,
                  lanes_[kNetworkLane].wakeup ? "fd" : "polling", error_mode_);
  if (!transports_.empty()) s += "; " + transports_;
  return s;
}

std::string UcxTransport::TransportsOf(ucp_ep_h ep) const {
  // ucp_ep_print_info lists lanes as "lane[0]:  1:tcp/lo.0 md[1] -> ..."; keep "tcp/lo.0".
  char* text = nullptr;
  size_t len = 0;
  FILE* stream = open_memstream(&text, &len);
  if (!stream) return "?";
  ucp_ep_print_info(ep, stream);
  fclose(stream);
  std::string tls;
  std::string_view rest(text, len);
  for (size_t at; (at = rest.find("]:  ")) != std::string_view::npos;) {
    rest = rest.substr(at + 4);  // "1:tcp/lo.0 md[1] ..."
    std::string_view tl = rest.substr(0, rest.find(' '));
    tl = tl.substr(tl.find(':') + 1);  // npos + 1 == 0: no index, keep it all
    if (!tl.empty() && tls.find(tl) == std::string::npos) {
      if (!tls.empty()) tls.push_back('+');
      tls.append(tl);
    }
  }
  free(text);
  return tls.empty() ? "?" : tls;
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
  if (st != UCS_OK) {
    peers_[size_t(peer)]->ep = nullptr;
    return UcxError("ucp_ep_create", st);
  }
  return Status::Ok();
}

void UcxTransport::CloseEndpoint(int peer, bool force) {
  ucp_ep_h ep = peers_[size_t(peer)]->ep;
  if (!ep) return;
  peers_[size_t(peer)]->ep = nullptr;  // from now on EndpointError ignores this ep
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

void UcxTransport::EndpointError(void* arg, ucp_ep_h ep, ucs_status_t status) {
  Peer* peer = static_cast<Peer*>(arg);
  if (peer->ep != ep || peer->failed) return;  // an endpoint we already closed or gave up on
  UcxTransport* self = peer->owner;
  std::string who = fmt::format("rank {}", peer->rank);
  if (size_t(peer->rank) < self->processes_.size()) {
    const PeerProcess& proc = self->processes_[size_t(peer->rank)];
    who += fmt::format(" (host {}, pid {})", proc.host, proc.pid);
  }
  self->MarkFailed(peer->rank, fmt::format("{} failed: {}", who, ucs_status_string(status)));
}

void UcxTransport::MarkFailed(int peer, std::string why) {
  if (peers_[size_t(peer)]->failed) return;
  // One failure often follows another: a rank that saw a peer die gives up and exits, and its
  // partners then see *it* fail. So probe the other same-host peers now (failing operations
  // involving them too), and name every failed peer in this one's message: the root cause is
  // among them.
  for (int q = 0; q < size_; ++q) {
    if (q != peer && q != rank_ && !peers_[size_t(q)]->failed && SameHost(q) &&
        LocalProcessExited(processes_[size_t(q)].pid)) {
      SetFailed(q, ExitedMessage(q), ExitedMessage(q));
    }
  }
  std::string full = why;
  int noted = 0;
  for (int q = 0; q < size_; ++q) {
    if (q == peer || !peers_[size_t(q)]->failed) continue;
    if (++noted <= kMaxNotedFailures) full += "; also " + peers_[size_t(q)]->cause;
  }
  if (noted > kMaxNotedFailures) full += fmt::format(" (and {} more)", noted - kMaxNotedFailures);
  SetFailed(peer, std::move(why), std::move(full));
}

void UcxTransport::SetFailed(int peer, std::string cause, std::string full) {
  Peer& p = *peers_[size_t(peer)];
  // INFO, not WARN: at job end every peer that exits first shows up here; what matters reaches
  // the caller through PeerHealth() and the failed requests.
  BRAID_INFO(kNet, "{}", full);
  p.failed = true;
  p.cause = std::move(cause);
  p.failure = std::move(full);
  // Closing endpoints and cancelling requests inside a UCX callback is not allowed; defer.
  newly_failed_.push_back(peer);
}

bool UcxTransport::SameHost(int peer) const {
  return size_t(peer) < processes_.size() && size_t(rank_) < processes_.size() &&
         processes_[size_t(peer)].host == processes_[size_t(rank_)].host;
}

std::string UcxTransport::ExitedMessage(int peer) const {
  return fmt::format("rank {} (pid {} on this host) exited", peer, processes_[size_t(peer)].pid);
}

void UcxTransport::HandleFailures() {
  while (!newly_failed_.empty()) {
    int peer = newly_failed_.back();
    newly_failed_.pop_back();
    CloseEndpoint(peer, /*force=*/true);  // fails the sends queued on it
    // Receives are not tied to an endpoint: cancel them (their callbacks run at once and
    // report the peer's failure). Collect first, since completion unlinks.
    std::vector<Op*> recvs;
    for (Op* op = pending_; op; op = op->next)
      if (!op->is_send && op->peer == peer) recvs.push_back(op);
    for (Op* op : recvs) ucp_request_cancel(WorkerOf(op->peer), op);
    if (!peers_[size_t(peer)]->error_handling) {
      // Without error handling UCX does not complete sends whose endpoint was force-closed (a
      // rendezvous waiting for a dead peer's reply stays pending). The peer is gone, so nothing
      // will read from these buffers again: fail the sends now.
      std::vector<Op*> sends;
      for (Op* op = pending_; op; op = op->next)
        if (op->is_send && op->peer == peer) sends.push_back(op);
      for (Op* op : sends)
        Abandon(op, Status::RemoteError(
                        fmt::format("send to rank {}: {}", peer, peers_[size_t(peer)]->failure)));
    }
  }
}

unsigned UcxTransport::Drive() {
  unsigned events = 0;
  for (Lane& lane : lanes_)
    if (lane.worker) events += ucp_worker_progress(lane.worker);
  HandleFailures();
  if (!closing_.empty()) ReapClosed();
  return events;
}

void UcxTransport::Unlink(Op* op) {
  if (!op->linked) return;
  if (op->prev)
    op->prev->next = op->next;
  else
    pending_ = op->next;
  if (op->next) op->next->prev = op->prev;
  op->linked = false;
}

void UcxTransport::Abandon(Op* op, Status why) {
  Unlink(op);
  Request* user = op->user;
  op->user = nullptr;
  op->magic = 0;
  // Freeing an unfinished UCX request hands it back to UCX once it completes; no callback runs.
  ucp_request_free(op);
  if (user) {
    user->error = std::move(why);
    user->state.store(Request::State::kFailed, std::memory_order_release);
  }
}

void UcxTransport::InitRequest(void* request) { static_cast<Op*>(request)->magic = 0; }

void UcxTransport::SendDone(void* request, ucs_status_t status, void* user_data) {
  RecvDone(request, status, nullptr, user_data);
}

// Also the send callback. UCX may call it inside ucp_tag_*_nbx (receives are posted with
// NO_IMM_CMPL because UCX 1.13 does not fill recv_info on immediate completion, and a callback is
// the only way to learn the received length); the Op is not set up yet then, so the result is
// parked in immediate_ for the posting code.
void UcxTransport::RecvDone(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                            void* user_data) {
  Op* op = static_cast<Op*>(request);
  size_t length = info ? info->length : 0;
  if (op->magic != kOpLive) {
    static_cast<UcxTransport*>(user_data)->immediate_ = {true, status, length};
    return;
  }
  op->owner->Complete(op, status, length);
}

void UcxTransport::Complete(Op* op, ucs_status_t status, size_t received) {
  Unlink(op);
  Request* user = op->user;
  const int peer = op->peer;
  const bool is_send = op->is_send, cancelled = op->cancelled;
  op->magic = 0;
  ucp_request_free(op);
  if (!user) return;
  ++completions_;
  Finish(user, peer, is_send, cancelled, status, received);
}

void UcxTransport::Finish(Request* user, int peer, bool is_send, bool cancelled,
                          ucs_status_t status, size_t received) {
  const char* dir = is_send ? "send to" : "receive from";
  Status error;
  if (status == UCS_OK) {
    if (!is_send && received != user->bytes) {
      error = Status::InvalidUsage(
          fmt::format("message from rank {} too short: expected {} bytes, got {}", peer,
                      user->bytes, received));
    }
  } else if (status == UCS_ERR_MESSAGE_TRUNCATED) {
    error = Status::InvalidUsage(
        fmt::format("message from rank {} truncated: expected {} bytes{}", peer, user->bytes,
                    received > user->bytes ? fmt::format(", got {}", received) : ""));
  } else if (cancelled) {
    error = Status::Aborted("cancelled");
  } else if (peers_[size_t(peer)]->failed) {
    error = Status::RemoteError(
        fmt::format("{} rank {}: {}", dir, peer, peers_[size_t(peer)]->failure));
  } else if (status == UCS_ERR_CANCELED) {
    error = Status::Aborted(fmt::format(
        "{} rank {} aborted: its endpoint was reset to cancel another send", dir, peer));
  } else {
    error = Status::RemoteError(
        fmt::format("{} rank {} failed: {}", dir, peer, ucs_status_string(status)));
  }
  const bool failed = !error.ok();
  if (failed) user->error = std::move(error);
  // The caller may reuse `user` as soon as it sees the new state: nothing touches it afterwards.
  user->state.store(failed ? Request::State::kFailed : Request::State::kDone,
                    std::memory_order_release);
}

Status UcxTransport::CheckPeer(int peer, const char* what) const {
  if (peers_.empty()) return Status::InvalidUsage(fmt::format("UCX {} before Connect", what));
  if (peer < 0 || peer >= size_) {
    return Status::InvalidArgument(
        fmt::format("UCX {}: peer rank {} out of range [0, {})", what, peer, size_));
  }
  const Peer& p = *peers_[size_t(peer)];
  if (p.failed) return Status::RemoteError(fmt::format("{} rank {}: {}", what, peer, p.failure));
  return Status::Ok();
}

namespace {
ucs_memory_type_t UcsMemoryType(MemoryType mem) {
  return mem == MemoryType::kCuda ? UCS_MEMORY_TYPE_CUDA : UCS_MEMORY_TYPE_HOST;
}
}  // namespace

Status UcxTransport::PostSend(int peer, uint64_t tag, const void* buf, size_t bytes, MemoryType mem,
                              Request* req) {
  BRAID_RETURN_IF_ERROR(CheckPeer(peer, "send to"));
  if (!peers_[size_t(peer)]->ep) {  // reset by an earlier Cancel(); reconnect
    Status st = CreateEndpoint(peer);
    if (!st.ok()) return st.WithContext(fmt::format("reconnecting to rank {}", peer));
  }
  ucp_request_param_t params{};
  params.op_attr_mask =
      UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_MEMORY_TYPE;
  params.cb.send = &UcxTransport::SendDone;
  params.user_data = this;
  params.memory_type = UcsMemoryType(mem);  // given, so UCX skips detecting it per call
  peers_[size_t(peer)]->sent = true;
  return Track(ucp_tag_send_nbx(peers_[size_t(peer)]->ep, buf, bytes, tag, &params), peer, true,
               bytes, req);
}

Status UcxTransport::PostRecv(int peer, uint64_t tag, void* buf, size_t bytes, MemoryType mem,
                              Request* req) {
  BRAID_RETURN_IF_ERROR(CheckPeer(peer, "receive from"));
  ucp_request_param_t params{};
  params.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA |
                        UCP_OP_ATTR_FIELD_MEMORY_TYPE | UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
  params.cb.recv = &UcxTransport::RecvDone;
  params.user_data = this;
  params.memory_type = UcsMemoryType(mem);
  // Full mask: the tag carries the source rank, so matching it matches the peer too.
  return Track(ucp_tag_recv_nbx(WorkerOf(peer), buf, bytes, tag, ~uint64_t(0), &params), peer, false,
               bytes, req);
}

Status UcxTransport::Track(ucs_status_ptr_t ret, int peer, bool is_send, size_t bytes,
                           Request* req) {
  if (UCS_PTR_IS_ERR(ret)) {
    immediate_.done = false;
    return Status::RemoteError(fmt::format("{} rank {} ({} bytes) failed: {}",
                                           is_send ? "send to" : "receive from", peer, bytes,
                                           ucs_status_string(UCS_PTR_STATUS(ret))));
  }
  req->error = Status();
  req->peer = peer;
  req->bytes = bytes;
  req->handle = nullptr;
  if (ret == nullptr) {  // a send that completed on the spot
    req->state.store(Request::State::kDone, std::memory_order_release);
    return Status::Ok();
  }
  if (immediate_.done) {
    // Completed inside the call; a size mismatch fails the request although we return OK (the
    // message was consumed).
    immediate_.done = false;
    ucp_request_free(ret);
    Finish(req, peer, is_send, /*cancelled=*/false, immediate_.status, immediate_.length);
    return Status::Ok();
  }
  Op* op = static_cast<Op*>(ret);
  *op = Op{kOpLive,         this,    req,     peer, is_send, /*cancelled=*/false,
           /*linked=*/true, nullptr, pending_};
  if (pending_) pending_->prev = op;
  pending_ = op;
  req->handle = op;
  req->state.store(Request::State::kPending, std::memory_order_release);
  return Status::Ok();
}

bool UcxTransport::Progress() {
  // Only completions count: UCX also reports its own traffic (wireup, keepalive) as events, and
  // callers restart their no-progress timeout whenever this returns true.
  Drive();
  bool changed = completions_ != completions_seen_;
  completions_seen_ = completions_;
  return changed;
}

void UcxTransport::WaitForActivity(int timeout_us) {
  if (timeout_us < 0) timeout_us = 0;
  pollfd fds[1 + kNumLanes];
  fds[0] = {interrupt_fd_, POLLIN, 0};
  nfds_t nfds = 1;
  bool all_armed = true;
  for (Lane& lane : lanes_) {
    if (!lane.worker) continue;
    if (!lane.wakeup) {
      all_armed = false;
      continue;
    }
    // Arming re-enables the fd's notifications; BUSY means events are already queued, so the
    // caller should progress instead of sleeping.
    ucs_status_t st = ucp_worker_arm(lane.worker);
    if (st == UCS_ERR_BUSY) return;
    if (st == UCS_OK) {
      fds[nfds++] = {lane.event_fd, POLLIN, 0};
    } else {
      BRAID_WARN(kNet, "ucp_worker_arm failed ({}); polling from now on", ucs_status_string(st));
      lane.wakeup = false;
      all_armed = false;
    }
  }
  if (!all_armed) {
    // A worker without a wakeup fd: let other ranks sharing our core run, then nap briefly.
    sched_yield();
    timeout_us = std::min(timeout_us, kFallbackNapUs);
  }
  timespec ts{timeout_us / 1000000, long(timeout_us % 1000000) * 1000};
  if (ppoll(fds, nfds, &ts, nullptr) > 0 && (fds[0].revents & POLLIN)) {
    uint64_t count;
    [[maybe_unused]] ssize_t n = read(interrupt_fd_, &count, sizeof(count));  // re-arm
  }
}

void UcxTransport::Interrupt() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(interrupt_fd_, &one, sizeof(one));
}

void UcxTransport::Cancel(Request* req) {
  if (req->finished() || req->state.load(std::memory_order_acquire) == Request::State::kIdle ||
      !req->handle) {
    return;
  }
  Op* op = static_cast<Op*>(req->handle);
  op->cancelled = true;
  const int peer = op->peer;
  Clock::time_point start = Clock::now();
  if (!op->is_send) {
    // Removes an unmatched receive at once; a matched one (rendezvous under way) finishes soon.
    ucp_request_cancel(WorkerOf(peer), op);
  } else {
    // UCX cannot cancel a send. Give it a moment to complete; then force-close the endpoint,
    // which fails everything queued on it, and reconnect on the next send to that peer.
    while (!req->finished() && Clock::now() - start < kSendCancelGrace) Drive();
    if (!req->finished()) {
      BRAID_INFO(kNet, "cancelling a send to rank {}: resetting its endpoint", peer);
      CloseEndpoint(peer, /*force=*/true);
      // Without error handling UCX never completes the sends of a force-closed endpoint. Over
      // the shared-memory lane (no cma) the peer cannot read our buffer itself, so once the
      // endpoint is gone the send is dead: fail it now instead of after kCompletionBound.
      if (!peers_[size_t(peer)]->error_handling) {
        Drive();
        if (!req->finished()) Abandon(op, Status::Aborted("cancelled"));
        return;
      }
    }
  }
  while (!req->finished() && Clock::now() - start < kCompletionBound) Drive();
  if (!req->finished()) {
    BRAID_WARN(kNet, "{} rank {} did not stop within {} s of being cancelled; abandoning it",
               op->is_send ? "send to" : "receive from", peer,
               std::chrono::duration<double>(kCompletionBound).count());
    Abandon(op, Status::Aborted("cancelled"));
  }
}

Status UcxTransport::PeerHealth(int peer) {
  if (peers_.empty() || peer < 0 || peer >= size_) return CheckPeer(peer, "health of");
  Peer& p = *peers_[size_t(peer)];
  if (!p.failed && peer != rank_ && size_t(peer) < processes_.size() &&
      processes_[size_t(peer)].host == processes_[size_t(rank_)].host && probe_limiter_.Due(peer) &&
      LocalProcessExited(processes_[size_t(peer)].pid)) {
    MarkFailed(peer, fmt::format("rank {} (pid {} on this host) exited", peer,
                                 processes_[size_t(peer)].pid));
    HandleFailures();
  }
  if (p.failed) return Status::RemoteError(p.failure);
  return Status::Ok();
}

}  // namespace braid::transport
