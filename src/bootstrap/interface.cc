#include "bootstrap/interface.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <sstream>

#include "core/env.h"
#include "core/log.h"

namespace braid::bootstrap {
namespace {

// BRAID_SOCKET_IFNAME / NCCL_SOCKET_IFNAME: "^" excludes, "=" matches whole names (else
// prefixes), then a comma-separated list.
struct IfnameSpec {
  bool exclude = false, exact = false;
  std::vector<std::string> names;
};

IfnameSpec ParseIfnameSpec(const std::string& spec) {
  IfnameSpec out;
  std::string rest = spec;
  out.exclude = !rest.empty() && rest.front() == '^';
  if (out.exclude) rest.erase(0, 1);
  out.exact = !rest.empty() && rest.front() == '=';
  if (out.exact) rest.erase(0, 1);
  std::stringstream stream(rest);
  for (std::string part; std::getline(stream, part, ',');)
    if (!part.empty()) out.names.push_back(part);
  return out;
}

}  // namespace

std::vector<InterfaceAddress> UpIPv4Interfaces() {
  std::vector<InterfaceAddress> found;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return found;
  for (const ifaddrs* ifa = list; ifa; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr || ifa->ifa_addr->sa_family != AF_INET) continue;
    if ((ifa->ifa_flags & IFF_UP) == 0) continue;
    char text[INET_ADDRSTRLEN] = {0};
    const auto* in = reinterpret_cast<const sockaddr_in*>(ifa->ifa_addr);
    if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)))
      found.push_back({ifa->ifa_name, text, (ifa->ifa_flags & IFF_LOOPBACK) != 0});
  }
  freeifaddrs(list);
  return found;
}

bool InterfaceSelected(const std::string& spec, const std::string& name, bool loopback) {
  const IfnameSpec parsed = ParseIfnameSpec(spec);
  if (parsed.names.empty()) return !loopback;  // "": any non-loopback interface
  bool listed = false;
  for (const std::string& n : parsed.names)
    listed = listed || (parsed.exact ? name == n : name.compare(0, n.size(), n) == 0);
  return parsed.exclude ? !listed && !loopback : listed;
}

Status CheckIfnameSetting(const std::string& spec) {
  if (!ParseIfnameSpec(spec).names.empty()) return Status::Ok();
  return Status::InvalidArgument(fmt::format("{}='{}' names no interface (e.g. eth0, ^docker,lo or =ib0)",
                                             env::VariableName("SOCKET_IFNAME"), spec));
}

Status PickInterface(const std::string& spec, const std::vector<InterfaceAddress>& up,
                     InterfaceAddress* out) {
  for (const InterfaceAddress& i : up) {
    if (InterfaceSelected(spec, i.name, i.loopback)) {
      *out = i;
      return Status::Ok();
    }
  }
  std::string have;
  for (const InterfaceAddress& i : up) have += fmt::format("{}{} ({})", have.empty() ? "" : ", ", i.name, i.ipv4);
  return Status::InvalidArgument(fmt::format("{}='{}' selects none of the up IPv4 interfaces: {}",
                                             env::VariableName("SOCKET_IFNAME"), spec,
                                             have.empty() ? "there are none" : have));
}

Status AdvertisedAddress(std::string* ipv4) {
  std::vector<InterfaceAddress> up = UpIPv4Interfaces();
  std::optional<std::string> spec = env::Get("SOCKET_IFNAME");
  InterfaceAddress pick;
  if (spec) {
    BRAID_RETURN_IF_ERROR(CheckIfnameSetting(*spec));
    BRAID_RETURN_IF_ERROR(PickInterface(*spec, up, &pick));
  } else if (!PickInterface("", up, &pick).ok()) {
    pick = {"lo", "127.0.0.1", true};  // no network at all: only this host can join
  }
  BRAID_INFO(kBoot, "bootstrap root advertises {} ({}{})", pick.ipv4, pick.name,
             spec ? ", chosen by " + env::VariableName("SOCKET_IFNAME") + "=" + *spec : "");
  *ipv4 = pick.ipv4;
  return Status::Ok();
}

}  // namespace braid::bootstrap
