// UniqueId layout (128 bytes; integers little-endian, the address in network byte order):
//   [0, 8)   u64 magic (kUniqueIdMagic)
//   [8, 16)  u64 nonce
//   [16, 18) u16 address family: 4 = IPv4, 6 = IPv6 (our own values: AF_* differ across OSes)
//   [18, 20) u16 TCP port
//   [20, 36) address: 4 bytes (IPv4) or 16 bytes (IPv6)
//   [36, 52) IPv6 scope: the interface name of a link-local address ("eth0" of fe80::1%eth0),
//            NUL-padded; all zero without one (and in ids of earlier builds)
//   [52, 128) zero
#include "bootstrap/unique_id.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <cstring>

#include "bootstrap/socket.h"

namespace braid::bootstrap {
namespace {

constexpr size_t kMagicOffset = 0;
constexpr size_t kNonceOffset = 8;
constexpr size_t kFamilyOffset = 16;
constexpr size_t kPortOffset = 18;
constexpr size_t kAddressOffset = 20;
constexpr size_t kScopeOffset = 36;
constexpr size_t kScopeBytes = 16;  // IF_NAMESIZE on Linux, the NUL included
constexpr uint16_t kFamilyIPv4 = 4;
constexpr uint16_t kFamilyIPv6 = 6;

void PutU16At(char* p, uint16_t v) {
  p[0] = static_cast<char>(v & 0xff);
  p[1] = static_cast<char>(v >> 8);
}

uint16_t GetU16At(const char* p) {
  return static_cast<uint16_t>(static_cast<unsigned char>(p[0]) |
                               (static_cast<unsigned char>(p[1]) << 8));
}

void PutU64At(char* p, uint64_t v) {
  std::string s;
  PutU64(&s, v);
  std::memcpy(p, s.data(), 8);
}

}  // namespace

UniqueId EncodeUniqueId(const RootAddress& addr) {
  UniqueId id;
  std::memset(id.bytes, 0, sizeof(id.bytes));
  PutU64At(id.bytes + kMagicOffset, kUniqueIdMagic);
  PutU64At(id.bytes + kNonceOffset, addr.nonce);
  PutU16At(id.bytes + kPortOffset, addr.port);

  std::string host = addr.host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    PutU16At(id.bytes + kFamilyOffset, kFamilyIPv4);
    std::memcpy(id.bytes + kAddressOffset, &v4, sizeof(v4));
    return id;
  }
  // "fe80::1%eth0": the address and its interface's name (ResolveHost writes scoped addresses so).
  const size_t percent = host.find('%');
  const std::string scope = percent == std::string::npos ? "" : host.substr(percent + 1);
  if (inet_pton(AF_INET6, host.substr(0, percent).c_str(), &v6) == 1 && scope.size() < kScopeBytes) {
    PutU16At(id.bytes + kFamilyOffset, kFamilyIPv6);
    std::memcpy(id.bytes + kAddressOffset, &v6, sizeof(v6));
    std::memcpy(id.bytes + kScopeOffset, scope.data(), scope.size());
    return id;
  }
  if (percent != std::string::npos) return id;  // not an address with a scope ResolveHost made
  // Not numeric: resolve it. On failure the family stays 0 and DecodeUniqueId says so.
  sockaddr_storage ss{};
  socklen_t len = 0;
  std::string numeric;
  if (ResolveHost(host, addr.port, &ss, &len, &numeric).ok()) {
    RootAddress resolved = addr;
    resolved.host = numeric;
    return EncodeUniqueId(resolved);
  }
  return id;
}

Status DecodeUniqueId(const UniqueId& id, RootAddress* out) {
  uint64_t magic = GetU64(id.bytes + kMagicOffset);
  if (magic != kUniqueIdMagic) {
    return Status::InvalidArgument(fmt::format(
        "unique id has wrong magic 0x{:016x}: not created by braid GetUniqueId or corrupted",
        magic));
  }
  uint16_t family = GetU16At(id.bytes + kFamilyOffset);
  uint16_t port = GetU16At(id.bytes + kPortOffset);
  char text[INET6_ADDRSTRLEN] = {0};
  if (family == kFamilyIPv4) {
    inet_ntop(AF_INET, id.bytes + kAddressOffset, text, sizeof(text));
  } else if (family == kFamilyIPv6) {
    inet_ntop(AF_INET6, id.bytes + kAddressOffset, text, sizeof(text));
  } else {
    return Status::InvalidArgument(fmt::format(
        "unique id has unknown address family {} (expected 4 or 6): corrupted, or its root "
        "host could not be resolved",
        family));
  }
  if (port == 0) return Status::InvalidArgument("unique id has port 0: corrupted");
  out->host = text;
  const char* scope = id.bytes + kScopeOffset;
  const size_t scope_length = strnlen(scope, kScopeBytes);
  if (family == kFamilyIPv6 && scope_length > 0) {
    if (scope_length == kScopeBytes) return Status::InvalidArgument("unique id has an unterminated IPv6 scope: corrupted");
    out->host.push_back('%');
    out->host.append(scope, scope_length);
  }
  out->port = port;
  out->nonce = GetU64(id.bytes + kNonceOffset);
  return Status::Ok();
}

Status ParseHostPort(const std::string& text, std::string* host, uint16_t* port) {
  const std::string expected = "expected host:port or [IPv6 address]:port";
  std::string h;
  std::string port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos)
      return Status::InvalidArgument(fmt::format("'{}' has no closing ']' ({})", text, expected));
    h = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':')
      return Status::InvalidArgument(fmt::format("'{}' has no ':port' ({})", text, expected));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos)
      return Status::InvalidArgument(fmt::format("'{}' has no ':port' ({})", text, expected));
    h = text.substr(0, colon);
    if (h.find(':') != std::string::npos) {
      return Status::InvalidArgument(fmt::format(
          "'{}' is ambiguous: write an IPv6 address in brackets, e.g. '[::1]:4000'", text));
    }
    port_text = text.substr(colon + 1);
  }
  if (h.empty())
    return Status::InvalidArgument(fmt::format("'{}' has no host ({})", text, expected));
  if (port_text.empty())
    return Status::InvalidArgument(fmt::format("'{}' has an empty port ({})", text, expected));
  if (port_text.size() > 9 || port_text.find_first_not_of("0123456789") != std::string::npos) {
    bool digits = port_text.find_first_not_of("0123456789") == std::string::npos;
    if (!digits)
      return Status::InvalidArgument(
          fmt::format("'{}': port '{}' is not a number", text, port_text));
    return Status::InvalidArgument(
        fmt::format("'{}': port {} out of range [1, 65535]", text, port_text));
  }
  long value = std::stol(port_text);  // <= 9 digits: cannot throw
  if (value < 1 || value > 65535) {
    return Status::InvalidArgument(
        fmt::format("'{}': port {} out of range [1, 65535]", text, value));
  }
  sockaddr_storage ss{};
  socklen_t len = 0;
  std::string numeric;
  Status s = ResolveHost(h, static_cast<uint16_t>(value), &ss, &len, &numeric);
  if (!s.ok()) return Status(s.code(), fmt::format("'{}': {}", text, s.message()));
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr) && in6->sin6_scope_id == 0) {
      return Status::InvalidArgument(fmt::format(
          "'{}': {} is a link-local address, which needs its interface: write [{}%eth0]:{} (with "
          "the interface that reaches the other hosts)", text, numeric, numeric, value));
    }
  }
  *host = numeric;
  *port = static_cast<uint16_t>(value);
  return Status::Ok();
}

}  // namespace braid::bootstrap
