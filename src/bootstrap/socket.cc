#include "bootstrap/socket.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <random>

namespace braid::bootstrap {

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string EncodeHello(const HelloHeader& h, const std::string& blob) {
  std::string out;
  out.reserve(kHelloHeaderBytes + blob.size());
  PutU64(&out, h.magic);
  PutU64(&out, h.nonce);
  PutU32(&out, h.protocol);
  PutU32(&out, static_cast<uint32_t>(h.rank));
  PutU32(&out, static_cast<uint32_t>(h.nranks));
  PutU32(&out, h.timeout_ms);
  PutU32(&out, h.blob_len);
  out.append(blob);
  return out;
}

HelloHeader DecodeHelloHeader(const char* p) {
  HelloHeader h;
  h.magic = GetU64(p);
  h.nonce = GetU64(p + 8);
  h.protocol = GetU32(p + 16);
  h.rank = static_cast<int32_t>(GetU32(p + 20));
  h.nranks = static_cast<int32_t>(GetU32(p + 24));
  h.timeout_ms = GetU32(p + 28);
  h.blob_len = GetU32(p + 32);
  return h;
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

Clock::time_point DeadlineAfter(double seconds) {
  // ~115 days: far beyond any sensible timeout, far below steady_clock's range.
  constexpr double kMaxSeconds = 1e7;
  if (!(seconds > 0)) seconds = 0;  // also maps NaN to "now"
  seconds = std::min(seconds, kMaxSeconds);
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(seconds));
}

int PollTimeoutMs(Clock::time_point deadline, int cap_ms) {
  auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  // Round up so that poll() does not wake just before the deadline and spin.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<int64_t>(ms, cap_ms));
}

std::string FormatSeconds(double seconds) { return fmt::format("{:g}", seconds); }

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) Reset(other.Release());
  return *this;
}

int Fd::Release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void Fd::Reset(int fd) {
  // close() is not retried on EINTR: on Linux the descriptor is released either way.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::string ErrnoString(int err) {
  char buf[256];
  // GNU strerror_r returns the message pointer (possibly not buf).
  return std::string(strerror_r(err, buf, sizeof(buf)));
}

std::string FormatHostPort(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

std::string SockaddrString(const sockaddr* sa) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    return FormatHostPort(text, ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    return FormatHostPort(text, ntohs(in6->sin6_port));
  }
  return fmt::format("(address family {})", sa->sa_family);
}

Status ResolveHost(const std::string& host, uint16_t port, sockaddr_storage* addr,
                   socklen_t* addr_len, std::string* numeric_host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (rc != 0 || result == nullptr) {
    std::string why = rc == EAI_SYSTEM ? ErrnoString(errno) : gai_strerror(rc);
    if (result) freeaddrinfo(result);
    return Status::InvalidArgument(fmt::format("cannot resolve host '{}': {}", host, why));
  }
  // Prefer IPv4: the root advertises IPv4 by default and "localhost" may list ::1 first.
  const addrinfo* pick = nullptr;
  for (const addrinfo* ai = result; ai; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      pick = ai;
      break;
    }
    if (ai->ai_family == AF_INET6 && pick == nullptr) pick = ai;
  }
  if (pick == nullptr) {
    freeaddrinfo(result);
    return Status::InvalidArgument(
        fmt::format("host '{}' has no IPv4 or IPv6 address", host));
  }
  std::memset(addr, 0, sizeof(*addr));
  std::memcpy(addr, pick->ai_addr, pick->ai_addrlen);
  *addr_len = pick->ai_addrlen;
  freeaddrinfo(result);
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr->ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(addr);
    in->sin_port = htons(port);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(addr);
    in6->sin6_port = htons(port);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    // A link-local address means nothing without its interface ("fe80::1%eth0"): keep the
    // interface's name, which every host resolves to its own index (indices differ by host).
    char name[IF_NAMESIZE] = {0};
    if (in6->sin6_scope_id != 0 && if_indextoname(in6->sin6_scope_id, name) != nullptr) {
      if (numeric_host) *numeric_host = std::string(text) + "%" + name;
      return Status::Ok();
    }
  }
  if (numeric_host) *numeric_host = text;
  return Status::Ok();
}

uint64_t RandomU64() {
  uint64_t v = 0;
  char* p = reinterpret_cast<char*>(&v);
  size_t got = 0;
  while (got < sizeof(v)) {
    ssize_t n = getrandom(p + got, sizeof(v) - got, 0);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // e.g. ENOSYS in an old sandbox
    }
  }
  if (got == sizeof(v)) return v;
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

namespace {

// Waits for `events` on fd until the deadline. Returns kOk when ready, kTimeout or kError.
IoResult WaitFor(int fd, short events, Clock::time_point deadline, int* err) {
  while (true) {
    pollfd p{fd, events, 0};
    int rc = poll(&p, 1, PollTimeoutMs(deadline));
    if (rc > 0) return IoResult::kOk;  // readiness or an error condition: the I/O call reports it
    if (rc == 0) return IoResult::kTimeout;
    if (errno == EINTR) continue;
    *err = errno;
    return IoResult::kError;
  }
}

}  // namespace

IoResult SendAll(int fd, const char* data, size_t len, Clock::time_point deadline, int* err) {
  size_t sent = 0;
  while (sent < len) {
    ssize_t n = send(fd, data + sent, len - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      IoResult r = WaitFor(fd, POLLOUT, deadline, err);
      if (r != IoResult::kOk) return r;
      continue;
    }
    *err = n < 0 ? errno : EPIPE;
    return (*err == EPIPE || *err == ECONNRESET) ? IoResult::kClosed : IoResult::kError;
  }
  return IoResult::kOk;
}

IoResult RecvAll(int fd, char* data, size_t len, Clock::time_point deadline, size_t* got,
                 int* err) {
  *got = 0;
  while (*got < len) {
    ssize_t n = recv(fd, data + *got, len - *got, 0);
    if (n > 0) {
      *got += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return IoResult::kClosed;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      IoResult r = WaitFor(fd, POLLIN, deadline, err);
      if (r != IoResult::kOk) return r;
      continue;
    }
    *err = errno;
    return errno == ECONNRESET ? IoResult::kClosed : IoResult::kError;
  }
  return IoResult::kOk;
}

}  // namespace braid::bootstrap
