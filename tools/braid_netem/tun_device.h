// A TUN device created inside a named network namespace: the kernel of that namespace routes IP
// packets for the peer address into the device, where braid-netem reads them, and braid-netem
// writes the packets coming from the other namespace back into it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace braid::netem {

struct TunConfig {
  std::string netns;       // a name under /run/netns (ip netns add) or a path to a netns file
  std::string dev;         // interface name inside that namespace, e.g. "bt0"
  std::string local_addr;  // IPv4 address of this end, e.g. "10.88.0.1"
  std::string peer_addr;   // IPv4 address of the other end (a point-to-point /32 peer)
  int mtu = 1500;          // bytes of IP packet
};

// Owns the TUN file descriptor (non-blocking; IFF_TUN | IFF_NO_PI: each read or write is exactly
// one IP packet without a prefix). The device disappears when the descriptor is closed.
class TunDevice {
 public:
  // Enters the namespace, creates and configures the device (address, peer, MTU, up), and
  // returns to the namespace the process started in. On failure returns false and says why in
  // *error (naming the namespace, device and step).
  static bool Open(const TunConfig& config, TunDevice* out, std::string* error);

  TunDevice() = default;
  TunDevice(TunDevice&& other) noexcept;
  TunDevice& operator=(TunDevice&& other) noexcept;
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;
  ~TunDevice();

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }  // "bt0 in netns A", for messages

 private:
  int fd_ = -1;
  std::string name_;
};

// The path of a namespace argument: "A" -> "/run/netns/A"; anything with a '/' is a path already.
std::string NetnsPath(const std::string& netns);

}  // namespace braid::netem
