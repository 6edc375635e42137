// Which ranks share a host, for the UCX transport's locality decisions (shared-memory lane and
// pid probes for same-host peers). A hostname alone is not enough:
// - ranks in different network namespaces of one machine (the tests/net harness, containers)
//   must be treated as different hosts: they reach each other only through the network;
// - a pid probe (kill(pid, 0)) only means something inside the prober's pid namespace;
// - two machines may share a hostname (cloned VMs, containers); the kernel's boot id tells them
//   apart.
// So the identity is the hostname plus the boot id and the network and pid namespaces. Messages
// keep naming the plain hostname.
#pragma once

#include <string>

namespace braid::bootstrap {

// "vm boot:0d3f... net:[4026531840] pid:[4026531836]": this process's identity; parts the kernel
// does not expose (no /proc) are left out.
std::string LocalHostIdentity();

// The identity from its parts (empty parts are left out); LocalHostIdentity reads them.
std::string HostIdentity(const std::string& hostname, const std::string& boot_id,
                         const std::string& net_ns, const std::string& pid_ns);

// This machine's hostname (gethostname).
std::string Hostname();

}  // namespace braid::bootstrap
