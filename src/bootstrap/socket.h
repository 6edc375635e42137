// Small POSIX TCP helpers shared by the rendezvous root and its clients, and the bootstrap wire
// format. Every socket here is non-blocking; waits go through poll() with an absolute deadline so
// that no peer can block us past the caller's timeout.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "braid/status.h"

namespace braid::bootstrap {

// ---- Wire format (all integers little-endian, fixed width) ---------------------------------
//
// Hello, client -> root:
//   u64 magic (kUniqueIdMagic) | u64 nonce | u32 protocol (kBootstrapProtocol) | i32 rank |
//   i32 nranks | u32 timeout_ms (how long the client waits) | u32 blob_len | blob bytes
// Reply, root -> client, then the root closes the connection:
//   u64 magic (kReplyMagic) | u32 code (WireCode) | u32 count | payload
//   code == kOk:  count = nranks; payload = nranks x (u32 len | len bytes), in rank order
//   otherwise:    count = message length (<= kMaxReplyMessageBytes); payload = message text
inline constexpr size_t kHelloHeaderBytes = 36;
// "BR" and the version of the hello and of the blobs braid exchanges through it: a build that
// speaks another is refused by name (its blobs would not decode). Version 1 had no such field;
// version 3's blobs start with a magic and the build's identity (runtime/process_blob.h).
inline constexpr uint32_t kBootstrapProtocol = 0x42520003;
// The most ranks one rendezvous takes (transport::kMaxWorldRanks).
inline constexpr int kMaxRendezvousRanks = 1 << 16;
inline constexpr size_t kReplyHeaderBytes = 16;
inline constexpr uint64_t kReplyMagic = 0x4252414944525059ull;  // "BRAIDRPY"
inline constexpr size_t kMaxReplyMessageBytes = 4096;

enum class WireCode : uint32_t {
  kOk = 0,
  kInvalidArgument = 1,  // bad rank / nranks / blob in the hello
  kInvalidUsage = 2,     // rank already joined
  kTimeout = 3,          // the root gave up waiting for the missing ranks
  kOther = 4,            // anything else (mapped to RemoteError)
};

struct HelloHeader {
  uint64_t magic = 0, nonce = 0;
  uint32_t protocol = 0;
  int32_t rank = -1, nranks = 0;
  uint32_t timeout_ms = 0, blob_len = 0;
};
// The hello's bytes (header and blob), and its header read back from kHelloHeaderBytes bytes.
std::string EncodeHello(const HelloHeader& header, const std::string& blob);
HelloHeader DecodeHelloHeader(const char* bytes);

void PutU32(std::string* out, uint32_t v);
void PutU64(std::string* out, uint64_t v);
uint32_t GetU32(const char* p);
uint64_t GetU64(const char* p);

// ---- Time ----------------------------------------------------------------------------------
using Clock = std::chrono::steady_clock;
// now + seconds, clamped so that absurd timeouts cannot overflow the clock.
Clock::time_point DeadlineAfter(double seconds);
// Milliseconds until `deadline` rounded up (for poll()), 0 if it passed; at most `cap_ms`.
int PollTimeoutMs(Clock::time_point deadline, int cap_ms = 1 << 30);
// "5", "0.5", "300": seconds as written in messages.
std::string FormatSeconds(double seconds);

// ---- File descriptors and addresses --------------------------------------------------------
// Owns a file descriptor; closes it on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.Release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release();
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

std::string ErrnoString(int err);
// "10.0.0.1:4000" or "[fe80::1]:4000".
std::string FormatHostPort(const std::string& host, uint16_t port);
// Numeric "host:port" of a socket address (as FormatHostPort).
std::string SockaddrString(const sockaddr* sa);
// Resolves `host` (numeric or a name; IPv4 results preferred) into a socket address with `port`.
// `numeric_host`, if not null, receives the numeric form. Errors name the host and the reason.
Status ResolveHost(const std::string& host, uint16_t port, sockaddr_storage* addr,
                   socklen_t* addr_len, std::string* numeric_host);
// 64 random bits from the kernel (getrandom), falling back to std::random_device.
uint64_t RandomU64();

// ---- Deadline-bounded I/O on a non-blocking socket -----------------------------------------
enum class IoResult { kOk, kClosed, kTimeout, kError };
// Sends all `len` bytes (MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE).
IoResult SendAll(int fd, const char* data, size_t len, Clock::time_point deadline, int* err);
// Receives exactly `len` bytes; *got says how many arrived before a close/timeout/error.
IoResult RecvAll(int fd, char* data, size_t len, Clock::time_point deadline, size_t* got,
                 int* err);

}  // namespace braid::bootstrap
