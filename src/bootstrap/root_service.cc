// The rendezvous root: one background thread multiplexes the listener and every connection with
// poll() over non-blocking sockets, so a slow, stalled or hostile client can delay nobody.
// Wire format: see bootstrap/socket.h.
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "bootstrap/interface.h"
#include "bootstrap/rendezvous.h"
#include "bootstrap/root_state.h"
#include "bootstrap/socket.h"
#include "core/log.h"

namespace braid::bootstrap {

class RootService::Impl {
 public:
  // `fixed_nonce` null: a random nonce (GetUniqueId); else that nonce (BRAID_ROOT, where the
  // other ranks derive it from host:port because they have no id to copy).
  static Status Create(const std::string& bind_host, uint16_t port, double timeout_s,
                       const uint64_t* fixed_nonce, std::unique_ptr<Impl>* out, UniqueId* id);
  Impl(Fd listener, Fd wake, double timeout_s, uint64_t nonce, std::string where)
      : gather_(std::move(where), nonce, timeout_s, [this](const std::string& outcome) { EndGathering(outcome); }),
        nonce_(nonce),
        listener_(std::move(listener)),
        wake_(std::move(wake)) {}
  ~Impl();

  void Join();
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  int ranks_joined() const { return ranks_joined_.load(std::memory_order_acquire); }
  uint64_t nonce() const { return nonce_; }
  Clock::time_point started() const { return started_; }
  // How the rendezvous ended (RootState::outcome, or "was stopped"); empty while it gathers.
  // Known before any rank has its answer, so a rank that brings the id again right after its
  // rendezvous is told it is over (it raced the service thread's tidying up; CI session 62).
  std::string outcome() const {
    std::lock_guard<std::mutex> lock(outcome_mu_);
    return outcome_;
  }
  void StartThread() { thread_ = std::thread([this] { Run(); }); }

 private:
  void Run();    // Serve(), then closes everything, whatever Serve() threw
  void Serve();  // the poll loop, until the rendezvous is done or the service is stopped

  void Publish(const std::string& outcome) {
    std::lock_guard<std::mutex> lock(outcome_mu_);
    outcome_ = outcome;
  }
  // RootState's end hook, before any rank has its answer: the outcome is published, then the
  // listener closes (late joiners get ECONNREFUSED, and a root for the same fixed port may bind
  // again as soon as a rank returns).
  void EndGathering(const std::string& outcome) {
    Publish(outcome);  // first: a refused connection then always finds the end published
    listener_.Reset();
  }

  mutable std::mutex outcome_mu_;  // guards outcome_, written by the service thread
  std::string outcome_;
  RootState gather_;  // all connection and protocol state; touched by the service thread only
  const uint64_t nonce_;
  const Clock::time_point started_ = Clock::now();
  Fd listener_;
  Fd wake_;  // eventfd: the destructor writes it to wake poll(); closed when the service ends
  std::mutex wake_mu_;  // guards wake_ between the destructor's write and Run's close
  std::thread thread_;
  std::mutex join_mu_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::atomic<int> ranks_joined_{0};  // gather_.joined_count(), published by the service thread
};

Status RootService::Impl::Create(const std::string& bind_host, uint16_t port, double timeout_s,
                                 const uint64_t* fixed_nonce, std::unique_ptr<Impl>* out,
                                 UniqueId* id) {
  if (out == nullptr || id == nullptr)
    return Status::InvalidArgument("bootstrap root: null output pointer");
  if (!(timeout_s > 0)) {
    return Status::InvalidArgument(
        fmt::format("bootstrap root: timeout {} s must be > 0", timeout_s));
  }
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string advertised;
  if (bind_host.empty()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_ANY);
    in->sin_port = htons(port);
    addr_len = sizeof(sockaddr_in);
  } else {
    Status s = ResolveHost(bind_host, port, &addr, &addr_len, &advertised);
    if (!s.ok()) return s.WithContext("bootstrap root");
  }
  // A wildcard bind address is useless to peers: advertise an interface address instead
  // (BRAID_SOCKET_IFNAME's choice, or the first non-loopback one).
  if (advertised.empty() || advertised == "0.0.0.0" || advertised == "::") {
    Status s = AdvertisedAddress(&advertised);
    if (!s.ok()) return s.WithContext("bootstrap root");
  }
  std::string bind_text = SockaddrString(reinterpret_cast<sockaddr*>(&addr));

