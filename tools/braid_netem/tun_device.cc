#include "tun_device.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace braid::netem {
namespace {

std::string Errno() { return std::strerror(errno); }

// Closes a descriptor at scope exit.
struct ScopedFd {
  int fd = -1;
  ~ScopedFd() {
    if (fd >= 0) close(fd);
  }
};

// Sets one IPv4 address-like field of `ifr` (SIOCSIFADDR, SIOCSIFDSTADDR, SIOCSIFNETMASK).
bool SetAddress(int sock, ifreq ifr, unsigned long request, const std::string& addr) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  if (inet_pton(AF_INET, addr.c_str(), &in.sin_addr) != 1) {
    errno = EINVAL;
    return false;
  }
  std::memcpy(&ifr.ifr_addr, &in, sizeof(in));
  return ioctl(sock, request, &ifr) == 0;
}

// Gives the device its address, /32 point-to-point peer and MTU, and brings it up. `sock` is an
// AF_INET socket created inside the device's namespace (a socket stays in the namespace it was
// created in).
bool Configure(int sock, const TunConfig& c, const std::string& where, std::string* error) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, c.dev.c_str(), IFNAMSIZ - 1);
  ifreq mtu = ifr;
  mtu.ifr_mtu = c.mtu;
  if (ioctl(sock, SIOCSIFMTU, &mtu) != 0) {
    *error = where + ": cannot set MTU " + std::to_string(c.mtu) + ": " + Errno();
    return false;
  }
  if (!SetAddress(sock, ifr, SIOCSIFADDR, c.local_addr)) {
    *error = where + ": cannot set address " + c.local_addr + ": " + Errno();
    return false;
  }
  if (!SetAddress(sock, ifr, SIOCSIFNETMASK, "255.255.255.255")) {
    *error = where + ": cannot set netmask /32: " + Errno();
    return false;
  }
  if (!SetAddress(sock, ifr, SIOCSIFDSTADDR, c.peer_addr)) {
    *error = where + ": cannot set peer address " + c.peer_addr + ": " + Errno();
    return false;
  }
  ifreq flags = ifr;
  if (ioctl(sock, SIOCGIFFLAGS, &flags) != 0) {
    *error = where + ": cannot read interface flags: " + Errno();
    return false;
  }
  flags.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(sock, SIOCSIFFLAGS, &flags) != 0) {
    *error = where + ": cannot bring the interface up: " + Errno();
    return false;
  }
  return true;
}

// Creates the TUN device in the current network namespace and configures it.
bool CreateHere(const TunConfig& c, const std::string& where, int* fd_out, std::string* error) {
  ScopedFd tun{open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)};
  if (tun.fd < 0) {
    *error = where + ": cannot open /dev/net/tun: " + Errno();
    return false;
  }
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, c.dev.c_str(), IFNAMSIZ - 1);
  if (ioctl(tun.fd, TUNSETIFF, &ifr) != 0) {
    *error = where + ": TUNSETIFF failed (does the device exist already?): " + Errno();
    return false;
  }
  ScopedFd sock{socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  if (sock.fd < 0) {
    *error = where + ": cannot create a configuration socket: " + Errno();
    return false;
  }
  if (!Configure(sock.fd, c, where, error)) return false;
  *fd_out = std::exchange(tun.fd, -1);
  return true;
}

}  // namespace

std::string NetnsPath(const std::string& netns) {
  return netns.find('/') == std::string::npos ? "/run/netns/" + netns : netns;
}

bool TunDevice::Open(const TunConfig& config, TunDevice* out, std::string* error) {
  const std::string where = config.dev + " in netns " + config.netns;
  ScopedFd home{open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)};
  if (home.fd < 0) {
    *error = "cannot open /proc/self/ns/net: " + Errno();
    return false;
  }
  ScopedFd target{open(NetnsPath(config.netns).c_str(), O_RDONLY | O_CLOEXEC)};
  if (target.fd < 0) {
    *error = "netns " + config.netns + ": cannot open " + NetnsPath(config.netns) + ": " + Errno();
    return false;
  }
  if (setns(target.fd, CLONE_NEWNET) != 0) {
    *error = "netns " + config.netns + ": setns failed (root needed): " + Errno();
    return false;
  }
  int fd = -1;
  bool ok = CreateHere(config, where, &fd, error);
  // Always go home: the next device belongs to another namespace, and a process left in the
  // wrong one would create it there.
  if (setns(home.fd, CLONE_NEWNET) != 0) {
    if (fd >= 0) close(fd);
    *error = "cannot return to the original network namespace: " + Errno();
    return false;
  }
  if (!ok) return false;
  TunDevice device;
  device.fd_ = fd;
  device.name_ = where;
  *out = std::move(device);
  return true;
}

TunDevice::TunDevice(TunDevice&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), name_(std::move(other.name_)) {}

TunDevice& TunDevice::operator=(TunDevice&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
  }
  return *this;
}

TunDevice::~TunDevice() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace braid::netem
