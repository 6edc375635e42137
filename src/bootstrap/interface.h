// Which address the rendezvous root advertises in a unique id when it listens on every interface
// (Comm::GetUniqueId). By default the first up, non-loopback IPv4 interface; BRAID_SOCKET_IFNAME
// (or NCCL_SOCKET_IFNAME) chooses, as NCCL's variable does:
//   "eth"        interfaces whose name starts with eth        "eth0,ib"  either prefix
//   "=eth0"      exactly eth0 (comma list of exact names)     "^docker"  any but these prefixes
//   "^=eth0"     any but exactly eth0
// A list without '^' may name loopback; otherwise loopback is skipped.
#pragma once

#include <string>
#include <vector>

#include "braid/status.h"

namespace braid::bootstrap {

struct InterfaceAddress {
  std::string name;  // "eth0"
  std::string ipv4;  // "10.0.0.1"
  bool loopback = false;
};

// Every up interface with an IPv4 address, in the kernel's order.
std::vector<InterfaceAddress> UpIPv4Interfaces();

// Whether interface `name` is selected by `spec` (the syntax above; "" selects all).
bool InterfaceSelected(const std::string& spec, const std::string& name, bool loopback);

// A user's setting must name at least one interface: "^", "=" or "," alone would read as "any"
// (InvalidArgument naming the variable and the value).
Status CheckIfnameSetting(const std::string& spec);

// The first interface of `up` that `spec` selects. InvalidArgument names the spec and every interface
// there is, so that a typo is easy to see.
Status PickInterface(const std::string& spec, const std::vector<InterfaceAddress>& up,
                     InterfaceAddress* out);

// The address to advertise: BRAID_SOCKET_IFNAME's pick (an error if it matches nothing), else the
// first up non-loopback IPv4 address, else 127.0.0.1.
Status AdvertisedAddress(std::string* ipv4);

}  // namespace braid::bootstrap
