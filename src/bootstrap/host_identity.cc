#include "bootstrap/host_identity.h"

#include <unistd.h>

#include <fstream>

namespace braid::bootstrap {
namespace {

// The target of a /proc/self/ns/* link, e.g. "net:[4026531840]"; "" if unreadable.
std::string NamespaceOf(const char* link) {
  char target[64] = {0};
  ssize_t n = readlink(link, target, sizeof(target) - 1);
  return n > 0 ? std::string(target, size_t(n)) : std::string();
}

// The random id the kernel draws at boot (a UUID); "" if unreadable.
std::string BootId() {
  std::string id;
  std::ifstream("/proc/sys/kernel/random/boot_id") >> id;
  return id;
}

}  // namespace

std::string Hostname() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return host;
}

std::string HostIdentity(const std::string& hostname, const std::string& boot_id,
                         const std::string& net_ns, const std::string& pid_ns) {
  std::string id = hostname;
  if (!boot_id.empty()) id += " boot:" + boot_id;
  if (!net_ns.empty()) id += " " + net_ns;
  if (!pid_ns.empty()) id += " " + pid_ns;
  return id;
}

std::string LocalHostIdentity() {
  return HostIdentity(Hostname(), BootId(), NamespaceOf("/proc/self/ns/net"),
                      NamespaceOf("/proc/self/ns/pid"));
}

}  // namespace braid::bootstrap