  Fd listener(socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listener.valid()) {
    return Status::SystemError(
        fmt::format("bootstrap root: socket() failed: {}", ErrnoString(errno)));
  }
  int one = 1;
  setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    return Status::SystemError(fmt::format("bootstrap root: cannot bind to {}: {}", bind_text,
                                           ErrnoString(errno)));
  }
  if (listen(listener.get(), SOMAXCONN) != 0) {
    return Status::SystemError(fmt::format("bootstrap root: cannot listen on {}: {}", bind_text,
                                           ErrnoString(errno)));
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  if (getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
    return Status::SystemError(
        fmt::format("bootstrap root: getsockname failed: {}", ErrnoString(errno)));
  }
  uint16_t bound_port = ntohs(bound.ss_family == AF_INET
                                  ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                  : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  Fd wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake.valid()) {
    return Status::SystemError(
        fmt::format("bootstrap root: eventfd() failed: {}", ErrnoString(errno)));
  }
  RootAddress root{advertised, bound_port, fixed_nonce ? *fixed_nonce : RandomU64()};
  std::string where = FormatHostPort(root.host, root.port);
  auto impl = std::make_unique<Impl>(std::move(listener), std::move(wake), timeout_s, root.nonce,
                                     where);
  try {
    impl->StartThread();
  } catch (const std::system_error& e) {
    return Status::SystemError(fmt::format("bootstrap root: cannot start thread: {}", e.what()));
  }
  BRAID_INFO(kBoot, "bootstrap root listening on {} (bound {}), timeout {} s", where,
             SockaddrString(reinterpret_cast<sockaddr*>(&bound)), FormatSeconds(timeout_s));
  *id = EncodeUniqueId(root);
  *out = std::move(impl);
  return Status::Ok();
}

RootService::Impl::~Impl() {
  stop_.store(true, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    uint64_t one = 1;
    if (wake_.valid()) {
      ssize_t n = write(wake_.get(), &one, sizeof(one));
      (void)n;  // the eventfd cannot be full after one write; poll() also rechecks stop_
    }
  }
  Join();
}

void RootService::Impl::Join() {
  std::lock_guard<std::mutex> lock(join_mu_);
  if (thread_.joinable()) thread_.join();
}

void RootService::Impl::Run() {
  try {
    Serve();
  } catch (const std::exception& e) {
    // Out of memory or a bug: end the rendezvous (the ranks see the root close) rather than the
    // process that hosts the root.
    try {
      BRAID_WARN(kBoot, "bootstrap root at {}: {}; giving up", gather_.where(), e.what());
    } catch (const std::exception&) {  // the message itself could not be made
    }
  }
  // Stopped or done: close everything now (fds are owned by gather_ and listener_).
  gather_.CloseAll();
  listener_.Reset();
  {
    // Nothing waits on it any more: a root whose id was never used (GetUniqueId alone) would
    // otherwise keep its eventfd until the process ends.
    std::lock_guard<std::mutex> lock(wake_mu_);
    wake_.Reset();
  }
  // Stopped before the end, or the hook's Publish threw (out of memory): published now.
  if (outcome().empty()) Publish(gather_.outcome().empty() ? "was stopped" : gather_.outcome());
  finished_.store(true, std::memory_order_release);
}

void RootService::Impl::Serve() {
  std::vector<pollfd> fds;
  while (!stop_.load(std::memory_order_acquire)) {
    Clock::time_point wake_at = gather_.NextDeadline();
    fds.clear();
    fds.push_back({wake_.get(), POLLIN, 0});
    bool listening = listener_.valid() && gather_.gathering() && !gather_.accept_paused();
    if (listening) fds.push_back({listener_.get(), POLLIN, 0});
    size_t first_conn = fds.size();
    gather_.AppendPollFds(&fds);
    // Cap the sleep at 1 s so that a clock or poll() oddity can never stall us for long.
    int rc = poll(fds.data(), fds.size(), PollTimeoutMs(wake_at, 1000));
    if (rc < 0 && errno != EINTR) {
      BRAID_WARN(kBoot, "bootstrap root at {}: poll failed: {}; giving up", gather_.where(),
                 ErrnoString(errno));
      break;
    }
    if (stop_.load(std::memory_order_acquire)) break;
    if (rc > 0) {
      gather_.HandleEvents(fds, first_conn);  // before AcceptAll: fds match the connection list
      if (listening && (fds[1].revents & POLLIN)) gather_.AcceptAll(listener_.get());
    }
    gather_.CheckDeadlines();
    ranks_joined_.store(gather_.joined_count(), std::memory_order_release);
    if (gather_.done()) break;
  }
}

// ---- RootService ----------------------------------------------------------------------------

RootService::RootService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RootService::~RootService() = default;

Status RootService::Start(const std::string& bind_host, uint16_t port, double timeout_s,
                          std::unique_ptr<RootService>* out, UniqueId* id) {
  if (out == nullptr) return Status::InvalidArgument("bootstrap root: null output pointer");
  std::unique_ptr<Impl> impl;
  BRAID_RETURN_IF_ERROR(Impl::Create(bind_host, port, timeout_s, nullptr, &impl, id));
  out->reset(new RootService(std::move(impl)));
  return Status::Ok();
}

void RootService::Join() { impl_->Join(); }
int RootService::ranks_joined() const { return impl_->ranks_joined(); }

// ---- Process-owned roots --------------------------------------------------------------------
namespace {

// Roots started by GetUniqueId / BRAID_ROOT. The registry holds Impl directly (not RootService)
// so that it can ask whether a root finished. Its destructor runs at exit and stops every root.
struct ProcessRoots {
  std::mutex mu;
  std::vector<std::unique_ptr<RootService::Impl>> roots;
  // The last roots reaped, for a Create that brings their id again (EndedProcessRoot).
  struct Ended {
    uint64_t nonce;
    Clock::time_point started;
    std::string outcome;
  };
  static constexpr size_t kMaxRemembered = 64;
  std::deque<Ended> ended;
  ~ProcessRoots() {
    std::lock_guard<std::mutex> lock(mu);
    roots.clear();  // each ~Impl stops and joins its thread
  }
};

ProcessRoots& Roots() {
  // Touch the logger first so that its statics are constructed before (and destroyed after)
  // this registry, whose destructor may still see root threads running.
  static ProcessRoots* roots = [] {
    (void)log::Enabled(log::Level::kWarn, log::Subsys::kBoot);
    static ProcessRoots instance;
    return &instance;
  }();
  return *roots;
}

Status AddProcessRoot(const std::string& host, uint16_t port, double timeout_s,
                      const uint64_t* fixed_nonce, UniqueId* id) {
  std::unique_ptr<RootService::Impl> impl;
  BRAID_RETURN_IF_ERROR(RootService::Impl::Create(host, port, timeout_s, fixed_nonce, &impl, id));
  ProcessRoots& r = Roots();
  std::lock_guard<std::mutex> lock(r.mu);
  r.roots.push_back(std::move(impl));
  return Status::Ok();
}

}  // namespace

Status StartProcessRoot(double timeout_s, UniqueId* id) {
  ReapProcessRoots();
  return AddProcessRoot("", 0, timeout_s, nullptr, id);
}

Status StartProcessRootAt(const RootAddress& addr, double timeout_s, UniqueId* id) {
  ReapProcessRoots();
  return AddProcessRoot(addr.host, addr.port, timeout_s, &addr.nonce, id);
}

void ReapProcessRoots() {
  std::vector<std::unique_ptr<RootService::Impl>> done;
  {
    ProcessRoots& r = Roots();
    std::lock_guard<std::mutex> lock(r.mu);
    auto keep = std::partition(r.roots.begin(), r.roots.end(),
                               [](const auto& impl) { return !impl->finished(); });
    std::move(keep, r.roots.end(), std::back_inserter(done));
    r.roots.erase(keep, r.roots.end());
    for (const auto& impl : done) {
      r.ended.push_back({impl->nonce(), impl->started(), impl->outcome()});
      if (r.ended.size() > ProcessRoots::kMaxRemembered) r.ended.pop_front();
    }
  }
  done.clear();  // joins outside the lock; these threads already finished
}

std::string EndedProcessRoot(uint64_t nonce) {
  ProcessRoots& r = Roots();
  std::lock_guard<std::mutex> lock(r.mu);
  auto describe = [](Clock::time_point started, const std::string& outcome) {
    return fmt::format("the root this process started for it {} s ago {}",
                       FormatSeconds(std::round(std::chrono::duration<double>(Clock::now() - started).count() * 10) / 10),
                       outcome);
  };
  // A root still gathering for the same nonce serves it (BRAID_ROOT derives the nonce from
  // host:port and the job's name, so a second CreateFromEnv of the same job starts a new root
  // with the old nonce). One whose gathering ended may still be sending its answers.
  const RootService::Impl* ended = nullptr;
  std::string ended_outcome;
  for (const auto& impl : r.roots) {
    if (impl->nonce() != nonce) continue;
    std::string outcome = impl->outcome();
    if (outcome.empty()) return "";
    ended = impl.get();
    ended_outcome = std::move(outcome);
  }
  if (ended) return describe(ended->started(), ended_outcome);
  for (auto it = r.ended.rbegin(); it != r.ended.rend(); ++it)
    if (it->nonce == nonce) return describe(it->started, it->outcome);
  return "";
}

}  // namespace braid::bootstrap
